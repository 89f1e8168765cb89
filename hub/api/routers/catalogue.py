"""The catalogue (/api/v1/product-groups, /articles) baskets are priced from, hub.loyalty.catalogue."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, DbDep
from hub.api.fields import Minor, Slug
from hub.loyalty import catalogue

router = APIRouter(tags=["catalogue"])


class ProductGroupIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)


class ArticleIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)
    product_group_id: Slug | None = None
    revenue_group: Slug | None = Field(None, description="Umsatzgruppe, selected by card discounts")
    topping_group_id: Slug | None = Field(None, description="for toppings: their topping group")
    price: Minor = Field(description="minor units")


@router.post("/product-groups", response_model=ProductGroupIn, status_code=201)
def create_group(_caller: Allowed.loyalty_write, group: ProductGroupIn, db: DbDep):
    return db.write(catalogue.create_group, group.id, group.name, scope=COALITION)


@router.get("/product-groups", response_model=list[ProductGroupIn])
def list_groups(_caller: Allowed.loyalty_read, db: DbDep):
    return db.read(catalogue.list_groups)


@router.post("/articles", response_model=ArticleIn, status_code=201)
def create_article(_caller: Allowed.loyalty_write, article: ArticleIn, db: DbDep):
    return db.write(catalogue.create_article, article.model_dump(), scope=COALITION)


@router.get("/articles", response_model=list[ArticleIn])
def list_articles(_caller: Allowed.loyalty_read, db: DbDep):
    return db.read(catalogue.list_articles)
