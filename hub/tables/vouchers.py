"""The tables of vouchers (seed 001): each voucher with its signed code and its own account on
the ledger (what is left of it), its redemptions and deliveries, and the hub's signing secret."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from hub.tables.types import created, json_list, moment, money


class Voucher(SQLModel, table=True):
    """One voucher. Its account (on the currency ledger for money, "PTS" for points, "VOUCHER"
    for the uses of a goods or discount voucher) holds what is left; the ledger is the truth."""

    __tablename__ = "vouchers"
    id: str = Field(primary_key=True)  # the code's serial: 80 random bits, base32
    code: str = Field(unique=True)  # the signed code printed as QR (hub.vouchers.codes)
    kind: str  # money, points, goods, discount
    ledger: str
    account_id: int = Field(foreign_key="accounts.id")
    face_value: int = money()  # money: minor units; points; goods: units; discount: an amount (0: percent)
    percent: str | None = None  # a discount in percent, a decimal kept exact as text
    max_discount: int | None = Field(default=None, sa_column=Column(BigInteger))  # a percent discount's cap
    article_ids: list = json_list()  # limited to these articles …
    group_ids: list = json_list()  # … or product groups; both empty: any
    valid_from: dt.datetime | None = moment()
    valid_to: dt.datetime | None = moment()
    online_only: bool = False
    transferable: bool = True
    card_uid: str | None = Field(default=None, index=True)  # issued to (bound to, if not transferable)
    issuer_outlet_id: str | None = Field(default=None, foreign_key="outlets.id")
    recipient_name: str = ""
    recipient_email: str = ""
    conditions: str = ""
    campaign_id: str | None = Field(default=None, foreign_key="voucher_campaigns.id", index=True)
    issue_key: str = Field(unique=True)
    issued_by: str = ""
    status: str = "issued"  # issued, cancelled (the rest is derived: hub.vouchers.store.status)
    cancelled_at: dt.datetime | None = moment()
    created_at: dt.datetime = created()


class VoucherCampaign(SQLModel, table=True):
    """Bonus credits (seed 001's campaign use): one voucher of the same terms for each card of
    an audience (a list, a card kind, cards that visited lately), issued at once."""

    __tablename__ = "voucher_campaigns"
    id: str = Field(primary_key=True)
    name: str = ""
    terms: dict = Field(sa_column=Column(JSON, nullable=False))  # the vouchers' terms, as issued
    audience: dict = Field(sa_column=Column(JSON, nullable=False))  # how the cards were chosen
    deliver: str = "none"  # none, card
    issue_key: str = Field(unique=True)
    created_by: str = ""
    created_at: dt.datetime = created()


class VoucherRedemption(SQLModel, table=True):
    """One redemption (whole or part): where, when, by which till and caller, what it covered."""

    __tablename__ = "voucher_redemptions"
    id: int | None = Field(default=None, primary_key=True)  # in the order they were made
    voucher_id: str = Field(foreign_key="vouchers.id", index=True)
    key: str = Field(unique=True)
    channel: str  # till, webshop, app, card (credited to a card)
    outlet_id: str | None = Field(default=None, foreign_key="outlets.id")
    counter_id: str | None = None
    card_uid: str | None = None
    basket_id: str | None = Field(default=None, index=True)  # the paid basket it was used in or credited on
    caller: str = ""
    used: int = money()  # taken from the voucher's account (minor units, points or uses)
    value: int = money()  # money booked to the outlet's revenue (minor units)
    result: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = created()


class VoucherDelivery(SQLModel, table=True):
    """A voucher handed over: by e-mail, printed, or credited to a card."""

    __tablename__ = "voucher_deliveries"
    id: int | None = Field(default=None, primary_key=True)
    voucher_id: str = Field(foreign_key="vouchers.id", index=True)
    channel: str  # email, print, card
    recipient: str = ""
    caller: str = ""
    key: str = Field(unique=True)  # the request's key: a repeat delivers nothing twice
    created_at: dt.datetime = created()


class VoucherSecret(SQLModel, table=True):
    """The hub's secret that signs voucher codes when none is configured
    (Settings.voucher_secret): made once, on first use."""

    __tablename__ = "voucher_secrets"
    id: int = Field(primary_key=True)  # always 1
    secret: str
    created_at: dt.datetime = created()
