"""A card's bonus points (/api/v1/cards/{uid}/points, /registration, /points/expire): its lots,
buying points, the registration award, booking out expired lots. hub.loyalty.points."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import DbDep, Now, Scope
from hub.api.fields import Key, Slug
from hub.loyalty import points
from hub.loyalty.point_rules import ChannelIn
from hub.sales import baskets

router = APIRouter(tags=["bonus points"])


class LotOut(BaseModel):
    id: str
    points: int
    remaining: int
    available_at: dt.datetime
    expires_at: dt.datetime | None
    reason: str
    rule_id: int | None
    basket_id: str | None


class PointsOut(BaseModel):
    uid: str
    balance: int = Field(description="all points the card holds")
    available: int = Field(description="spendable now")
    lots: list[LotOut]


class BuyPointsIn(BaseModel):
    outlet_id: Slug
    points: int = Field(gt=0, le=10_000_000, strict=True)


class BuyPointsOut(PointsOut):
    repeated: bool


class RegisterIn(BaseModel):
    outlet_id: Slug
    channel_in: ChannelIn = ChannelIn.TILL


class RegistrationAward(BaseModel):
    points: int
    rule_id: int
    reason: str
    available_at: dt.datetime
    expires_at: dt.datetime | None


class RegisterOut(BaseModel):
    points: int
    awards: list[RegistrationAward]
    repeated: bool = Field(description="the card had registered before: nothing new is earned")


class ExpiryOut(BaseModel):
    lots: int
    points: int


@router.get("/cards/{uid}/points", response_model=PointsOut)
def card_points(_caller: Allowed.cards_read, uid: str, db: DbDep, now: Now):
    """The card's open point lots, in the order they are spent (expiring first)."""
    return db.read(points.summary, uid, now)


@router.post("/cards/{uid}/points/purchase", response_model=BuyPointsOut, status_code=201)
def buy_points(
    _caller: Allowed.sales_pay, uid: str, body: BuyPointsIn, db: DbDep, now: Now, idempotency_key: Key
):
    """Buy points with wallet money at point_value each (seed 001: points as a means of payment)."""
    return db.write_keyed(
        "points-purchase/",
        idempotency_key,
        {"uid": uid, **body.model_dump(mode="json")},
        lambda conn, key: baskets.buy_points(conn, uid, body.outlet_id, body.points, key, now),
        scope=Scope(body.outlet_id),
    )


@router.post("/cards/{uid}/registration", response_model=RegisterOut)
def register(_caller: Allowed.cards_write, uid: str, body: RegisterIn, db: DbDep, now: Now):
    """The card's holder registers (an account): registration rules award their points once."""
    return db.write(
        points.register,
        uid,
        body.outlet_id,
        body.channel_in.value,
        now,
        retry=True,
        scope=Scope(body.outlet_id),
    )


@router.post("/points/expire", response_model=ExpiryOut)
def expire(_caller: Allowed.maintenance_run, db: DbDep, now: Now):
    """Book out what is left of every expired lot (expiry transfers; lots are kept)."""
    return db.write(points.run_expiry, now)
