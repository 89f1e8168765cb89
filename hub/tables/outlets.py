"""Sites (a park), their outlets (a bar, a shop, a slide) with their holidays, and the outlets'
counters (a till, a payment terminal, a kiosk)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.tables.types import created


class Site(SQLModel, table=True):
    __tablename__ = "sites"
    id: str = Field(primary_key=True)
    name: str = ""
    tz: str = "Europe/Zurich"  # local days for weekday/holiday rules and ON_DATE expiry
    created_at: dt.datetime = created()


class Outlet(SQLModel, table=True):
    __tablename__ = "outlets"
    id: str = Field(primary_key=True)
    site_id: str = Field(foreign_key="sites.id", index=True)
    name: str = ""
    kind: str = "shop"  # bar, shop, slide, partner, machine …
    ledger: str
    revenue_account_id: int = Field(foreign_key="accounts.id")
    created_at: dt.datetime = created()


class Holiday(SQLModel, table=True):
    """A store's (outlet's) holiday calendar, read by the weekday/holiday condition of bonus rules."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("outlet_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    outlet_id: str = Field(foreign_key="outlets.id", index=True)
    day: dt.date = Field(sa_column=Column(Date, nullable=False))


class Counter(SQLModel, table=True):
    """A counter of an outlet: a cash register, a payment terminal or a kiosk, by which a till
    identifies itself and names where a basket was paid."""

    __tablename__ = "counters"
    id: str = Field(primary_key=True)
    outlet_id: str = Field(foreign_key="outlets.id", index=True)
    name: str = ""
    kind: str = "till"  # till, terminal, kiosk
    active: bool = True
    created_at: dt.datetime = created()
