"""Discount groups and a card's discounts (/api/v1/discount-groups, /cards/{uid}/discounts),
hub.loyalty.discounts."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, DbDep
from hub.api.fields import Slug
from hub.loyalty import discounts

router = APIRouter(tags=["discounts"])


class Rate(BaseModel):
    scope: str = Field(pattern="^(general|revenue_group|article)$")
    target: str = Field("", max_length=40, description="revenue group or article id; empty for general")
    percent: Decimal = Field(ge=0, le=100)


class DiscountGroupIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)
    rates: list[Rate] = []


class DiscountGroupOut(BaseModel):
    id: str
    name: str
    rates: list[Rate]


class CardDiscountsIn(BaseModel):
    group: Slug | None = Field(None, description="the card's discount group (at most one)")
    rates: list[Rate] = Field([], description="the card's own rates")


class CardDiscountsOut(BaseModel):
    uid: str
    group: str | None
    rates: list[Rate]
    group_rates: list[Rate]


@router.post("/discount-groups", response_model=DiscountGroupOut, status_code=201)
def create_discount_group(_caller: Allowed.loyalty_write, group: DiscountGroupIn, db: DbDep):
    """A discount group (employee, customer, management …); employee consumption is a general 100 %."""
    return db.write(
        discounts.create_group, group.id, group.name, [r.model_dump() for r in group.rates], scope=COALITION
    )


@router.get("/discount-groups", response_model=list[DiscountGroupOut])
def list_discount_groups(_caller: Allowed.loyalty_read, db: DbDep):
    return db.read(discounts.list_groups)


@router.put("/cards/{uid}/discounts", response_model=CardDiscountsOut)
def set_card_discounts(_caller: Allowed.loyalty_write, uid: str, body: CardDiscountsIn, db: DbDep):
    """Set the card's group and own rates. Per source the most specific rate applies (article >
    revenue group > general); between the card's own and its group's, the larger. Line discounts
    are rounded half up to the minor unit."""
    return db.write(
        discounts.set_card_discounts,
        uid,
        body.group,
        [r.model_dump() for r in body.rates],
        before=lambda conn: discounts.card_discounts(conn, uid),
        scope=COALITION,
    )


@router.get("/cards/{uid}/discounts", response_model=CardDiscountsOut)
def get_card_discounts(_caller: Allowed.cards_read, uid: str, db: DbDep):
    return db.read(discounts.card_discounts, uid)
