"""A card's gifts (/api/v1/cards/{uid}/...): its gift units and lots, gifts chosen with points,
handed out or redeemed at an outlet, activities that the chain rules count, the exit that resets
unused gifts; and booking out expired gift units. hub.gifts."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from hub import gifts
from hub.api.auth import Allowed
from hub.api.deps import DbDep, Now, Scope
from hub.api.fields import ItemId, Key, Slug
from hub.api.routers.gift_items import GiftItemOut
from hub.ledger import Book

router = APIRouter(tags=["gifts"])


class GiftLotOut(BaseModel):
    id: str
    item_id: str
    units: int
    remaining: int
    value: int = Field(description="money value per unit fixed at the grant")
    granted_by: str
    site_id: str
    source: str = Field(description="rule, points or manual")
    rule_id: int | None
    reason: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


class GiftUnits(BaseModel):
    item_id: str
    units: int = Field(description="units the card may still redeem")
    held: int = Field(description="units held by machines, not yet reported")


class CardGiftsOut(BaseModel):
    uid: str
    items: list[GiftUnits]
    lots: list[GiftLotOut]


class ChooseIn(BaseModel):
    item_id: ItemId
    outlet_id: Slug = Field(description="where the gift is chosen: the granting outlet")


class ChosenOut(GiftLotOut):
    points: int = Field(description="points paid")
    repeated: bool


class GiveIn(ChooseIn):
    units: int = Field(1, ge=1, le=1000, strict=True)
    reason: str = Field("", max_length=200)


class GivenOut(GiftLotOut):
    repeated: bool


class RedeemIn(BaseModel):
    item_id: ItemId
    outlet_id: Slug
    units: int = Field(1, ge=1, le=1000, strict=True)


class RedeemOut(BaseModel):
    uid: str
    item_id: str
    units: int
    outlet_id: str
    value: int = Field(description="what the settlement node owes the outlet for them")
    repeated: bool


class ActivityIn(BaseModel):
    outlet_id: Slug


class GrantOut(BaseModel):
    rule_id: int
    item_id: str
    units: int
    value: int
    lot_id: str
    outlet_id: str


class ExitIn(BaseModel):
    site_id: Slug


class ResetUnits(BaseModel):
    item_id: str
    units: int


class ExitOut(BaseModel):
    uid: str
    site_id: str
    items: list[ResetUnits]
    units: int
    value: int = Field(description="value of the units reset")
    points: int = Field(description="bonus points reset")
    unredeemed_obligation: str
    visit_ended: bool
    repeated: bool


class GiftExpiryOut(BaseModel):
    lots: int
    units: int
    value: int = Field(description="value of the units booked out")


def _count_activity(conn: Connection, uid: str, outlet_id: str, now: dt.datetime, key: str) -> list[dict]:
    book = Book(conn)
    grants = gifts.count_activity(conn, book, uid, outlet_id, now, key)
    book.flush()
    return grants


@router.get("/cards/{uid}/gifts", response_model=CardGiftsOut)
def card_gifts(_caller: Allowed.cards_read, uid: str, db: DbDep):
    """The card's gift units per item and its open gift lots (redeemed oldest first)."""
    return db.read(gifts.card_gifts, uid)


@router.get("/cards/{uid}/gift-choices", response_model=list[GiftItemOut])
def gift_choices(_caller: Allowed.cards_read, uid: str, db: DbDep, now: Now):
    """The gifts the card's available points let it choose now (its points level)."""
    return db.read(gifts.choices, uid, now)


@router.post("/cards/{uid}/gifts/choose", response_model=ChosenOut, status_code=201)
def choose(_caller: Allowed.sales_pay, uid: str, body: ChooseIn, db: DbDep, now: Now, idempotency_key: Key):
    """Choose a gift and pay for it with points (taken from the lots that expire first).
    Below the gift's points level or too few points: 409, nothing booked."""
    return db.write_keyed(
        "gift-choice/",
        idempotency_key,
        {"uid": uid, **body.model_dump(mode="json")},
        lambda conn, key: gifts.choose_with_points(conn, uid, body.item_id, body.outlet_id, key, now),
        scope=Scope(body.outlet_id),
    )


@router.post("/cards/{uid}/gifts/give", response_model=GivenOut, status_code=201)
def give(_caller: Allowed.gifts_give, uid: str, body: GiveIn, db: DbDep, idempotency_key: Key):
    """Hand out gift units at an outlet (it owes the settlement node their value)."""
    return db.write_keyed(
        "gift-give/",
        idempotency_key,
        {"uid": uid, **body.model_dump(mode="json")},
        lambda conn, key: gifts.give(conn, uid, body.item_id, body.units, body.outlet_id, key, body.reason),
        scope=Scope(body.outlet_id),
    )


@router.post("/cards/{uid}/gifts/redeem", response_model=RedeemOut)
def redeem(_caller: Allowed.sales_pay, uid: str, body: RedeemIn, db: DbDep, idempotency_key: Key):
    """Redeem gift units at an outlet's till (the settlement node owes the outlet their value).
    Not held, or not redeemable there: 409, nothing booked."""
    return db.write_keyed(
        "gift-redeem/",
        idempotency_key,
        {"uid": uid, **body.model_dump(mode="json")},
        lambda conn, key: gifts.redeem_at_till(conn, uid, body.item_id, body.units, body.outlet_id, key),
        scope=Scope(body.outlet_id),
    )


@router.post("/cards/{uid}/activities", response_model=list[GrantOut])
def activity(
    _caller: Allowed.sales_pay, uid: str, body: ActivityIn, db: DbDep, now: Now, idempotency_key: Key
):
    """Count one activity of the card at an outlet (a ride, a visit); returns the gifts the
    chain rules grant for it. A repeated Idempotency-Key counts nothing and answers the same."""
    return db.write_keyed(
        "activity/",
        idempotency_key,
        {"uid": uid, **body.model_dump(mode="json")},
        lambda conn, key: _count_activity(conn, uid, body.outlet_id, now, key),
        scope=Scope(body.outlet_id),
    )


@router.post("/cards/{uid}/exit", response_model=ExitOut)
def leave(_caller: Allowed.sales_pay, uid: str, body: ExitIn, db: DbDep, now: Now, idempotency_key: Key):
    """The card leaves the site: unused gifts are reset as the site's settings say (expiry
    transfers, never deleted) and the visit ends."""
    return db.write_keyed(
        "exit/",
        idempotency_key,
        {"uid": uid, **body.model_dump(mode="json")},
        lambda conn, key: gifts.reset_at_exit(conn, uid, body.site_id, now, key),
        scope=Scope(site=body.site_id),
    )


@router.post("/gifts/expire", response_model=GiftExpiryOut)
def expire(_caller: Allowed.maintenance_run, db: DbDep, now: Now):
    """Book out the gift units whose validity ended (expiry transfers; lots are kept)."""
    return db.write(gifts.expire, now)
