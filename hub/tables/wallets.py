"""The top-up bonus tiers (seed 002) of each money ledger: the coalition's default list, and the
lists of the sites that have their own."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from hub.tables.types import created


class TopupTier(SQLModel, table=True):
    """One tier; `site_id` null: a tier of the default list, for sites without their own."""

    __tablename__ = "topup_tiers"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True)
    site_id: str | None = Field(default=None, sa_column=Column(String, ForeignKey("sites.id"), index=True))
    min_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    percent: str  # a decimal, kept exact as text


class TopupTierSite(SQLModel, table=True):
    """A site with its own list of tiers on a ledger (possibly empty: no bonus there); a site
    without a row here uses the default list."""

    __tablename__ = "topup_tier_sites"
    site_id: str = Field(sa_column=Column(String, ForeignKey("sites.id"), primary_key=True))
    ledger: str = Field(primary_key=True)
    updated_at: dt.datetime = created()
