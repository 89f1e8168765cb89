"""The tables of machines in the loyalty engine (see hub.machine_loyalty).

Like hub.loyalty_tables this module imports nothing that imports hub.db.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from hub.models import UTCDateTime, utcnow


class MachineSetting(SQLModel, table=True):
    """A controller taking part in the loyalty engine: the outlet it sells for, the catalogue article
    its taps are (for card discounts and bonus rules) and the gift item it may hand out for a gift."""
    __tablename__ = "machine_settings"
    device_id: str = Field(sa_column=Column(String, ForeignKey("devices.id"), primary_key=True))
    outlet_id: str = Field(foreign_key="outlets.id")
    article_id: str = Field(foreign_key="articles.id")
    gift_item: str | None = Field(default=None, foreign_key="gift_items.id")
    updated_at: dt.datetime = Field(default_factory=utcnow,
                                    sa_column=Column(UTCDateTime(), nullable=False))


class MachineHold(SQLModel, table=True):
    """What a hold at a machine with settings needs at its report, fixed at the tap: the outlet and
    article, the price before and after the card's discount, a gift held instead of money, and
    whether the tap was a turnstile's exit."""
    __tablename__ = "machine_holds"
    hold_id: str = Field(primary_key=True)
    card_uid: str
    outlet_id: str
    site_id: str
    article_id: str
    gross_unit_price: int = Field(sa_column=Column(BigInteger, nullable=False))
    discount_percent: str  # a decimal, kept exact as text
    gift_item: str | None = None  # set: the tap holds one unit of this gift instead of money
    exit: bool = False
