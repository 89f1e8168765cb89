"""The tables of gifts and the bonus-gift chain (seeds 002 and 004): gift items, the cards' gift
wallets and lots, pending gift holds of machines, chain rules, visits and their activities, the
per-site exit reset and the outlets' obligation accounts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from hub.tables.types import UTCDateTime, created, json_list, money


class GiftItem(SQLModel, table=True):
    """A gift (a drink, a slide ride): its own ledger of whole units ("GIFT:<id>") and a value in
    money per unit, which is what the granting and redeeming outlets settle."""

    __tablename__ = "gift_items"
    id: str = Field(primary_key=True)
    name: str = ""
    ledger: str = Field(unique=True)
    currency: str  # the money ledger the obligations are booked on
    value: int = money()
    redeem_kinds: list = json_list()  # outlet kinds where it is redeemable; both lists empty: anywhere
    redeem_outlets: list = json_list()
    article_id: str | None = None  # a voucher for this catalogue article in baskets
    voucher_type: str = "goods"  # seed 001: goods (Warenleistung) or service (Dienstleistung)
    points_price: int | None = None  # points it costs when chosen with points; None: not for points
    points_level: int | None = None  # points the card must have available to choose it
    valid_days: int | None = None  # seed 001: a granted unit is valid this long; None: until used
    created_at: dt.datetime = created()


class GiftAccount(SQLModel, table=True):
    """A card's wallet on one gift item's ledger, made on first use."""

    __tablename__ = "gift_accounts"
    card_uid: str = Field(sa_column=Column(String, ForeignKey("cards.uid"), primary_key=True))
    item_id: str = Field(sa_column=Column(String, ForeignKey("gift_items.id"), primary_key=True))
    account_id: int = Field(foreign_key="accounts.id")


class GiftLot(SQLModel, table=True):
    """One grant of gift units to a card; remaining falls as units are held, redeemed or reset.
    The value per unit is fixed at the grant, so grant and redemption obligations match."""

    __tablename__ = "gift_lots"
    id: str = Field(primary_key=True)
    card_uid: str = Field(index=True)
    item_id: str = Field(foreign_key="gift_items.id", index=True)
    account_id: int = Field(foreign_key="accounts.id")
    units: int
    remaining: int
    value: int = money()
    granted_by: str = Field(foreign_key="outlets.id")
    site_id: str = Field(index=True)
    source: str  # rule, points, manual
    rule_id: int | None = None
    visit_id: str | None = Field(default=None, index=True)
    source_key: str = Field(unique=True)
    reason: str
    expires_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))
    created_at: dt.datetime = created()


class GiftLotMove(SQLModel, table=True):
    """A change of a lot's remaining units: hold/redeem/expire take, release/return give back."""

    __tablename__ = "gift_lot_moves"
    id: int | None = Field(default=None, primary_key=True)
    lot_id: str = Field(foreign_key="gift_lots.id", index=True)
    ref: str = Field(index=True)  # hold id, basket id, exit reset key
    kind: str
    units: int
    outlet_id: str | None = None
    created_at: dt.datetime = created()


class GiftHold(SQLModel, table=True):
    """A machine's pending gift transfer (one unit), resolved once."""

    __tablename__ = "gift_holds"
    id: str = Field(primary_key=True)  # the pending transfer's id
    card_uid: str
    item_id: str
    lot_id: str
    outlet_id: str
    wallet_account_id: int
    sink_account_id: int
    status: str = "pending"  # pending, posted, voided
    created_at: dt.datetime = created()
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ChainRule(SQLModel, table=True):
    """After `activities` activities in one visit at the matching outlets of a site, grant `units`
    of `item_id` (again every `activities` if `repeat`, at most `max_per_visit`)."""

    __tablename__ = "gift_chain_rules"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    site_id: str = Field(foreign_key="sites.id", index=True)
    active: bool = True
    activities: int
    outlet_kinds: list = json_list()  # both empty: every outlet of the site counts
    outlet_ids: list = json_list()
    item_id: str = Field(foreign_key="gift_items.id")
    units: int = 1
    repeat: bool = False
    max_per_visit: int | None = None
    created_at: dt.datetime = created()


class Visit(SQLModel, table=True):
    """A card's stay at a site: from its first counted activity to its exit."""

    __tablename__ = "gift_visits"
    id: str = Field(primary_key=True)
    card_uid: str = Field(index=True)
    site_id: str = Field(index=True)
    started_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Activity(SQLModel, table=True):
    """One counted activity (a slide ride, a purchase at an outlet), once per key."""

    __tablename__ = "gift_activities"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    visit_id: str = Field(sa_column=Column(String, ForeignKey("gift_visits.id"), index=True, nullable=False))
    card_uid: str
    outlet_id: str
    outlet_kind: str
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    grants: list = json_list()  # the answer given, for a repeated key


class SiteGiftSettings(SQLModel, table=True):
    """What the exit of a site resets (seed 004: "at the exit from the water park, they are reset")."""

    __tablename__ = "gift_site_settings"
    site_id: str = Field(sa_column=Column(String, ForeignKey("sites.id"), primary_key=True))
    reset_gifts: bool = False  # gifts granted at this site by rules or handed out
    reset_bought_gifts: bool = False  # gifts chosen with points at this site
    reset_points: bool = False  # bonus points earned at the site's outlets (baskets, machines)
    unredeemed_obligation: str = "kept"  # kept (the settlement node keeps it) or released


class ExitReset(SQLModel, table=True):
    __tablename__ = "gift_exit_resets"
    key: str = Field(primary_key=True)
    card_uid: str
    site_id: str
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    result: dict = Field(sa_column=Column(JSON, nullable=False))


class ObligationAccount(SQLModel, table=True):
    """An outlet's account for its gift obligations with the settlement node (on its money ledger)."""

    __tablename__ = "gift_obligation_accounts"
    outlet_id: str = Field(sa_column=Column(String, ForeignKey("outlets.id"), primary_key=True))
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=False))
