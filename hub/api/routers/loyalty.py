"""REST API of the loyalty core (/api/v1): sites and outlets, the catalogue, card discounts, bonus
rules and settings, point lots, basket quote / pay / refund (gift vouchers may pay whole lines)."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub.api.fields import CardUid, ItemId, Key, Minor, Slug
from hub.api.runner import runner
from hub.core.clock import utcnow
from hub.loyalty import catalogue, discounts, outlets, points
from hub.loyalty.point_rules import ChannelIn, ChannelOut, ExpiryKind, LineKind, RuleKind
from hub.sales import baskets



def now() -> dt.datetime:
    """The booking clock (tests replace it)."""
    return utcnow()


class SiteIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)
    tz: str = Field("Europe/Zurich", description="IANA zone: local days for rules and expiry dates")


class OutletIn(BaseModel):
    id: Slug
    site_id: Slug
    name: str = Field("", max_length=100)
    kind: str = Field("shop", pattern=r"^[a-z_]{1,20}$", description="bar, shop, slide, partner …")


class OutletOut(BaseModel):
    id: str
    site_id: str
    name: str
    kind: str
    ledger: str
    revenue_account_id: int
    tz: str


class CounterIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)
    kind: str = Field("till", pattern="^(till|terminal|kiosk)$", description="till, terminal or kiosk")


class CounterOut(BaseModel):
    id: str
    outlet_id: str
    site_id: str
    name: str
    kind: str
    active: bool


class ProductGroupIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)


class ArticleIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)
    product_group_id: Slug | None = None
    revenue_group: Slug | None = Field(None, description="Umsatzgruppe, selected by card discounts")
    topping_group_id: Slug | None = Field(None, description="for toppings: their topping group")
    price: Minor = Field(description="minor units")


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


class TargetIn(BaseModel):
    id: str = Field(max_length=40, description="article / product group / topping / topping group id")
    points: int = Field(ge=0, le=1_000_000, strict=True)
    exclusive_voucher_types: list[str] = []
    exclude_menu_contents: bool = False


class RuleIn(BaseModel):
    name: str = Field(max_length=100)
    kind: RuleKind
    active: bool = True
    stores: list[str] = Field([], description="outlet ids; none: the rule acts as disabled")
    channels_in: list[ChannelIn] = list(ChannelIn)
    channels_out: list[ChannelOut] = list(ChannelOut)
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None
    weekdays: list[int] = Field(list(range(7)), description="0 = Monday … 6 = Sunday")
    on_holidays: bool = True
    targets: list[TargetIn] = []
    amount_per_point: Minor = Field(0, description="basket value rules: minor units per point")
    include_redeemed: bool = False
    include_small_quantity_surcharge: bool = False
    include_delivery_fee: bool = False
    points: int = Field(0, ge=0, strict=True, description="registration rules")
    immediately_redeemable: bool = False
    expiry: ExpiryKind = ExpiryKind.STANDARD
    expiry_days: int | None = Field(None, ge=0)
    expiry_date: dt.date | None = None


class RuleOut(RuleIn):
    id: int


class SettingsIn(BaseModel):
    hours_until_available: int = Field(0, ge=0, strict=True)
    default_validity_days: int | None = Field(None, ge=0, description="null: points never expire")
    enabled_stores: list[str] = Field([], description="outlets where the bonus system is on")
    point_value: Minor = Field(0, description="minor units a point is worth as payment; 0: off")


class LineIn(BaseModel):
    line_id: str | None = Field(None, max_length=40, description="default: the line's position, 1-based")
    article_id: Slug
    quantity: int = Field(1, ge=1, le=10_000, strict=True)
    kind: LineKind = LineKind.ARTICLE
    parent_line_id: str | None = Field(None, description="component → its menu line; topping → its line")


class VoucherIn(BaseModel):
    line_id: str = Field(max_length=40, description="the line the voucher pays (its whole quantity)")
    item_id: ItemId = Field(description="the card's gift item: a voucher for the line's article, "
                                        "redeemable at the outlet")


class BasketIn(BaseModel):
    card_uid: CardUid
    outlet_id: Slug
    counter_id: Slug | None = Field(None, description="the outlet's counter (till) it is paid at")
    channel_in: ChannelIn = ChannelIn.TILL
    channel_out: ChannelOut = ChannelOut.COUNTER
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    redeem_points: int = Field(0, ge=0, strict=True, description="points to pay with")
    small_quantity_surcharge: Minor = 0
    delivery_fee: Minor = 0
    vouchers: list[VoucherIn] = Field([], max_length=500, description=(
        "gift vouchers paying whole lines (seed 001): the card's gift units are redeemed and the "
        "settlement node owes the outlet the lines' nets"))


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


class QuoteOut(BaseModel):
    card_uid: str
    outlet_id: str
    counter_id: str | None = None
    lines: list[LineOut]
    discount: int
    fees: int
    total: int = Field(description="Σ line nets + fees")
    vouchers_value: int = Field(0, description="the line nets paid by gift vouchers")
    points_redeemed: int
    points_value: int = Field(description="minor units paid with the points redeemed")
    amount_due: int = Field(description="debited from the wallet: total − vouchers_value − points_value")
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
    status: str
    repeated: bool


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


def router(engine: Engine, currency: str = "CHF") -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    run = runner(engine)

    _outlets(api, run, currency)
    _catalogue(api, run)
    _discounts(api, run)
    _rules(api, run)
    _baskets(api, run)
    _points(api, run)
    return api


def _outlets(api, run, currency):
    @api.post("/sites", response_model=SiteIn, status_code=201, tags=["outlets"])
    def create_site(site: SiteIn):
        return run(outlets.create_site, site.id, site.name, site.tz)

    @api.get("/sites", response_model=list[SiteIn], tags=["outlets"])
    def list_sites():
        return run(outlets.list_sites, write=False)

    @api.post("/outlets", response_model=OutletOut, status_code=201, tags=["outlets"])
    def create_outlet(outlet: OutletIn):
        """An outlet of a site (also the "store" of bonus rules), with its own revenue account."""
        return run(outlets.create_outlet, currency, outlet.id, outlet.site_id, outlet.name, outlet.kind)

    @api.get("/outlets", response_model=list[OutletOut], tags=["outlets"])
    def list_outlets(site_id: str | None = None):
        return run(outlets.list_outlets, site_id, write=False)

    @api.put("/outlets/{outlet_id}/holidays", response_model=list[dt.date], tags=["bonus points"])
    def set_holidays(outlet_id: str, days: list[dt.date]):
        """Replace the outlet's holiday calendar (read by the bonus rules' holiday condition)."""
        return run(outlets.set_holidays, outlet_id, days)

    @api.get("/outlets/{outlet_id}/holidays", response_model=list[dt.date], tags=["bonus points"])
    def get_holidays(outlet_id: str):
        return run(outlets.holidays, outlet_id, write=False)

    @api.post("/outlets/{outlet_id}/counters", response_model=CounterOut, status_code=201,
              tags=["outlets"])
    def create_counter(outlet_id: str, counter: CounterIn):
        """A counter of the outlet (a till, a payment terminal, a kiosk). A cash register is
        configured with its counter id: GET /counters/{id} tells it its outlet and site, and it
        names the counter in the baskets it books."""
        return run(outlets.create_counter, outlet_id, counter.id, counter.name, counter.kind)

    @api.get("/outlets/{outlet_id}/counters", response_model=list[CounterOut], tags=["outlets"])
    def list_counters(outlet_id: str):
        return run(outlets.list_counters, outlet_id, write=False)

    @api.get("/counters/{counter_id}", response_model=CounterOut, tags=["outlets"])
    def get_counter(counter_id: str):
        return run(outlets.get_counter, counter_id, write=False)

    @api.post("/counters/{counter_id}/deactivate", response_model=CounterOut, tags=["outlets"])
    def deactivate_counter(counter_id: str):
        """Switch a counter off: baskets naming it are refused (409)."""
        return run(outlets.set_counter_active, counter_id, False)

    @api.post("/counters/{counter_id}/activate", response_model=CounterOut, tags=["outlets"])
    def activate_counter(counter_id: str):
        return run(outlets.set_counter_active, counter_id, True)


def _catalogue(api, run):
    @api.post("/product-groups", response_model=ProductGroupIn, status_code=201, tags=["catalogue"])
    def create_group(group: ProductGroupIn):
        return run(catalogue.create_group, group.id, group.name)

    @api.get("/product-groups", response_model=list[ProductGroupIn], tags=["catalogue"])
    def list_groups():
        return run(catalogue.list_groups, write=False)

    @api.post("/articles", response_model=ArticleIn, status_code=201, tags=["catalogue"])
    def create_article(article: ArticleIn):
        return run(catalogue.create_article, article.model_dump())

    @api.get("/articles", response_model=list[ArticleIn], tags=["catalogue"])
    def list_articles():
        return run(catalogue.list_articles, write=False)


def _discounts(api, run):
    @api.post("/discount-groups", response_model=DiscountGroupOut, status_code=201, tags=["discounts"])
    def create_discount_group(group: DiscountGroupIn):
        """A discount group (employee, customer, management …); employee consumption is a general 100 %."""
        return run(discounts.create_group, group.id, group.name, [r.model_dump() for r in group.rates])

    @api.get("/discount-groups", response_model=list[DiscountGroupOut], tags=["discounts"])
    def list_discount_groups():
        return run(discounts.list_groups, write=False)

    @api.put("/cards/{uid}/discounts", response_model=CardDiscountsOut, tags=["discounts"])
    def set_card_discounts(uid: str, body: CardDiscountsIn):
        """Set the card's group and own rates. Per source the most specific rate applies (article >
        revenue group > general); between the card's own and its group's, the larger. Line discounts
        are rounded half up to the minor unit."""
        return run(discounts.set_card_discounts, uid, body.group, [r.model_dump() for r in body.rates])

    @api.get("/cards/{uid}/discounts", response_model=CardDiscountsOut, tags=["discounts"])
    def get_card_discounts(uid: str):
        return run(discounts.card_discounts, uid, write=False)


def _rules(api, run):
    @api.post("/bonus-rules", response_model=RuleOut, status_code=201, tags=["bonus points"])
    def create_rule(rule: RuleIn):
        """A bonus-point rule (seed 003); the semantics are hub.bonus_rules' docstring."""
        return run(points.create_rule, rule.model_dump(mode="json") | {
            "valid_from": rule.valid_from, "valid_to": rule.valid_to, "expiry_date": rule.expiry_date})

    @api.get("/bonus-rules", response_model=list[RuleOut], tags=["bonus points"])
    def list_rules():
        return run(points.list_rules, write=False)

    @api.get("/bonus-rules/{rule_id}", response_model=RuleOut, tags=["bonus points"])
    def get_rule(rule_id: int):
        return run(points.get_rule, rule_id, write=False)

    @api.post("/bonus-rules/{rule_id}/activate", response_model=RuleOut, tags=["bonus points"])
    def activate(rule_id: int):
        return run(points.set_active, rule_id, True)

    @api.post("/bonus-rules/{rule_id}/deactivate", response_model=RuleOut, tags=["bonus points"])
    def deactivate(rule_id: int):
        return run(points.set_active, rule_id, False)

    @api.get("/bonus-settings", response_model=SettingsIn, tags=["bonus points"])
    def get_settings():
        return run(points.get_settings, write=False)

    @api.put("/bonus-settings", response_model=SettingsIn, tags=["bonus points"])
    def set_settings(settings: SettingsIn):
        """Hours until earned points are available, their default validity, the outlets where the
        bonus system is on (switched off: nothing is earned there, points stay redeemable) and the
        value of a point as payment."""
        return run(points.set_settings, settings.model_dump())


def _baskets(api, run):
    @api.post("/baskets/quote", response_model=QuoteOut, tags=["baskets"])
    def quote(basket: BasketIn):
        """Every figure of the basket as `pay` would book it; books nothing."""
        return run(_at_counter(baskets.quote), basket.model_dump(mode="json"), now(), write=False)

    @api.post("/baskets/pay", response_model=PaidOut, status_code=201, tags=["baskets"])
    def pay(basket: BasketIn, idempotency_key: Key = None):
        """Pay the basket from the card's wallet (and points, and gift vouchers for whole lines: the
        settlement node then owes the outlet their value); earn points. Send an Idempotency-Key
        header: a retry books nothing new and returns the first answer with repeated=true.
        Not enough balance, points or gift units: 409, nothing booked."""
        basket_id = uuid.uuid4().hex
        key = "basket/" + (idempotency_key or basket_id)
        return run(_at_counter(baskets.pay), basket.model_dump(mode="json"), basket_id, key, now(),
                   retry=True)

    @api.get("/baskets/{basket_id}", response_model=PaidOut, tags=["baskets"])
    def get_basket(basket_id: str):
        def view(conn):
            row = baskets.get_basket(conn, basket_id)
            return {**row["result"], "counter_id": row["request"].get("counter_id"),
                    "status": row["status"], "repeated": False}
        return run(view, write=False)

    @api.post("/baskets/{basket_id}/refund", response_model=BasketRefundOut, tags=["baskets"])
    def refund(basket_id: str):
        """Undo a paid basket once: money back to the wallet, redeemed points back into the lots
        they came from (their own expiry), earned points clawed back, gift vouchers back to the card
        (the outlet's redemption obligation reversed). Repeats answer repeated=true."""
        return run(baskets.refund, basket_id, now())


def _at_counter(fn):
    """fn(conn, req, …) with the basket's counter checked first and named in the answer."""
    def at_counter(conn, req, *args):
        outlets.check_counter(conn, req.get("counter_id"), req["outlet_id"])
        return {**fn(conn, req, *args), "counter_id": req.get("counter_id")}
    return at_counter


def _points(api, run):
    @api.get("/cards/{uid}/points", response_model=PointsOut, tags=["bonus points"])
    def card_points(uid: str):
        """The card's open point lots, in the order they are spent (expiring first)."""
        return run(points.summary, uid, now(), write=False)

    @api.post("/cards/{uid}/points/purchase", response_model=BuyPointsOut, status_code=201,
              tags=["bonus points"])
    def buy_points(uid: str, body: BuyPointsIn, idempotency_key: Key = None):
        """Buy points with wallet money at point_value each (seed 001: points as a means of payment)."""
        key = "points-purchase/" + (idempotency_key or uuid.uuid4().hex)
        return run(baskets.buy_points, uid, body.outlet_id, body.points, key, now(), retry=True)

    @api.post("/cards/{uid}/registration", response_model=RegisterOut, tags=["bonus points"])
    def register(uid: str, body: RegisterIn):
        """The card's holder registers (an account): registration rules award their points once."""
        return run(points.register, uid, body.outlet_id, body.channel_in.value, now(), retry=True)

    @api.post("/points/expire", response_model=ExpiryOut, tags=["bonus points"])
    def expire():
        """Book out what is left of every expired lot (expiry transfers; lots are kept)."""
        return run(points.run_expiry, now())
