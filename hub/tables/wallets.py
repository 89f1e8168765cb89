"""The top-up bonus tiers (seed 002) of each money ledger."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel


class TopupTier(SQLModel, table=True):
    __tablename__ = "topup_tiers"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True)
    min_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    percent: str  # a decimal, kept exact as text
