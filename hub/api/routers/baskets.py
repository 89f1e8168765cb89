"""Baskets (/api/v1/baskets): quote, pay from the card's wallet (and points, gift vouchers for
whole lines, and vouchers by code), look up, refund once. hub.sales.baskets."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from hub.access.callers import Caller
from hub.api.auth import Allowed
from hub.api.deps import DbDep, Now, Scope, fresh_key
from hub.api.fields import MAX_POINTS, CardUid, ItemId, Key, Minor, Slug
from hub.core.errors import NotFound
from hub.loyalty import cache
from hub.loyalty.point_rules import ChannelIn, ChannelOut, LineKind
from hub.sales import baskets

router = APIRouter(tags=["baskets"])


class LineIn(BaseModel):
    line_id: Slug | None = Field(None, description="default: the line's position, 1-based")
    article_id: Slug
    quantity: int = Field(1, ge=1, le=10_000, strict=True)
    kind: LineKind = LineKind.ARTICLE
    parent_line_id: Slug | None = Field(None, description="component → its menu line; topping → its line")


class VoucherIn(BaseModel):
    line_id: Slug = Field(description="the line the voucher pays (its whole quantity)")
    item_id: ItemId = Field(
        description="the card's gift item: a voucher for the line's article, redeemable at the outlet"
    )


class BasketIn(BaseModel):
    card_uid: CardUid
    outlet_id: Slug
    counter_id: Slug | None = Field(None, description="the outlet's counter (till) it is paid at")
    channel_in: ChannelIn = ChannelIn.TILL
    channel_out: ChannelOut = ChannelOut.COUNTER
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    redeem_points: int = Field(0, ge=0, le=MAX_POINTS, strict=True, description="points to pay with")
    small_quantity_surcharge: Minor = 0
    delivery_fee: Minor = 0
    vouchers: list[VoucherIn] = Field(
        [],
        max_length=500,
        description=(
            "gift vouchers paying whole lines (seed 001): the card's gift units are redeemed and the "
            "settlement node owes the outlet the lines' nets"
        ),
    )
    voucher_codes: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,80}$")]] = Field(
        [],
        max_length=10,
        description=(
            "codes of money, goods or discount vouchers (POST /vouchers) paying part of the basket, in "
            "this order: each covers what is still open of the lines it applies to (docs/vouchers.md)"
        ),
    )


class LineOut(BaseModel):
    line_id: str
    article_id: str
    kind: str
    parent_line_id: str | None
    quantity: int
    unit_price: int
    gross: int
    discount_percent: Decimal
    discount_source: str | None = Field(description='"card", "group:<id>" or null')
    discount: int
    net: int
    voucher_item: str | None = Field(None, description="the gift voucher paying this line's net")


class AwardOut(BaseModel):
    points: int
    rule_id: int
    rule_name: str
    source: str
    line_id: str | None
    reason: str
    available_at: dt.datetime
    expires_at: dt.datetime | None


class CodedVoucherOut(BaseModel):
    voucher_id: str
    kind: str
    used: int = Field(description="taken from the voucher: minor units (money) or uses")
    value: int = Field(description="what it pays of the basket, minor units")
    remaining: int = Field(description="what is left of it after this basket")
    lines: list[dict]


class QuoteOut(BaseModel):
    card_uid: str
    outlet_id: str
    counter_id: str | None = None
    lines: list[LineOut]
    discount: int
    fees: int
    total: int = Field(description="Σ line nets + fees")
    vouchers_value: int = Field(0, description="the line nets paid by gift vouchers")
    voucher_codes_value: int = Field(0, description="what the vouchers named by code pay")
    coded_vouchers: list[CodedVoucherOut] = []
    points_redeemed: int
    points_value: int = Field(description="minor units paid with the points redeemed")
    amount_due: int = Field(
        description="debited from the wallet: total − vouchers_value − voucher_codes_value − points_value"
    )
    points_earned: int
    awards: list[AwardOut]


class PaidOut(QuoteOut):
    id: str
    status: str
    repeated: bool


class BasketRefundOut(BaseModel):
    id: str
    refunded: int
    points_returned: int
    points_clawed_back: int
    gift_units_returned: int = Field(0, description="gift voucher units given back to the card")
    voucher_value_returned: int = Field(0, description="given back to the vouchers named by code")
    voucher_credit_taken_back: int = Field(
        0,
        description="discounts credited on the basket afterwards (POST /vouchers/credit-basket), taken back",
    )
    status: str
    repeated: bool


def _at_counter(fn: Callable[..., dict]) -> Callable[..., dict]:
    """fn(conn, req, …) with the basket's counter checked first and named in the answer: a
    counter of the basket's outlet, switched on, and (for a caller bound to an outlet or a
    site) one of the caller's — read from hub.loyalty.cache rather than the database, which
    is what Scope(counter=…) would do."""

    def at_counter(conn: Connection, caller: Caller, req: dict, *args) -> dict:
        counter_id = req.get("counter_id")
        if counter_id is not None and caller.scoped:
            counter = cache.static(conn).counters.get(counter_id)
            if counter is None:
                raise NotFound(f"no counter {counter_id}")
            caller.check_outlet(conn, counter["outlet_id"])
        cache.static(conn).check_counter(counter_id, req["outlet_id"])
        return {**fn(conn, req, *args), "counter_id": counter_id}

    return at_counter


def _refund(conn: Connection, caller: Caller, basket_id: str, now) -> dict:
    caller.check_outlet(conn, baskets.get_basket(conn, basket_id)["request"]["outlet_id"])
    return baskets.refund(conn, basket_id, now)


_quote = _at_counter(baskets.quote)
_pay = _at_counter(baskets.pay)


def _view(conn: Connection, basket_id: str, caller: Caller) -> dict:
    row = baskets.get_basket(conn, basket_id)
    caller.check_outlet(conn, row["request"]["outlet_id"])
    return {
        **row["result"],
        "counter_id": row["request"].get("counter_id"),
        "status": row["status"],
        "repeated": False,
    }


@router.post("/baskets/quote", response_model=QuoteOut)
def quote(caller: Allowed.sales_pay, basket: BasketIn, db: DbDep, now: Now):
    """Every figure of the basket as `pay` would book it; books nothing."""
    return db.read(_quote, caller, basket.model_dump(mode="json"), now, scope=Scope(basket.outlet_id))


@router.post("/baskets/pay", response_model=PaidOut, status_code=201)
async def pay(caller: Allowed.sales_pay, basket: BasketIn, db: DbDep, now: Now, idempotency_key: Key):
    """Pay the basket from the card's wallet (and points, and gift vouchers for whole lines: the
    settlement node then owes the outlet their value; and vouchers by code, which pay the outlet
    what they cover, each once: docs/vouchers.md); earn points. Send an Idempotency-Key
    header: a retry books nothing new and returns the first answer with repeated=true.
    Not enough balance, points or gift units: 409, nothing booked."""
    basket_id = uuid.uuid4().hex
    body = basket.model_dump(mode="json")
    # async, the database work in the thread pool: FastAPI checks the answer against PaidOut on
    # the event loop then, where for a plain def route it costs a second thread-pool hop
    return await run_in_threadpool(
        db.write_keyed,
        "basket/",
        idempotency_key or basket_id,
        body,
        lambda conn, key: _pay(conn, caller, body, basket_id, key, now, fresh_key(conn) == key),
        scope=Scope(basket.outlet_id),  # and the counter: _at_counter
    )


@router.get("/baskets/{basket_id}", response_model=PaidOut)
def get_basket(caller: Allowed.sales_read, basket_id: str, db: DbDep):
    return db.read(_view, basket_id, caller)


@router.post("/baskets/{basket_id}/refund", response_model=BasketRefundOut)
def refund(caller: Allowed.sales_refund, basket_id: str, db: DbDep, now: Now):
    """Undo a paid basket once: money back to the wallet, redeemed points back into the lots
    they came from (their own expiry), earned points clawed back, gift vouchers back to the card
    (the outlet's redemption obligation reversed). Repeats answer repeated=true."""
    return db.write(_refund, caller, basket_id, now)
