"""REST API of card types and digital cards (/api/v1): issue an RFID or a digital card of a kind
(value, debit, employee), personalised or anonymous; its QR code; linking an RFID card to a digital
wallet; a debit card's statement and settlement."""
from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub.api.fields import MAX_AMOUNT, CardUid, HistoryItem, Key
from hub.api.runner import runner
from hub.cards import debit, digital, kinds, links
from hub.wallets import cash_desk



class Kind(str, Enum):
    VALUE = "value"
    DEBIT = "debit"
    EMPLOYEE = "employee"


class Medium(str, Enum):
    RFID = "rfid"
    DIGITAL = "digital"


class Holder(BaseModel):
    holder_name: str = Field("", max_length=100, description="empty: an anonymous card")
    holder_email: str = Field("", max_length=200, pattern=r"^$|^[^@\s]+@[^@\s]+$")


class IssueIn(Holder):
    label: str = Field("", max_length=100)
    kind: Kind = Field(Kind.VALUE, description="value: stored balance; debit: paid later, may go "
                                               "below zero down to -credit_limit; employee: employee "
                                               "consumption through a discount group")
    credit_limit: int = Field(0, ge=0, le=MAX_AMOUNT, strict=True,
                              description="debit cards only (required there), minor units")
    discount_group: str | None = Field(None, max_length=40, description='default for employee cards:'
                                       ' "employee" (made on first use as a general 100 %)')


class RfidIssueIn(IssueIn):
    uid: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{8,20}$",
                            description="RFID UID in hex; omitted: the hub makes one")


class CardDetails(Holder):
    uid: str
    medium: Medium
    kind: Kind
    status: str
    label: str
    personalised: bool
    ledger: str
    balance: int = Field(description="posted balance, minor units (a debit card: negative when it owes)")
    held: int = Field(description="pending holds of taps not yet reported")
    available: int = Field(description="balance less held")
    credit_limit: int
    spendable: int = Field(description="available + credit_limit: what a tap may still take")
    linked_to: str | None = Field(description="the digital card whose wallet this RFID card uses")
    linked_cards: list[str] = Field(description="RFID cards linked to this digital card's wallet")
    discount_group: str | None
    created_at: dt.datetime


class LinkIn(BaseModel):
    wallet_uid: CardUid = Field(description="the digital card whose wallet the RFID card joins")


class LinkOut(BaseModel):
    card: CardDetails
    wallet: CardDetails
    moved: int = Field(description="balance moved to the digital wallet (negative: a debit card's debt)")
    points_moved: int


class StatementOut(BaseModel):
    uid: str
    owed: int = Field(description="what the debit card owes, minor units")
    held: int
    credit_limit: int
    spendable: int
    last_settlement_at: dt.datetime | None
    entries: list[HistoryItem] = Field(description="since the last settlement, newest first")


class OwedOut(BaseModel):
    uid: str
    holder_name: str
    holder_email: str
    credit_limit: int
    owed: int


class SettleIn(BaseModel):
    amount: int | None = Field(None, gt=0, le=MAX_AMOUNT, strict=True,
                               description="default: all that is owed")


class SettleOut(BaseModel):
    uid: str
    settled: int
    balance: int
    available: int
    credit_limit: int
    repeated: bool


def router(engine: Engine, currency: str = "CHF") -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["cards"])
    run = runner(engine)

    def issue(medium: Medium, body: IssueIn, uid: str | None = None):
        return run(kinds.issue, currency, medium.value, uid, label=body.label, kind=body.kind.value,
                   holder_name=body.holder_name, holder_email=body.holder_email,
                   credit_limit=body.credit_limit, discount_group=body.discount_group)

    @api.post("/cards/digital", response_model=CardDetails, status_code=201)
    def issue_digital(body: IssueIn):
        """Issue a digital card: its uid is an unguessable token the hub makes, shown as a QR code
        (GET /cards/{uid}/qr.svg or .png) and sent by a QR scanner as the card."""
        return issue(Medium.DIGITAL, body)

    @api.post("/cards/rfid", response_model=CardDetails, status_code=201)
    def issue_rfid(body: RfidIssueIn):
        """Issue an RFID card or wristband of a kind, personalised or anonymous."""
        return issue(Medium.RFID, body, body.uid)

    @api.get("/cards/{uid}/details", response_model=CardDetails)
    def details(uid: CardUid):
        return run(kinds.details, uid, write=False)

    @api.put("/cards/{uid}/holder", response_model=CardDetails)
    def set_holder(uid: CardUid, body: Holder):
        """Personalise the card (the holder's name) or make it anonymous (an empty name)."""
        return run(kinds.set_holder, uid, body.holder_name, body.holder_email)

    @api.post("/cards/{uid}/link", response_model=LinkOut)
    def link(uid: CardUid, body: LinkIn):
        """Link this RFID card to a digital card's wallet: its balance and points move there, and a
        tap with either card debits that one wallet. Refused (409) for a digital card, a digital
        card created before the RFID card (seed 002), cards of different kinds or blocked cards."""
        return run(links.link, uid, body.wallet_uid)

    @api.get("/cards/{uid}/qr.svg", response_class=Response,
             responses={200: {"content": {"image/svg+xml": {}}}})
    def qr_svg(uid: CardUid, scale: Annotated[int, Query(ge=1, le=40)] = 4):
        """The digital card's QR code as SVG (409 for an RFID card)."""
        return Response(run(digital.qr_image, uid, "svg", scale, write=False), media_type="image/svg+xml")

    @api.get("/cards/{uid}/qr.png", response_class=Response,
             responses={200: {"content": {"image/png": {}}}})
    def qr_png(uid: CardUid, scale: Annotated[int, Query(ge=1, le=40)] = 4):
        """The digital card's QR code as PNG (409 for an RFID card)."""
        return Response(run(digital.qr_image, uid, "png", scale, write=False), media_type="image/png")

    @api.get("/cards/{uid}/statement", response_model=StatementOut)
    def statement(uid: CardUid):
        """A debit card's statement: what it owes and its charges since the last settlement."""
        return run(debit.statement, uid, write=False)

    @api.get("/debit-cards/owed", response_model=list[OwedOut])
    def owed():
        """Every debit card that owes money, the largest debt first (what to invoice)."""
        return run(debit.owing, write=False)

    @api.post("/cards/{uid}/settle", response_model=SettleOut, status_code=201)
    def settle(uid: CardUid, body: SettleIn, idempotency_key: Key = None):
        """The holder pays what the debit card owes (all by default, never more) at the cash desk.
        Send an Idempotency-Key header: a retry books nothing new and answers repeated=true."""
        key = "settle/" + (idempotency_key or uuid.uuid4().hex)
        return run(cash_desk.settle, uid, key, body.amount, retry=True)

    return api
