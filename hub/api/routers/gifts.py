"""REST API of gifts and the bonus-gift chain (/api/v1): gift items, chain rules, the exit reset per
site, a card's gifts, gifts chosen with points, redemption at an outlet, activities and the
settlement report between outlets. The semantics are hub.gifts'. Baskets paid with gift vouchers
are the ordinary baskets of hub.loyalty_api."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub import gifts
from hub.api.fields import ItemId, Key, Minor, Slug
from hub.api.routers import loyalty as loyalty_api
from hub.api.runner import runner
from hub.ledger import Book

class GiftItemIn(BaseModel):
    id: ItemId = Field(description='e.g. "DRINK"; its ledger is "GIFT:<id>" (whole units)')
    name: str = Field("", max_length=100)
    value: Minor = Field(description="money value of one unit (minor units): what outlets settle")
    redeem_kinds: list[str] = Field([], description="outlet kinds where it is redeemable")
    redeem_outlets: list[str] = Field([], description="outlets where it is redeemable; "
                                                      "both lists empty: anywhere")
    article_id: Slug | None = Field(None, description="a voucher for this article in baskets")
    voucher_type: Literal["goods", "service"] = Field(
        "goods", description="seed 001 voucher type; bonus rules may exclude it (exclusive voucher types)")
    points_price: int | None = Field(None, ge=0, strict=True,
                                     description="points it costs when chosen; null: not for points")
    points_level: int | None = Field(None, ge=0, strict=True,
                                     description="points the card must have available to choose it")
    valid_days: int | None = Field(None, ge=1, le=3660, strict=True,
                                   description="a granted unit is valid this many days (seed 001); "
                                               "null: until it is redeemed or reset")


class GiftItemOut(GiftItemIn):
    ledger: str
    currency: str


class ChainRuleIn(BaseModel):
    name: str = Field(max_length=100)
    site_id: Slug
    active: bool = True
    activities: int = Field(ge=1, le=1000, strict=True,
                            description="activities within one visit that earn the gift")
    outlet_kinds: list[str] = Field([], description="activities at outlets of these kinds count")
    outlet_ids: list[str] = Field([], description="… and at these outlets; both empty: every outlet")
    item_id: ItemId
    units: int = Field(1, ge=1, le=1000, strict=True)
    repeat: bool = Field(False, description="grant again every `activities` activities")
    max_per_visit: int | None = Field(None, ge=1, strict=True)


class ChainRuleOut(ChainRuleIn):
    id: int


class SiteGiftSettingsIn(BaseModel):
    reset_gifts: bool = Field(False, description="reset unused gifts granted at the site (by rules "
                                                 "or handed out) at its exit")
    reset_bought_gifts: bool = Field(False, description="reset unused gifts chosen with points there too")
    reset_points: bool = Field(False, description="reset the unused bonus points earned at the site's "
                                                  "outlets (baskets, machines); bought points stay")
    unredeemed_obligation: Literal["kept", "released"] = Field(
        "kept", description="a reset gift's grant obligation: kept (the settlement node keeps the "
                            "value) or released (given back to the granting outlet)")


class SiteGiftSettingsOut(SiteGiftSettingsIn):
    site_id: str


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


class OutletSettlement(BaseModel):
    outlet_id: str
    owed_to_outlet: int = Field(description="the settlement node owes it (gifts it redeemed)")
    owed_by_outlet: int = Field(description="it owes the settlement node (gifts it granted)")
    net: int = Field(description="owed_to − owed_by: > 0 the node pays the outlet, < 0 it pays")


class SettlementOut(BaseModel):
    currency: str
    since: dt.datetime | None
    until: dt.datetime | None
    outlets: list[OutletSettlement]
    node_kept_unredeemed: int = Field(description="value of gifts reset unredeemed the node keeps")
    node_open: int = Field(description="value of gifts granted in the period, not yet redeemed or reset")


class GiftExpiryOut(BaseModel):
    lots: int
    units: int
    value: int = Field(description="value of the units booked out")


class ActivityReportOut(BaseModel):
    since: dt.datetime | None
    until: dt.datetime | None
    first_uses: int = Field(description="cards used for the first time (their first counted activity)")
    collections: int = Field(description="gift redemptions (till, basket, machine)")
    activities: int = Field(description="first uses + collections (seed 000)")
    campaigns: int = Field(description="activities / 16, rounded up (seed 000)")


def router(engine: Engine, currency: str = "CHF") -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    run = runner(engine)

    _items(api, run, currency)
    _card_gifts(api, run)

    @api.get("/gift-settlement", response_model=SettlementOut, tags=["gifts"])
    def settlement(since: dt.datetime | None = None, until: dt.datetime | None = None,
                   ledger: Annotated[str, Query(max_length=40)] = currency):
        """Who owes whom for gifts over [since, until) (seed 004): from the obligation transfers —
        granting outlet → settlement node at the grant, node → redeeming outlet at the redemption."""
        for name, when in (("since", since), ("until", until)):
            if when is not None and when.tzinfo is None:
                raise HTTPException(422, f"{name} needs a time zone")
        return run(gifts.settlement, ledger, since, until, write=False)

    @api.post("/gifts/expire", response_model=GiftExpiryOut, tags=["gifts"])
    def expire():
        """Book out the gift units whose validity ended (expiry transfers; lots are kept)."""
        return run(gifts.expire, loyalty_api.now())

    @api.get("/gift-activities", response_model=ActivityReportOut, tags=["gifts"])
    def activities(since: dt.datetime | None = None, until: dt.datetime | None = None):
        """Activities as seed 000 counts them: first uses of cards and collected gifts; collecting
        points is none. 16 activities are one campaign."""
        return run(gifts.activity_report, since, until, write=False)

    return api


def _items(api, run, currency):
    @api.post("/gift-items", response_model=GiftItemOut, status_code=201, tags=["gifts"])
    def create_item(item: GiftItemIn):
        """A gift item (a drink, a slide ride) with its own ledger of whole units."""
        return run(gifts.create_item, item.model_dump(), currency)

    @api.get("/gift-items", response_model=list[GiftItemOut], tags=["gifts"])
    def list_items():
        return run(gifts.list_items, write=False)

    @api.get("/gift-items/{item_id}", response_model=GiftItemOut, tags=["gifts"])
    def get_item(item_id: str):
        return run(gifts.get_item, item_id, write=False)

    @api.post("/gift-rules", response_model=ChainRuleOut, status_code=201, tags=["gifts"])
    def create_rule(rule: ChainRuleIn):
        """A bonus-gift chain rule: after N activities within one visit at outlets of a kind (or
        listed), the outlet completing it grants the gift (and owes the settlement node its value)."""
        return run(gifts.create_rule, rule.model_dump())

    @api.get("/gift-rules", response_model=list[ChainRuleOut], tags=["gifts"])
    def list_rules(site_id: str | None = None):
        return run(gifts.list_rules, site_id, write=False)

    @api.get("/gift-rules/{rule_id}", response_model=ChainRuleOut, tags=["gifts"])
    def get_rule(rule_id: int):
        return run(gifts.get_rule, rule_id, write=False)

    @api.post("/gift-rules/{rule_id}/activate", response_model=ChainRuleOut, tags=["gifts"])
    def activate(rule_id: int):
        return run(gifts.set_rule_active, rule_id, True)

    @api.post("/gift-rules/{rule_id}/deactivate", response_model=ChainRuleOut, tags=["gifts"])
    def deactivate(rule_id: int):
        return run(gifts.set_rule_active, rule_id, False)

    @api.get("/sites/{site_id}/gift-settings", response_model=SiteGiftSettingsOut, tags=["gifts"])
    def get_site_settings(site_id: str):
        return run(gifts.get_site_settings, site_id, write=False)

    @api.put("/sites/{site_id}/gift-settings", response_model=SiteGiftSettingsOut, tags=["gifts"])
    def set_site_settings(site_id: str, settings: SiteGiftSettingsIn):
        """What the site's exit resets (seed 004: "at the exit from the water park, they are reset")."""
        return run(gifts.set_site_settings, site_id, settings.model_dump())


def _card_gifts(api, run):
    @api.get("/cards/{uid}/gifts", response_model=CardGiftsOut, tags=["gifts"])
    def card_gifts(uid: str):
        """The card's gift units per item and its open gift lots (redeemed oldest first)."""
        return run(gifts.card_gifts, uid, write=False)

    @api.get("/cards/{uid}/gift-choices", response_model=list[GiftItemOut], tags=["gifts"])
    def gift_choices(uid: str):
        """The gifts the card's available points let it choose now (its points level)."""
        return run(gifts.choices, uid, loyalty_api.now(), write=False)

    @api.post("/cards/{uid}/gifts/choose", response_model=ChosenOut, status_code=201, tags=["gifts"])
    def choose(uid: str, body: ChooseIn, idempotency_key: Key = None):
        """Choose a gift and pay for it with points (taken from the lots that expire first).
        Below the gift's points level or too few points: 409, nothing booked."""
        key = "gift-choice/" + (idempotency_key or uuid.uuid4().hex)
        return run(gifts.choose_with_points, uid, body.item_id, body.outlet_id, key, loyalty_api.now(),
                   retry=True)

    @api.post("/cards/{uid}/gifts/give", response_model=GivenOut, status_code=201, tags=["gifts"])
    def give(uid: str, body: GiveIn, idempotency_key: Key = None):
        """Hand out gift units at an outlet (it owes the settlement node their value)."""
        key = "gift-give/" + (idempotency_key or uuid.uuid4().hex)
        return run(gifts.give, uid, body.item_id, body.units, body.outlet_id, key, body.reason, retry=True)

    @api.post("/cards/{uid}/gifts/redeem", response_model=RedeemOut, tags=["gifts"])
    def redeem(uid: str, body: RedeemIn, idempotency_key: Key = None):
        """Redeem gift units at an outlet's till (the settlement node owes the outlet their value).
        Not held, or not redeemable there: 409, nothing booked."""
        key = "gift-redeem/" + (idempotency_key or uuid.uuid4().hex)
        return run(gifts.redeem_at_till, uid, body.item_id, body.units, body.outlet_id, key, retry=True)

    @api.post("/cards/{uid}/activities", response_model=list[GrantOut], tags=["gifts"])
    def activity(uid: str, body: ActivityIn, idempotency_key: Key = None):
        """Count one activity of the card at an outlet (a ride, a visit); returns the gifts the
        chain rules grant for it. A repeated Idempotency-Key counts nothing and answers the same."""
        key = "activity/" + (idempotency_key or uuid.uuid4().hex)

        def count(conn):
            book = Book(conn)
            grants = gifts.count_activity(conn, book, uid, body.outlet_id, loyalty_api.now(), key)
            book.flush()
            return grants
        return run(count, retry=True)

    @api.post("/cards/{uid}/exit", response_model=ExitOut, tags=["gifts"])
    def leave(uid: str, body: ExitIn, idempotency_key: Key = None):
        """The card leaves the site: unused gifts are reset as the site's settings say (expiry
        transfers, never deleted) and the visit ends."""
        key = "exit/" + (idempotency_key or uuid.uuid4().hex)
        return run(gifts.reset_at_exit, uid, body.site_id, loyalty_api.now(), key, retry=True)

