"""What taps leave behind: holds, the answer to each device request, a device's loyalty settings and
its holds' loyalty facts, offline vends and kiosk top-ups."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.core.clock import utcnow
from hub.tables.types import UTCDateTime, created, money


class Hold(SQLModel, table=True):
    """State of a tap's pending transfer; it is resolved (posted/voided/expired) once."""

    __tablename__ = "holds"
    id: str = Field(primary_key=True)  # the pending transfer's id
    device_id: str = Field(index=True)
    request_id: str
    card_uid: str
    wallet_account_id: int = Field(index=True)  # a card's history reads its wallet's taps
    machine_account_id: int
    units: int
    unit_price: int = money()
    amount: int = money()
    status: str = Field(default="pending", index=True)  # pending, posted, voided, expired
    posted: int = money()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class DeviceRequest(SQLModel, table=True):
    """The answer given to each device request id, so a repeat gets the same answer, and the
    fingerprint of the request it answered (kind and body), so that the same id with another
    request gets no answer but a refusal (None: stored before fingerprints were kept)."""

    __tablename__ = "device_requests"
    __table_args__ = (UniqueConstraint("device_id", "request_id"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str
    request_id: str
    reply: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    fingerprint: str | None = None
    created_at: datetime = created()


class DeviceRequestConflict(SQLModel, table=True):
    """A request that came under an id the device had used for another request (a replaced
    board, an erased flash, a forgery with the device's key): refused, booked nothing."""

    __tablename__ = "device_request_conflicts"
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(index=True)
    request_id: str
    kind: str
    fingerprint: str
    created_at: datetime = created()


class DeviceLoyalty(SQLModel, table=True):
    """A device taking part in the loyalty engine: the outlet it sells for, the catalogue article
    its taps are (for card discounts and bonus rules) and the gift item it may hand out for a gift."""

    __tablename__ = "device_loyalty"
    device_id: str = Field(sa_column=Column(String, ForeignKey("devices.id"), primary_key=True))
    outlet_id: str = Field(foreign_key="outlets.id")
    article_id: str = Field(foreign_key="articles.id")
    gift_item: str | None = Field(default=None, foreign_key="gift_items.id")
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class DeviceLoyaltyHold(SQLModel, table=True):
    """What a hold at a device in the loyalty engine needs at its report, fixed at the tap: the
    outlet and article, the price before and after the card's discount, a gift held instead of
    money, and whether the tap was a turnstile's exit."""

    __tablename__ = "device_loyalty_holds"
    hold_id: str = Field(primary_key=True)
    card_uid: str
    outlet_id: str
    site_id: str
    article_id: str
    gross_unit_price: int = Field(sa_column=Column(BigInteger, nullable=False))
    discount_percent: str  # a decimal, kept exact as text
    gift_item: str | None = None  # set: the tap holds one unit of this gift instead of money
    exit: bool = False


class OfflineVend(SQLModel, table=True):
    """One offline vend as booked: posted from the wallet, short from the site's loss account."""

    __tablename__ = "offline_vends"
    device_id: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    site: str = Field(index=True)
    request_id: str  # the request that brought it to the hub first
    card_uid: str = Field(index=True)
    units: int
    unit_price: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    posted: int = Field(sa_column=Column(BigInteger, nullable=False))
    short: int = Field(sa_column=Column(BigInteger, nullable=False))
    # None: the wallet paid it all; else why not: insufficient_funds, blocked_card, unknown_card
    overspend: str | None = Field(default=None, index=True)
    vended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    booked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class KioskTopUp(SQLModel, table=True):
    """One kiosk top-up as credited."""

    __tablename__ = "kiosk_topups"
    device_id: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    request_id: str  # the request that brought it to the hub first
    card_uid: str = Field(index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    bonus: int = Field(sa_column=Column(BigInteger, nullable=False))
    transfer_id: str
    booked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
