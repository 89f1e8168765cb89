"""Bonus-point rules (seed 003): which basket earns how many points, and when they may be used.

A pure module: no database, no clock, no I/O. Refusals raise hub.core.errors.Invalid. The hub stores `Rule` rows (plus one row per
`Target`), builds a `RuleBook` from them and books the returned `Award`s as dated point lots.

    book = RuleBook(rules, BonusSettings(hours_until_available=24, default_validity_days=365,
                                         enabled_stores={"north"}))
    awards = book.awards_for_order(basket, store="north", channel_in="till", channel_out="counter",
                                   at=now_utc, tz="Europe/Zurich", holidays=store_holidays, ref=order_id)

Semantics — where the seed is specific it is followed literally; where it is silent the choice is
marked CHOICE and is tested in tests/test_bonus_rules.py.

Rule kinds ("Anwendungsart"): a rule is of exactly one kind — articles, product groups, toppings,
topping groups, basket value or account registration.

When does a rule apply (all must hold)?
  * `active` is set;
  * the store has the bonus system switched on (`BonusSettings.enabled_stores`); switched off means
    nothing is earned there (points already earned stay redeemable: that is the ledger's business);
  * the store is among `Rule.stores` — a rule without any store counts as deactivated (seed);
  * the order-in channel is in `channels_in` and the order-out channel in `channels_out`.
    CHOICE: the seed lists the channels "for which points are credited" and is silent on an empty
    selection; like an empty store list it means "nowhere" (fail closed — an emptied selection never
    hands out points by accident). The constructor's default is *all* channels.
  * `valid_from <= at < valid_to` (aware datetimes, either bound may be None = open);
  * the day: the local date (in the store's `tz`) is a holiday of the store (the caller passes the
    store's holiday calendar) → the rule applies iff `on_holidays`; otherwise iff the local weekday
    (0 = Monday … 6 = Sunday) is in `weekdays`. CHOICE: a holiday replaces its weekday, like
    "Sonn- und Feiertage" tariffs: a Mon–Fri rule without the holiday box does not run on Easter
    Monday, a holidays-only rule runs on no ordinary day. Defaults: all weekdays and holidays.

Points from lines (article, product-group, topping and topping-group rules):
  * Article / product-group rules give `points × quantity` for ARTICLE, MENU and COMPONENT lines
    whose article (resp. product group) is a target. Topping / topping-group rules give
    `points × quantity` for TOPPING lines (topping = the line's article id, group = its
    `topping_group_id`). CHOICE: article/group rules do not match topping lines and topping rules
    do not match other lines — the seed treats toppings as their own selection.
  * Conflicts (seed: two rules for the same articles or product groups at the same time and store →
    only one applies, the one giving fewer points is ignored). "The same articles" is decided per
    basket line: every applicable article or product-group rule that matches the line competes — an
    article rule and a group rule containing that article are "for the same article" too — and only
    the one giving the most points for that line is applied. CHOICE: the same per-line competition
    holds among topping and topping-group rules on a topping line. Ties: article rule before group
    rule (topping before topping group), then the lowest rule id — so the order of the rules never
    matters. Hence a line earns from at most one line rule, and `Award.key` is per line.
  * Exclusive voucher types (article rules, per target): a line that is the content of a used
    voucher of one of these types (`BasketLine.voucher_type`) earns 0 from that rule; the same
    article bought normally still earns. The rule then competes with 0 points for that line, so
    e.g. a product-group rule without the exclusion can still win it. Discounts on product groups
    are not voucher coverage (seed: "Warengruppen mit Rabatt werden nicht berücksichtigt"): the
    caller sets `voucher_type` only for articles contained in a voucher.
  * "No points on articles inside this menu" (article rules, per target): if the rule that wins a
    MENU line has this flag for the menu's article, the menu's COMPONENT lines earn nothing from
    article or product-group rules; TOPPING lines (on the menu or on its components) still earn.
    CHOICE: only the winning rule's flag counts — the losing rule is "ignored", settings included.
  * Quantities are whole numbers of articles (points are "per article"); a weighed article is sold
    as quantity 1. Negative quantities (returns) are rejected: a return reverses the order's
    awards in the ledger.

Points from the basket value (additive to the line points, seed):
  * value = Σ quantity × unit_price over all lines − voucher_discount
            − redeemed_points_value (unless `include_redeemed`)
            + small_quantity_surcharge (if `include_small_quantity_surcharge`)
            + delivery_fee (if `include_delivery_fee`), never below 0.
    "Redeemed value" is the part paid with bonus points, never vouchers (seed); voucher discounts
    always reduce the value. Menu components priced inside the menu must have unit_price 0.
  * points = value // amount_per_point — CHOICE: rounded down (49.99 at 10.00 per point = 4).
  * CHOICE: several basket-value rules applying at once compete like line rules: only the one
    giving the most points counts (the seed says only article/group + basket are additive).

Registration rules: points once per account when it registers within the validity period
(`awards_for_registration`; "once" is enforced by the ledger through `Award.key`, e.g. ref = the
account id). Store, bonus switch, channel-in, validity and day are checked like for orders;
channel-out does not exist for a registration. CHOICE: of several registration rules only the one
giving most points is awarded.

Dates of an award (`available_at`, `expires_at`, aware UTC):
  * available_at = at + `hours_until_available`, except registration rules with
    `immediately_redeemable` (seed: overrides the global setting) → available_at = at.
  * expires_at = at + `default_validity_days` (None = points never expire). CHOICE: validity counts
    from earning, not from availability. Registration rules may instead expire IN_DAYS (at + N days)
    or ON_DATE: CHOICE: the points are usable through that whole local day and expire at the
    following local midnight in the store's tz; a registration after that moment earns nothing.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from hub.core.errors import Invalid

__all__ = [
    "RuleKind",
    "ChannelIn",
    "ChannelOut",
    "LineKind",
    "ExpiryKind",
    "AwardSource",
    "ALL_CHANNELS_IN",
    "ALL_CHANNELS_OUT",
    "ALL_WEEKDAYS",
    "Target",
    "Rule",
    "BonusSettings",
    "BasketLine",
    "Basket",
    "Award",
    "RuleBook",
    "basket_value",
    "award_points",
    "registration_points",
]

Id = Hashable  # article, product group, topping, store and line ids: int or str, as the caller has them

UTC = _dt.UTC


class RuleKind(StrEnum):
    ARTICLE = "article"
    PRODUCT_GROUP = "product_group"
    TOPPING = "topping"
    TOPPING_GROUP = "topping_group"
    BASKET_VALUE = "basket_value"
    REGISTRATION = "registration"


class ChannelIn(StrEnum):
    """Where the order comes in (Bestelleingang)."""

    WEBSHOP = "webshop"
    APP = "app"
    TILL = "till"
    MACHINE = "machine"


class ChannelOut(StrEnum):
    """How the order leaves the store (Bestellausgang)."""

    PICKUP = "pickup"
    DELIVERY = "delivery"
    COUNTER = "counter"


class LineKind(StrEnum):
    ARTICLE = "article"  # an ordinary article
    MENU = "menu"  # a menu article; its contents are COMPONENT lines pointing at it
    COMPONENT = "component"  # an article inside a menu (parent_id = the MENU line)
    TOPPING = "topping"  # a topping (parent_id = the line it belongs to)


class ExpiryKind(StrEnum):
    STANDARD = "standard"  # BonusSettings.default_validity_days
    IN_DAYS = "in_days"  # Rule.expiry_days after earning
    ON_DATE = "on_date"  # Rule.expiry_date (local date of the store)


class AwardSource(StrEnum):
    LINE = "line"
    BASKET = "basket"
    REGISTRATION = "registration"


def _member(kind: type[StrEnum], value):
    """value as a member of the enum kind; Invalid names what is allowed."""
    try:
        return kind(value)
    except ValueError:
        raise Invalid(f"{value!r} is not a {kind.__name__}: one of {', '.join(kind)}") from None


ALL_CHANNELS_IN = frozenset(ChannelIn)
ALL_CHANNELS_OUT = frozenset(ChannelOut)
ALL_WEEKDAYS = frozenset(range(7))

_LINE_KINDS = {RuleKind.ARTICLE, RuleKind.PRODUCT_GROUP, RuleKind.TOPPING, RuleKind.TOPPING_GROUP}
# Tie-break rank among competing rules on one line: the more specific selection first.
_LABEL = {
    RuleKind.ARTICLE: "article",
    RuleKind.PRODUCT_GROUP: "product group",
    RuleKind.TOPPING: "topping",
    RuleKind.TOPPING_GROUP: "topping group",
}
_RANK = {RuleKind.ARTICLE: 0, RuleKind.PRODUCT_GROUP: 1, RuleKind.TOPPING: 0, RuleKind.TOPPING_GROUP: 1}


def _aware(name: str, value: _dt.datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise Invalid(f"{name} must be a timezone-aware datetime, got {value!r}")


def _nonneg_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"{name} must be a non-negative int, got {value!r}")


@dataclass(frozen=True, slots=True)
class Target:
    """One selected article / product group / topping / topping group of a rule, with its points.

    `exclusive_voucher_types` and `exclude_menu_contents` exist for article rules only.
    Maps to a `bonus_rule_target(rule_id, target_id, points, …)` row.
    """

    id: Id
    points: int
    exclusive_voucher_types: frozenset[str] = frozenset()
    exclude_menu_contents: bool = False

    def __post_init__(self) -> None:
        _nonneg_int("Target.points", self.points)
        object.__setattr__(self, "exclusive_voucher_types", frozenset(self.exclusive_voucher_types))


@dataclass(frozen=True)
class Rule:
    """A bonus-point rule. Flat on purpose: one table row, plus `targets` as child rows."""

    id: int
    name: str
    kind: RuleKind
    active: bool = True
    stores: frozenset[Id] = frozenset()  # empty → the rule counts as deactivated
    channels_in: frozenset[ChannelIn] = ALL_CHANNELS_IN  # empty → applies on no channel
    channels_out: frozenset[ChannelOut] = ALL_CHANNELS_OUT
    valid_from: _dt.datetime | None = None  # inclusive, aware
    valid_to: _dt.datetime | None = None  # exclusive, aware
    weekdays: frozenset[int] = ALL_WEEKDAYS  # 0 = Monday … 6 = Sunday
    on_holidays: bool = True
    # article / product group / topping / topping group rules; a Mapping {id: points} is accepted
    targets: tuple[Target, ...] = ()
    # basket-value rules
    amount_per_point: int = 0  # minor units per point, e.g. 1000 = 10.00
    include_redeemed: bool = False
    include_small_quantity_surcharge: bool = False
    include_delivery_fee: bool = False
    # registration rules
    points: int = 0
    immediately_redeemable: bool = False
    expiry: ExpiryKind = ExpiryKind.STANDARD
    expiry_days: int | None = None
    expiry_date: _dt.date | None = None

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "kind", _member(RuleKind, self.kind))
        s(self, "stores", frozenset(self.stores))
        s(self, "channels_in", frozenset(_member(ChannelIn, c) for c in self.channels_in))
        s(self, "channels_out", frozenset(_member(ChannelOut, c) for c in self.channels_out))
        s(self, "weekdays", frozenset(self.weekdays))
        s(self, "expiry", _member(ExpiryKind, self.expiry))
        if not self.weekdays <= ALL_WEEKDAYS:
            raise Invalid(f"rule {self.id}: weekdays must be 0..6, got {sorted(self.weekdays)}")
        _aware("valid_from", self.valid_from)
        _aware("valid_to", self.valid_to)
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise Invalid(f"rule {self.id}: valid_from is after valid_to")
        targets = self.targets
        if isinstance(targets, Mapping):
            targets = tuple(Target(k, v) for k, v in targets.items())
        s(self, "targets", tuple(targets))
        kind = self.kind
        if kind in _LINE_KINDS:
            if not self.targets:
                raise Invalid(f"rule {self.id}: a {kind} rule needs at least one target")
            ids = [t.id for t in self.targets]
            if len(set(ids)) != len(ids):
                raise Invalid(f"rule {self.id}: duplicate targets")
            if kind is not RuleKind.ARTICLE and any(
                t.exclusive_voucher_types or t.exclude_menu_contents for t in self.targets
            ):
                raise Invalid(f"rule {self.id}: voucher/menu exclusions exist for article rules only")
        elif self.targets:
            raise Invalid(f"rule {self.id}: a {kind} rule has no targets")
        if kind is RuleKind.BASKET_VALUE:
            _nonneg_int("amount_per_point", self.amount_per_point)
            if self.amount_per_point == 0:
                raise Invalid(f"rule {self.id}: amount_per_point must be > 0")
        if kind is RuleKind.REGISTRATION:
            _nonneg_int("points", self.points)
            if self.expiry is ExpiryKind.IN_DAYS:
                _nonneg_int("expiry_days", self.expiry_days)
            if self.expiry is ExpiryKind.ON_DATE and not isinstance(self.expiry_date, _dt.date):
                raise Invalid(f"rule {self.id}: ON_DATE expiry needs expiry_date")


@dataclass(frozen=True)
class BonusSettings:
    """The global bonus-system settings (Admin: Anreize > Bonussystem-Einstellungen)."""

    hours_until_available: int = 0
    default_validity_days: int | None = None  # None: points do not expire
    enabled_stores: frozenset[Id] = frozenset()  # the bonus system is switched on only here

    def __post_init__(self) -> None:
        _nonneg_int("hours_until_available", self.hours_until_available)
        if self.default_validity_days is not None:
            _nonneg_int("default_validity_days", self.default_validity_days)
        object.__setattr__(self, "enabled_stores", frozenset(self.enabled_stores))


@dataclass(frozen=True, slots=True)
class BasketLine:
    line_id: Id
    article_id: Id
    quantity: int = 1
    unit_price: int = 0  # minor units, before vouchers / point redemption
    kind: LineKind = LineKind.ARTICLE
    product_group_id: Id | None = None
    parent_id: Id | None = None  # COMPONENT → its MENU line; TOPPING → the line it tops
    topping_group_id: Id | None = None  # TOPPING lines
    voucher_type: str | None = None  # this line is the content of a used voucher of this type

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _member(LineKind, self.kind))
        _nonneg_int(f"line {self.line_id!r} quantity", self.quantity)
        _nonneg_int(f"line {self.line_id!r} unit_price", self.unit_price)


@dataclass(frozen=True)
class Basket:
    lines: tuple[BasketLine, ...] = ()
    small_quantity_surcharge: int = 0  # Mindermengenzuschlag, minor units
    delivery_fee: int = 0
    redeemed_points_value: int = 0  # the part paid with bonus points, minor units
    voucher_discount: int = 0  # the part paid with vouchers, minor units

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        for name in ("small_quantity_surcharge", "delivery_fee", "redeemed_points_value", "voucher_discount"):
            _nonneg_int(name, getattr(self, name))
        by_id = {}
        for line in self.lines:
            if line.line_id in by_id:
                raise Invalid(f"duplicate line id {line.line_id!r}")
            by_id[line.line_id] = line
        for line in self.lines:
            if line.kind is LineKind.COMPONENT:
                parent = by_id.get(line.parent_id)
                if parent is None or parent.kind is not LineKind.MENU:
                    raise Invalid(f"component line {line.line_id!r} needs a MENU parent line")
            elif line.kind is LineKind.TOPPING:
                if line.parent_id is not None and line.parent_id not in by_id:
                    raise Invalid(f"topping line {line.line_id!r}: unknown parent line")
            elif line.parent_id is not None:
                raise Invalid(f"{line.kind} line {line.line_id!r} cannot have a parent")


@dataclass(frozen=True, slots=True)
class Award:
    """Points to book as one dated lot."""

    points: int
    rule_id: int
    rule_name: str
    rule_kind: RuleKind
    source: AwardSource
    line_id: Id | None  # the basket line (source LINE), else None
    reason: str
    available_at: _dt.datetime
    expires_at: _dt.datetime | None
    key: str | None  # idempotency key "<ref>:line:<id>" / "<ref>:basket" / "<ref>:registration"


def basket_value(basket: Basket, rule: Rule) -> int:
    """The value a basket-value rule earns on, in minor units (see module docstring)."""
    value = sum(line.quantity * line.unit_price for line in basket.lines) - basket.voucher_discount
    if not rule.include_redeemed:
        value -= basket.redeemed_points_value
    if rule.include_small_quantity_surcharge:
        value += basket.small_quantity_surcharge
    if rule.include_delivery_fee:
        value += basket.delivery_fee
    return value if value > 0 else 0


def _money(minor: int) -> str:  # for reasons only; assumes a 2-decimal currency (CHF, EUR)
    return f"{minor // 100}.{minor % 100:02d}"


@lru_cache(maxsize=256)
def _zone(tz: str) -> _dt.tzinfo:
    return UTC if tz == "UTC" else ZoneInfo(tz)


class _Rule:
    """A compiled rule: the fields the hot path reads, as slots."""

    __slots__ = (
        "rule",
        "id",
        "name",
        "kind",
        "rank",
        "stores",
        "cin",
        "cout",
        "vfrom",
        "vto",
        "weekdays",
        "on_holidays",
    )

    def __init__(self, rule: Rule):
        self.rule = rule
        self.id = rule.id
        self.name = rule.name
        self.kind = rule.kind
        self.rank = _RANK.get(rule.kind, 0)
        self.stores = rule.stores
        self.cin = rule.channels_in
        self.cout = rule.channels_out
        self.vfrom = rule.valid_from
        self.vto = rule.valid_to
        self.weekdays = rule.weekdays
        self.on_holidays = rule.on_holidays


class RuleBook:
    """Rules compiled into indexes by article, product group, topping and topping group.

    Build once when rules change; evaluation only looks at the rules that match a line, and checks
    each such rule's store/channel/time conditions once per order.
    """

    def __init__(self, rules: Iterable[Rule], settings: BonusSettings):
        self.settings = settings
        self.rules: tuple[Rule, ...] = tuple(rules)
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise Invalid("duplicate rule ids")
        self._by_article: dict[Id, list[tuple[_Rule, Target]]] = {}
        self._by_group: dict[Id, list[tuple[_Rule, Target]]] = {}
        self._by_topping: dict[Id, list[tuple[_Rule, Target]]] = {}
        self._by_topping_group: dict[Id, list[tuple[_Rule, Target]]] = {}
        self._basket: list[_Rule] = []
        self._registration: list[_Rule] = []
        index = {
            RuleKind.ARTICLE: self._by_article,
            RuleKind.PRODUCT_GROUP: self._by_group,
            RuleKind.TOPPING: self._by_topping,
            RuleKind.TOPPING_GROUP: self._by_topping_group,
        }
        for rule in sorted(self.rules, key=lambda r: r.id):
            if not rule.active or not rule.stores:
                continue  # deactivated, or no store: counts as deactivated (seed)
            if not rule.channels_in or not rule.weekdays and not rule.on_holidays:
                continue  # can never apply
            c = _Rule(rule)
            if rule.kind in index:
                idx = index[rule.kind]
                for t in rule.targets:
                    idx.setdefault(t.id, []).append((c, t))
            elif rule.kind is RuleKind.BASKET_VALUE:
                self._basket.append(c)
            else:
                self._registration.append(c)

    # -- applicability -------------------------------------------------------------------------

    @staticmethod
    def _day(at: _dt.datetime, tz: str, holidays) -> tuple[int, bool]:
        _aware("at", at)
        local = at.astimezone(_zone(tz)).date()
        return local.weekday(), local in holidays

    # -- orders --------------------------------------------------------------------------------

    def awards_for_order(
        self,
        basket: Basket,
        *,
        store: Id,
        channel_in: ChannelIn | str,
        channel_out: ChannelOut | str,
        at: _dt.datetime,
        tz: str = "UTC",
        holidays: Iterable[_dt.date] = frozenset(),
        ref: str | None = None,
    ) -> list[Award]:
        """The point awards for one order: at most one per basket line, plus at most one for the basket."""
        settings = self.settings
        if store not in settings.enabled_stores:
            return []
        cin = _member(ChannelIn, channel_in)
        cout = _member(ChannelOut, channel_out)
        weekday, is_holiday = self._day(
            at, tz, holidays if isinstance(holidays, (set, frozenset)) else frozenset(holidays)
        )
        at_utc = at.astimezone(UTC)
        available_at = at_utc + _dt.timedelta(hours=settings.hours_until_available)
        expires_at = (
            None
            if settings.default_validity_days is None
            else at_utc + _dt.timedelta(days=settings.default_validity_days)
        )

        memo: dict[int, bool] = {}

        def applies(c: _Rule) -> bool:
            ok = memo.get(c.id)
            if ok is None:
                ok = (
                    store in c.stores
                    and cin in c.cin
                    and cout in c.cout
                    and (c.vfrom is None or c.vfrom <= at)
                    and (c.vto is None or at < c.vto)
                    and (c.on_holidays if is_holiday else weekday in c.weekdays)
                )
                memo[c.id] = ok
            return ok

        def best(line: BasketLine, candidates) -> tuple[int, _Rule, Target] | None:
            win = None
            q = line.quantity
            vt = line.voucher_type
            for c, t in candidates:
                if not applies(c):
                    continue
                pts = 0 if vt is not None and vt in t.exclusive_voucher_types else t.points * q
                if (
                    win is None
                    or pts > win[0]
                    or (pts == win[0] and (c.rank, c.id) < (win[1].rank, win[1].id))
                ):
                    win = (pts, c, t)
            return win

        by_article, by_group = self._by_article, self._by_group
        by_topping, by_tgroup = self._by_topping, self._by_topping_group
        empty: list = []
        awards: list[Award] = []
        excluded_menus = set()
        winners = []
        lines = basket.lines
        # Menu lines first: their winning rule may exclude the menu's components.
        for line in lines:
            if line.kind is LineKind.MENU:
                cands = by_article.get(line.article_id, empty) + by_group.get(line.product_group_id, empty)
                win = best(line, cands) if cands else None
                if win is not None and win[2].exclude_menu_contents:
                    excluded_menus.add(line.line_id)
        for line in lines:
            kind = line.kind
            if kind is LineKind.TOPPING:
                a = by_topping.get(line.article_id, empty)
                g = (
                    by_tgroup.get(line.topping_group_id, empty)
                    if line.topping_group_id is not None
                    else empty
                )
            elif kind is LineKind.COMPONENT and line.parent_id in excluded_menus:
                continue
            else:
                a = by_article.get(line.article_id, empty)
                g = by_group.get(line.product_group_id, empty) if line.product_group_id is not None else empty
            if not a and not g:
                continue
            win = best(line, a + g if g else a)
            if win is not None and win[0] > 0:
                winners.append((line, win))
        for line, (pts, c, t) in winners:
            awards.append(
                Award(
                    pts,
                    c.id,
                    c.name,
                    c.kind,
                    AwardSource.LINE,
                    line.line_id,
                    f"{c.name}: {t.points} pts x {line.quantity} for {_LABEL[c.kind]} {t.id!r}"
                    f" ({line.kind.value} {line.article_id!r}, line {line.line_id!r})",
                    available_at,
                    expires_at,
                    None if ref is None else f"{ref}:line:{line.line_id}",
                )
            )

        # Basket value: additive to the line points; among basket rules the highest wins.
        win = None
        for c in self._basket:
            if not applies(c):
                continue
            rule = c.rule
            value = basket_value(basket, rule)
            pts = value // rule.amount_per_point
            if win is None or pts > win[0] or (pts == win[0] and c.id < win[1].id):
                win = (pts, c, value)
        if win is not None and win[0] > 0:
            pts, c, value = win
            awards.append(
                Award(
                    pts,
                    c.id,
                    c.name,
                    c.kind,
                    AwardSource.BASKET,
                    None,
                    f"{c.name}: basket value {_money(value)} at {_money(c.rule.amount_per_point)} per point",
                    available_at,
                    expires_at,
                    None if ref is None else f"{ref}:basket",
                )
            )
        return awards

    # -- registration --------------------------------------------------------------------------

    def awards_for_registration(
        self,
        *,
        store: Id,
        channel_in: ChannelIn | str,
        at: _dt.datetime,
        tz: str = "UTC",
        holidays: Iterable[_dt.date] = frozenset(),
        ref: str | None = None,
    ) -> list[Award]:
        """The one-off points for an account registering now (at most one award)."""
        settings = self.settings
        if store not in settings.enabled_stores:
            return []
        cin = _member(ChannelIn, channel_in)
        weekday, is_holiday = self._day(at, tz, frozenset(holidays))
        at_utc = at.astimezone(UTC)
        win = None
        for c in self._registration:
            if not (
                store in c.stores
                and cin in c.cin
                and (c.vfrom is None or c.vfrom <= at)
                and (c.vto is None or at < c.vto)
                and (c.on_holidays if is_holiday else weekday in c.weekdays)
            ):
                continue
            rule = c.rule
            if rule.expiry is ExpiryKind.STANDARD:
                days = settings.default_validity_days
                expires = None if days is None else at_utc + _dt.timedelta(days=days)
            elif rule.expiry is ExpiryKind.IN_DAYS:
                expires = at_utc + _dt.timedelta(days=rule.expiry_days)
            else:
                next_day = rule.expiry_date + _dt.timedelta(days=1)
                expires = _dt.datetime.combine(next_day, _dt.time(0), tzinfo=_zone(tz)).astimezone(UTC)
            if expires is not None and expires <= at_utc:
                continue  # would be expired at once
            if rule.points > 0 and (
                win is None or rule.points > win[0] or (rule.points == win[0] and c.id < win[1].id)
            ):
                win = (rule.points, c, expires)
        if win is None:
            return []
        pts, c, expires = win
        rule = c.rule
        available = (
            at_utc
            if rule.immediately_redeemable
            else at_utc + _dt.timedelta(hours=settings.hours_until_available)
        )
        return [
            Award(
                pts,
                c.id,
                c.name,
                c.kind,
                AwardSource.REGISTRATION,
                None,
                f"{c.name}: {pts} pts for registering"
                + (", redeemable at once" if rule.immediately_redeemable else ""),
                available,
                expires,
                None if ref is None else f"{ref}:registration",
            )
        ]


def award_points(rules: Iterable[Rule], settings: BonusSettings, basket: Basket, **order) -> list[Award]:
    """One-shot convenience: `RuleBook(rules, settings).awards_for_order(basket, **order)`."""
    return RuleBook(rules, settings).awards_for_order(basket, **order)


def registration_points(rules: Iterable[Rule], settings: BonusSettings, **registration) -> list[Award]:
    """One-shot convenience: `RuleBook(rules, settings).awards_for_registration(**registration)`."""
    return RuleBook(rules, settings).awards_for_registration(**registration)
