"""Gift items (/api/v1/gift-items): a drink, a slide ride — each with its own ledger of whole
units, a money value outlets settle, where it is redeemable and what it costs in points.
hub.gifts. Baskets paid with gift vouchers are the ordinary baskets (baskets.py)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub import gifts
from hub.api.auth import Allowed
from hub.api.deps import COALITION, Currency, DbDep
from hub.api.fields import MAX_POINTS, ItemId, Minor, Slug

router = APIRouter(tags=["gifts"])


class GiftItemIn(BaseModel):
    id: ItemId = Field(description='e.g. "DRINK"; its ledger is "GIFT:<id>" (whole units)')
    name: str = Field("", max_length=100)
    value: Minor = Field(description="money value of one unit (minor units): what outlets settle")
    redeem_kinds: list[str] = Field([], description="outlet kinds where it is redeemable")
    redeem_outlets: list[str] = Field(
        [], description="outlets where it is redeemable; both lists empty: anywhere"
    )
    article_id: Slug | None = Field(None, description="a voucher for this article in baskets")
    voucher_type: Literal["goods", "service"] = Field(
        "goods", description="seed 001 voucher type; bonus rules may exclude it (exclusive voucher types)"
    )
    points_price: int | None = Field(
        None,
        ge=0,
        le=MAX_POINTS,
        strict=True,
        description="points it costs when chosen; null: not for points",
    )
    points_level: int | None = Field(
        None, ge=0, le=MAX_POINTS, strict=True, description="points the card must have available to choose it"
    )
    valid_days: int | None = Field(
        None,
        ge=1,
        le=3660,
        strict=True,
        description="a granted unit is valid this many days (seed 001); null: until it is redeemed or reset",
    )


class GiftItemOut(GiftItemIn):
    ledger: str
    currency: str


@router.post("/gift-items", response_model=GiftItemOut, status_code=201)
def create_item(_caller: Allowed.loyalty_write, item: GiftItemIn, db: DbDep, currency: Currency):
    """A gift item (a drink, a slide ride) with its own ledger of whole units."""
    return db.write(gifts.create_item, item.model_dump(), currency, scope=COALITION)


@router.get("/gift-items", response_model=list[GiftItemOut])
def list_items(_caller: Allowed.loyalty_read, db: DbDep):
    return db.read(gifts.list_items)


@router.get("/gift-items/{item_id}", response_model=GiftItemOut)
def get_item(_caller: Allowed.loyalty_read, item_id: str, db: DbDep):
    return db.read(gifts.get_item, item_id)
