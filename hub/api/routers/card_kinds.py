"""Card kinds and digital cards (/api/v1/cards/...): issue an RFID or a digital card of a kind
(value, debit, employee), personalised or anonymous; its details and QR code; linking an RFID
card to a digital wallet. A debit card's statement and settlement are in debit_cards.py."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import Currency, Db, DbDep
from hub.api.fields import MAX_AMOUNT, CardUid
from hub.cards import digital, kinds, links

router = APIRouter(tags=["cards"])


class Kind(StrEnum):
    VALUE = "value"
    DEBIT = "debit"
    EMPLOYEE = "employee"


class Medium(StrEnum):
    RFID = "rfid"
    DIGITAL = "digital"


class Holder(BaseModel):
    holder_name: str = Field("", max_length=100, description="empty: an anonymous card")
    holder_email: str = Field("", max_length=200, pattern=r"^$|^[^@\s]+@[^@\s]+$")


class IssueIn(Holder):
    label: str = Field("", max_length=100)
    kind: Kind = Field(
        Kind.VALUE,
        description="value: stored balance; debit: paid later, may go "
        "below zero down to -credit_limit; employee: employee "
        "consumption through a discount group",
    )
    credit_limit: int = Field(
        0, ge=0, le=MAX_AMOUNT, strict=True, description="debit cards only (required there), minor units"
    )
    discount_group: str | None = Field(
        None,
        max_length=40,
        description='default for employee cards: "employee" (made on first use as a general 100 %)',
    )


class RfidIssueIn(IssueIn):
    uid: str | None = Field(
        None, pattern=r"^[0-9A-Fa-f]{8,20}$", description="RFID UID in hex; omitted: the hub makes one"
    )


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


QrScale = Annotated[int, Query(ge=1, le=40)]


def _issue(db: Db, currency: str, medium: Medium, body: IssueIn, uid: str | None = None):
    return db.write(
        kinds.issue,
        currency,
        medium.value,
        uid,
        label=body.label,
        kind=body.kind.value,
        holder_name=body.holder_name,
        holder_email=body.holder_email,
        credit_limit=body.credit_limit,
        discount_group=body.discount_group,
    )


@router.post("/cards/digital", response_model=CardDetails, status_code=201)
def issue_digital(_caller: Allowed.cards_write, body: IssueIn, db: DbDep, currency: Currency):
    """Issue a digital card: its uid is an unguessable token the hub makes, shown as a QR code
    (GET /cards/{uid}/qr.svg or .png) and sent by a QR scanner as the card."""
    return _issue(db, currency, Medium.DIGITAL, body)


@router.post("/cards/rfid", response_model=CardDetails, status_code=201)
def issue_rfid(_caller: Allowed.cards_write, body: RfidIssueIn, db: DbDep, currency: Currency):
    """Issue an RFID card or wristband of a kind, personalised or anonymous."""
    return _issue(db, currency, Medium.RFID, body, body.uid)


@router.get("/cards/{uid}/details", response_model=CardDetails)
def details(_caller: Allowed.holders_read, uid: CardUid, db: DbDep):
    return db.read(kinds.details, uid)


@router.put("/cards/{uid}/holder", response_model=CardDetails)
def set_holder(_caller: Allowed.cards_write, uid: CardUid, body: Holder, db: DbDep):
    """Personalise the card (the holder's name) or make it anonymous (an empty name)."""
    return db.write(kinds.set_holder, uid, body.holder_name, body.holder_email)


@router.post("/cards/{uid}/link", response_model=LinkOut)
def link(_caller: Allowed.cards_write, uid: CardUid, body: LinkIn, db: DbDep):
    """Link this RFID card to a digital card's wallet: its balance and points move there, and a
    tap with either card debits that one wallet. Refused (409) for a digital card, a digital
    card created before the RFID card (seed 002), cards of different kinds or blocked cards."""
    return db.write(links.link, uid, body.wallet_uid)


@router.get(
    "/cards/{uid}/qr.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}}
)
def qr_svg(_caller: Allowed.holders_read, uid: CardUid, db: DbDep, scale: QrScale = 4):
    """The digital card's QR code as SVG (409 for an RFID card)."""
    return Response(db.read(digital.qr_image, uid, "svg", scale), media_type="image/svg+xml")


@router.get("/cards/{uid}/qr.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def qr_png(_caller: Allowed.holders_read, uid: CardUid, db: DbDep, scale: QrScale = 4):
    """The digital card's QR code as PNG (409 for an RFID card)."""
    return Response(db.read(digital.qr_image, uid, "png", scale), media_type="image/png")
