"""The catalogue: product groups and articles (what baskets, discounts and point rules name)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel


class ProductGroup(SQLModel, table=True):
    __tablename__ = "product_groups"
    id: str = Field(primary_key=True)
    name: str = ""


class Article(SQLModel, table=True):
    __tablename__ = "articles"
    id: str = Field(primary_key=True)
    name: str = ""
    product_group_id: str | None = Field(default=None, foreign_key="product_groups.id")
    revenue_group: str | None = None
    topping_group_id: str | None = None
    price: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
