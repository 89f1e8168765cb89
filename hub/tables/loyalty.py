"""The tables of the loyalty core: card discounts, bonus-point rules and settings, point lots."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.tables.types import UTCDateTime, created, json_list, moment


class DiscountGroup(SQLModel, table=True):
    __tablename__ = "discount_groups"
    id: str = Field(primary_key=True)
    name: str = ""


class DiscountRate(SQLModel, table=True):
    """One rate of a card (owner "card", owner_id = uid) or of a group (owner "group")."""

    __tablename__ = "discount_rates"
    __table_args__ = (UniqueConstraint("owner", "owner_id", "scope", "target"),)
    id: int | None = Field(default=None, primary_key=True)
    owner: str
    owner_id: str = Field(index=True)
    scope: str  # general, revenue_group, article
    target: str = ""  # the revenue group or article id; "" for general
    percent: str  # a decimal, kept exact as text


class CardDiscountGroup(SQLModel, table=True):
    __tablename__ = "card_discount_groups"
    card_uid: str = Field(sa_column=Column(String, ForeignKey("cards.uid"), primary_key=True))
    group_id: str = Field(foreign_key="discount_groups.id")


class BonusRule(SQLModel, table=True):
    """One `bonus_rules.Rule`; sets are JSON lists (ids as strings)."""

    __tablename__ = "bonus_rules"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    kind: str
    active: bool = True
    stores: list = json_list()
    channels_in: list = json_list()
    channels_out: list = json_list()
    valid_from: dt.datetime | None = moment()
    valid_to: dt.datetime | None = moment()
    weekdays: list = json_list()
    on_holidays: bool = True
    amount_per_point: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    include_redeemed: bool = False
    include_small_quantity_surcharge: bool = False
    include_delivery_fee: bool = False
    points: int = 0
    immediately_redeemable: bool = False
    expiry: str = "standard"
    expiry_days: int | None = None
    expiry_date: dt.date | None = Field(default=None, sa_column=Column(Date))


class BonusRuleTarget(SQLModel, table=True):
    __tablename__ = "bonus_rule_targets"
    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(sa_column=Column(Integer, ForeignKey("bonus_rules.id"), index=True, nullable=False))
    target_id: str
    points: int
    exclusive_voucher_types: list = json_list()
    exclude_menu_contents: bool = False


class BonusSettingsRow(SQLModel, table=True):
    """The one row of global settings (id 1)."""

    __tablename__ = "bonus_settings"
    id: int | None = Field(default=None, primary_key=True)
    hours_until_available: int = 0
    default_validity_days: int | None = None
    enabled_stores: list = json_list()
    point_value: int = 0  # minor units one point is worth when paying with points; 0: not allowed


class PointAccount(SQLModel, table=True):
    """A card's wallet on the PTS ledger, made on first use."""

    __tablename__ = "point_accounts"
    card_uid: str = Field(sa_column=Column(String, ForeignKey("cards.uid"), primary_key=True))
    account_id: int = Field(foreign_key="accounts.id")


class PointLot(SQLModel, table=True):
    __tablename__ = "point_lots"
    id: str = Field(primary_key=True)
    card_uid: str = Field(index=True)
    account_id: int = Field(foreign_key="accounts.id")
    points: int
    remaining: int
    available_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: dt.datetime | None = moment(index=True)
    source_key: str = Field(unique=True)
    reason: str
    rule_id: int | None = None
    basket_id: str | None = Field(default=None, index=True)
    created_at: dt.datetime = created()


class LotMove(SQLModel, table=True):
    """A change of a lot's remaining points: redeem/clawback/expire take, return gives back."""

    __tablename__ = "lot_moves"
    id: int | None = Field(default=None, primary_key=True)
    lot_id: str = Field(foreign_key="point_lots.id", index=True)
    ref: str = Field(index=True)  # the basket id, or the expiry run
    kind: str
    points: int
    created_at: dt.datetime = created()
