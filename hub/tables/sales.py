"""Baskets paid at an outlet: the request and the figures booked, kept for repeats and refunds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from hub.tables.types import UTCDateTime, created


class Basket(SQLModel, table=True):
    __tablename__ = "baskets"
    id: str = Field(primary_key=True)
    idempotency_key: str = Field(unique=True)
    card_uid: str = Field(index=True)
    outlet_id: str = Field(foreign_key="outlets.id", index=True)
    request: dict = Field(sa_column=Column(JSON, nullable=False))
    result: dict = Field(sa_column=Column(JSON, nullable=False))
    status: str = "paid"  # paid, refunded
    refund: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: dt.datetime = created()
    refunded_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
