"""Bonus-point rules (seed 003), top-up bonus (seed 002): examples, conflicts, filters, properties."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from hub.core.errors import Invalid
from hub.loyalty.point_rules import (
    ALL_CHANNELS_IN,
    ALL_CHANNELS_OUT,
    AwardSource,
    Basket,
    BasketLine,
    BonusSettings,
    ChannelIn,
    ChannelOut,
    ExpiryKind,
    LineKind,
    Rule,
    RuleBook,
    RuleKind,
    Target,
    award_points,
    basket_value,
    registration_points,
)
from hub.wallets.topup_bonus import Tier as TopupTier
from hub.wallets.topup_bonus import topup_bonus

UTC = dt.UTC
WED = dt.datetime(2025, 7, 16, 12, 0, tzinfo=UTC)  # Wednesday
MON = dt.datetime(2025, 7, 14, 12, 0, tzinfo=UTC)
TUE = dt.datetime(2025, 7, 15, 12, 0, tzinfo=UTC)
ON = BonusSettings(hours_until_available=0, default_validity_days=None, enabled_stores={"north", "south"})
ORDER = dict(store="north", channel_in="till", channel_out="counter", at=WED)


def art(rid, targets, **kw):
    kw.setdefault("stores", {"north"})
    return Rule(id=rid, name=kw.pop("name", f"r{rid}"), kind=RuleKind.ARTICLE, targets=targets, **kw)


def grp(rid, targets, **kw):
    kw.setdefault("stores", {"north"})
    return Rule(id=rid, name=f"g{rid}", kind=RuleKind.PRODUCT_GROUP, targets=targets, **kw)


def basket_rule(rid, amount, **kw):
    kw.setdefault("stores", {"north"})
    return Rule(id=rid, name=f"b{rid}", kind=RuleKind.BASKET_VALUE, amount_per_point=amount, **kw)


def reg(rid, points, **kw):
    kw.setdefault("stores", {"north"})
    return Rule(id=rid, name=f"reg{rid}", kind=RuleKind.REGISTRATION, points=points, **kw)


def line(lid, article, qty=1, price=0, group=None, **kw):
    return BasketLine(
        line_id=lid, article_id=article, quantity=qty, unit_price=price, product_group_id=group, **kw
    )


def total(awards):
    return sum(a.points for a in awards)


def run(rules, basket, settings=ON, **order):
    return award_points(rules, settings, basket, **{**ORDER, **order})


# ---------------------------------------------------------------------------------------------
# Seed examples
# ---------------------------------------------------------------------------------------------


def test_seed_basket_value_10_eur_per_point_50_eur_gives_5_extra_points():
    rules = [basket_rule(1, 1000), art(2, {"cola": 2})]
    basket = Basket([line(1, "cola", qty=5, price=1000)])  # 50.00
    awards = run(rules, basket)
    by_source = {a.source: a.points for a in awards}
    assert by_source == {AwardSource.LINE: 10, AwardSource.BASKET: 5}  # 5 extra on top of the article points
    assert total(awards) == 15


def test_seed_redeemed_value_flag_10_points_vs_0():
    basket = Basket([line(1, "pizza", price=1000)], redeemed_points_value=1000)  # paid fully with points
    with_flag = run([basket_rule(1, 100, include_redeemed=True)], basket)
    without = run([basket_rule(1, 100, include_redeemed=False)], basket)
    assert total(with_flag) == 10
    assert without == []


def test_redeemed_value_flag_does_not_cover_vouchers():
    basket = Basket([line(1, "pizza", price=1000)], voucher_discount=400)
    assert total(run([basket_rule(1, 100, include_redeemed=True)], basket)) == 6
    assert total(run([basket_rule(1, 100, include_redeemed=False)], basket)) == 6


def test_small_quantity_surcharge_and_delivery_fee_flags():
    basket = Basket([line(1, "pizza", price=1000)], small_quantity_surcharge=300, delivery_fee=500)
    assert total(run([basket_rule(1, 100)], basket)) == 10
    assert total(run([basket_rule(1, 100, include_small_quantity_surcharge=True)], basket)) == 13
    assert total(run([basket_rule(1, 100, include_delivery_fee=True)], basket)) == 15
    assert (
        total(
            run(
                [basket_rule(1, 100, include_small_quantity_surcharge=True, include_delivery_fee=True)],
                basket,
            )
        )
        == 18
    )


def test_basket_points_round_down():
    assert total(run([basket_rule(1, 1000)], Basket([line(1, "x", price=4999)]))) == 4
    assert run([basket_rule(1, 1000)], Basket([line(1, "x", price=999)])) == []


def test_basket_value_never_negative():
    basket = Basket([line(1, "x", price=500)], voucher_discount=400, redeemed_points_value=400)
    assert basket_value(basket, basket_rule(1, 100)) == 0
    assert basket_value(basket, basket_rule(1, 100, include_redeemed=True)) == 100


def test_seed_002_topup_50_chf_plus_5_percent_is_52_50():
    assert topup_bonus(5000, [(0, 5)]) == 250
    assert 5000 + topup_bonus(5000, [TopupTier(0, "5")]) == 5250


def test_topup_tiers_step_and_round_down():
    tiers = [(2000, 2), (5000, 5), (10000, "7.5")]
    assert topup_bonus(1999, tiers) == 0
    assert topup_bonus(2000, tiers) == 40
    assert topup_bonus(4999, tiers) == 99  # 99.98 rounded down
    assert topup_bonus(5000, tiers) == 250  # whole amount at the reached tier
    assert topup_bonus(10001, tiers) == 750
    assert topup_bonus(10000, list(reversed(tiers))) == 750


def test_seed_registration_expires_in_150_days():
    awards = registration_points(
        [reg(1, 50, expiry=ExpiryKind.IN_DAYS, expiry_days=150)], ON, store="north", channel_in="app", at=WED
    )
    assert [a.points for a in awards] == [50]
    assert awards[0].expires_at == WED + dt.timedelta(days=150)


# ---------------------------------------------------------------------------------------------
# Article, group, topping points
# ---------------------------------------------------------------------------------------------


def test_article_points_per_unit():
    awards = run([art(1, {"cola": 3})], Basket([line(7, "cola", qty=4), line(8, "water", qty=2)]))
    assert [(a.line_id, a.points, a.rule_id) for a in awards] == [(7, 12, 1)]
    assert "cola" in awards[0].reason and "r1" in awards[0].reason


def test_product_group_points_per_article_in_group():
    rules = [grp(1, {"drinks": 2, "snacks": 1})]
    basket = Basket(
        [
            line(1, "cola", 3, group="drinks"),
            line(2, "chips", 2, group="snacks"),
            line(3, "towel", 1, group="shop"),
        ]
    )
    assert [(a.line_id, a.points) for a in run(rules, basket)] == [(1, 6), (2, 2)]


def test_topping_and_topping_group_points_per_topping():
    rules = [
        Rule(id=1, name="t", kind=RuleKind.TOPPING, stores={"north"}, targets={"cheese": 2}),
        Rule(id=2, name="tg", kind=RuleKind.TOPPING_GROUP, stores={"north"}, targets={"sauces": 1}),
    ]
    basket = Basket(
        [
            line(1, "pizza", price=1200),
            BasketLine(2, "cheese", quantity=2, kind=LineKind.TOPPING, parent_id=1, topping_group_id="dairy"),
            BasketLine(3, "bbq", quantity=3, kind=LineKind.TOPPING, parent_id=1, topping_group_id="sauces"),
        ]
    )
    assert {a.line_id: a.points for a in run(rules, basket)} == {2: 4, 3: 3}


def test_article_rules_do_not_match_topping_lines_and_vice_versa():
    rules = [
        art(1, {"cheese": 5}),
        Rule(id=2, name="t", kind=RuleKind.TOPPING, stores={"north"}, targets={"pizza": 5}),
    ]
    basket = Basket([line(1, "pizza"), BasketLine(2, "cheese", kind=LineKind.TOPPING, parent_id=1)])
    assert run(rules, basket) == []


# ---------------------------------------------------------------------------------------------
# Conflicts
# ---------------------------------------------------------------------------------------------


def test_two_rules_same_article_only_higher_applies():
    for rules in ([art(1, {"cola": 2}), art(2, {"cola": 5})], [art(2, {"cola": 5}), art(1, {"cola": 2})]):
        awards = run(rules, Basket([line(1, "cola", qty=2)]))
        assert [(a.rule_id, a.points) for a in awards] == [(2, 10)]


def test_article_rule_and_group_rule_on_same_line_compete():
    basket = Basket([line(1, "cola", qty=2, group="drinks")])
    assert [(a.rule_id, a.points) for a in run([art(1, {"cola": 2}), grp(2, {"drinks": 3})], basket)] == [
        (2, 6)
    ]
    assert [(a.rule_id, a.points) for a in run([art(1, {"cola": 4}), grp(2, {"drinks": 3})], basket)] == [
        (1, 8)
    ]


def test_overlapping_rules_only_compete_on_shared_lines():
    rules = [art(1, {"cola": 2, "fanta": 2}), art(2, {"cola": 5})]
    awards = run(rules, Basket([line(1, "cola"), line(2, "fanta")]))
    assert {a.line_id: (a.rule_id, a.points) for a in awards} == {1: (2, 5), 2: (1, 2)}


def test_higher_rule_not_applying_leaves_lower_rule():
    later = WED + dt.timedelta(days=30)
    rules = [art(1, {"cola": 2}), art(2, {"cola": 5}, valid_from=later)]
    assert [(a.rule_id, a.points) for a in run(rules, Basket([line(1, "cola")]))] == [(1, 2)]
    rules = [art(1, {"cola": 2}), art(2, {"cola": 5}, stores={"south"})]
    assert [(a.rule_id, a.points) for a in run(rules, Basket([line(1, "cola")]))] == [(1, 2)]


def test_line_rules_and_basket_rule_are_additive():
    rules = [art(1, {"cola": 2}), grp(2, {"drinks": 1}), basket_rule(3, 100)]
    awards = run(
        rules,
        Basket([line(1, "cola", price=500, group="drinks"), line(2, "fanta", price=300, group="drinks")]),
    )
    assert {(a.source, a.line_id): a.points for a in awards} == {
        (AwardSource.LINE, 1): 2,
        (AwardSource.LINE, 2): 1,
        (AwardSource.BASKET, None): 8,
    }


def test_two_basket_rules_only_the_higher_applies():
    rules = [basket_rule(1, 1000), basket_rule(2, 500)]
    awards = run(rules, Basket([line(1, "x", price=5000)]))
    assert [(a.rule_id, a.points) for a in awards] == [(2, 10)]


def test_ties_article_before_group_then_lowest_id():
    basket = Basket([line(1, "cola", group="drinks")])
    assert run([grp(1, {"drinks": 3}), art(9, {"cola": 3})], basket)[0].rule_id == 9
    assert run([art(5, {"cola": 3}), art(4, {"cola": 3})], basket)[0].rule_id == 4


# ---------------------------------------------------------------------------------------------
# When rules apply
# ---------------------------------------------------------------------------------------------

COLA = Basket([line(1, "cola", price=1000)])


def test_rule_without_store_is_disabled():
    assert run([art(1, {"cola": 2}, stores=set()), basket_rule(2, 100, stores=set())], COLA) == []


def test_rule_only_in_its_stores():
    assert total(run([art(1, {"cola": 2}, stores={"south"})], COLA)) == 0
    assert total(run([art(1, {"cola": 2}, stores={"south"})], COLA, store="south")) == 2


def test_inactive_rule_gives_nothing():
    assert run([art(1, {"cola": 2}, active=False), basket_rule(2, 100, active=False)], COLA) == []


def test_bonus_system_switched_off_for_store_gives_nothing():
    rules = [art(1, {"cola": 2}, stores={"north", "east"}), basket_rule(2, 100, stores={"east"})]
    assert total(run(rules, COLA)) == 2
    assert run(rules, COLA, store="east") == []  # rules list the store, the system is off there
    off = BonusSettings(enabled_stores=set())
    assert run(rules, COLA, settings=off) == []
    assert (
        registration_points([reg(3, 50, stores={"east"})], ON, store="east", channel_in="app", at=WED) == []
    )


def test_validity_period_from_inclusive_to_exclusive():
    rule = art(1, {"cola": 2}, valid_from=WED, valid_to=WED + dt.timedelta(days=1))
    assert total(run([rule], COLA, at=WED - dt.timedelta(seconds=1))) == 0
    assert total(run([rule], COLA, at=WED)) == 2
    assert total(run([rule], COLA, at=WED + dt.timedelta(hours=23, minutes=59))) == 2
    assert total(run([rule], COLA, at=WED + dt.timedelta(days=1))) == 0


def test_validity_compares_instants_across_timezones():
    zurich = ZoneInfo("Europe/Zurich")
    rule = art(1, {"cola": 2}, valid_from=dt.datetime(2025, 7, 16, 14, 0, tzinfo=zurich))  # = 12:00 UTC
    assert total(run([rule], COLA, at=WED)) == 2
    assert total(run([rule], COLA, at=WED - dt.timedelta(minutes=1))) == 0


def test_weekday_filter():
    monday_only = art(1, {"cola": 2}, weekdays={0})
    assert total(run([monday_only], COLA, at=MON)) == 2
    assert total(run([monday_only], COLA, at=TUE)) == 0


def test_weekday_is_decided_in_store_timezone():
    monday_only = art(1, {"cola": 2}, weekdays={0})
    sunday_late_utc = dt.datetime(2025, 7, 13, 23, 30, tzinfo=UTC)  # Monday 01:30 in Zurich
    assert total(run([monday_only], COLA, at=sunday_late_utc)) == 0
    assert total(run([monday_only], COLA, at=sunday_late_utc, tz="Europe/Zurich")) == 2


def test_holiday_rule_runs_on_holidays_only():
    holidays_only = art(1, {"cola": 2}, weekdays=set(), on_holidays=True)
    national_day = dt.date(2025, 8, 1)
    at = dt.datetime(2025, 8, 1, 10, tzinfo=UTC)
    assert total(run([holidays_only], COLA, at=at, holidays={national_day})) == 2
    assert total(run([holidays_only], COLA, at=at, holidays=set())) == 0
    assert total(run([holidays_only], COLA, at=WED, holidays={national_day})) == 0


def test_holiday_replaces_its_weekday():
    workdays = art(1, {"cola": 2}, weekdays={0, 1, 2, 3, 4}, on_holidays=False)
    assert total(run([workdays], COLA, at=MON)) == 2
    assert total(run([workdays], COLA, at=MON, holidays={MON.date()})) == 0


def test_holiday_is_decided_in_store_timezone():
    holidays_only = art(1, {"cola": 2}, weekdays=set(), on_holidays=True)
    at = dt.datetime(2025, 7, 31, 22, 30, tzinfo=UTC)  # 1 August 00:30 in Zurich
    assert total(run([holidays_only], COLA, at=at, holidays={dt.date(2025, 8, 1)})) == 0
    assert total(run([holidays_only], COLA, at=at, tz="Europe/Zurich", holidays={dt.date(2025, 8, 1)})) == 2


def test_channel_filters():
    app_delivery = art(
        1, {"cola": 2}, channels_in={ChannelIn.APP, ChannelIn.WEBSHOP}, channels_out={"delivery"}
    )
    assert total(run([app_delivery], COLA, channel_in="app", channel_out="delivery")) == 2
    assert total(run([app_delivery], COLA, channel_in="webshop", channel_out="delivery")) == 2
    assert total(run([app_delivery], COLA, channel_in="till", channel_out="delivery")) == 0
    assert total(run([app_delivery], COLA, channel_in="app", channel_out="pickup")) == 0
    machine = basket_rule(2, 100, channels_in={"machine"})
    assert total(run([machine], COLA, channel_in="machine")) == 10
    assert total(run([machine], COLA, channel_in="till")) == 0


def test_empty_channel_selection_means_no_channel():
    for kw in (dict(channels_in=set()), dict(channels_out=set())):
        rule = art(1, {"cola": 2}, **kw)
        assert all(
            total(run([rule], COLA, channel_in=i, channel_out=o)) == 0 for i in ChannelIn for o in ChannelOut
        )
    assert all(
        total(run([art(1, {"cola": 2})], COLA, channel_in=i, channel_out=o)) == 2
        for i in ChannelIn
        for o in ChannelOut
    )  # default: every channel


def test_unknown_channel_is_rejected():
    with pytest.raises(Invalid):
        run([art(1, {"cola": 2})], COLA, channel_in="fax")


# ---------------------------------------------------------------------------------------------
# Menus and vouchers
# ---------------------------------------------------------------------------------------------


def menu_basket(menu_voucher=None):
    return Basket(
        [
            BasketLine(
                1,
                "kids-menu",
                quantity=1,
                unit_price=900,
                kind=LineKind.MENU,
                product_group_id="menus",
                voucher_type=menu_voucher,
            ),
            BasketLine(2, "burger", kind=LineKind.COMPONENT, parent_id=1, product_group_id="food"),
            BasketLine(3, "juice", kind=LineKind.COMPONENT, parent_id=1, product_group_id="drinks"),
            BasketLine(4, "cheese", kind=LineKind.TOPPING, parent_id=2, topping_group_id="extras"),
            BasketLine(5, "burger", quantity=1, unit_price=600, product_group_id="food"),  # bought alone
        ]
    )


MENU_RULES = [
    grp(2, {"food": 2, "drinks": 1}),
    art(3, {"juice": 4}),
    Rule(id=4, name="tg", kind=RuleKind.TOPPING_GROUP, stores={"north"}, targets={"extras": 1}),
]


def test_menu_exclusion_removes_component_points_keeps_toppings():
    menu = art(1, [Target("kids-menu", 5, exclude_menu_contents=True)])
    awards = run([menu, *MENU_RULES], menu_basket())
    assert {a.line_id: a.points for a in awards if a.source is AwardSource.LINE} == {1: 5, 4: 1, 5: 2}


def test_menu_without_exclusion_components_earn():
    menu = art(1, {"kids-menu": 5})
    awards = run([menu, *MENU_RULES], menu_basket())
    assert {a.line_id: a.points for a in awards} == {1: 5, 2: 2, 3: 4, 4: 1, 5: 2}


def test_menu_exclusion_only_from_the_winning_rule():
    menu = art(1, [Target("kids-menu", 5, exclude_menu_contents=True)])
    menus_group = grp(9, {"menus": 8})  # gives more for the menu line: the flagged rule is ignored
    awards = run([menu, menus_group, *MENU_RULES], menu_basket())
    assert {a.line_id: (a.rule_id, a.points) for a in awards}[1] == (9, 8)
    assert {a.line_id for a in awards} == {1, 2, 3, 4, 5}


def test_menu_exclusion_needs_the_rule_to_apply():
    menu = art(1, [Target("kids-menu", 5, exclude_menu_contents=True)], weekdays={0})
    awards = run([menu, *MENU_RULES], menu_basket())  # Wednesday: menu rule not valid
    assert {a.line_id for a in awards} == {2, 3, 4, 5}


def test_exclusive_voucher_type_no_points_when_covered_by_voucher():
    rule = art(1, [Target("cola", 3, exclusive_voucher_types={"drink-voucher"})])
    basket = Basket([line(1, "cola", voucher_type="drink-voucher"), line(2, "cola", qty=2)])
    assert {a.line_id: a.points for a in run([rule], basket)} == {2: 6}  # bought normally: still earns


def test_exclusive_voucher_type_other_voucher_types_still_earn():
    rule = art(1, [Target("cola", 3, exclusive_voucher_types={"drink-voucher"})])
    basket = Basket([line(1, "cola", voucher_type="birthday")])
    assert total(run([rule], basket)) == 3


def test_voucher_excluded_line_can_still_earn_from_a_group_rule():
    rules = [art(1, [Target("cola", 3, exclusive_voucher_types={"v"})]), grp(2, {"drinks": 1})]
    basket = Basket([line(1, "cola", group="drinks", voucher_type="v")])
    assert [(a.rule_id, a.points) for a in run(rules, basket)] == [(2, 1)]


def test_voucher_exclusion_in_menu():
    rule = art(1, [Target("kids-menu", 5, exclusive_voucher_types={"kids"})])
    assert {a.line_id for a in run([rule], menu_basket(menu_voucher="kids"))} == set()
    assert {a.line_id for a in run([rule], menu_basket())} == {1}


# ---------------------------------------------------------------------------------------------
# Award dates and keys
# ---------------------------------------------------------------------------------------------


def test_order_awards_carry_available_and_expiry_dates():
    settings = BonusSettings(hours_until_available=48, default_validity_days=365, enabled_stores={"north"})
    zurich_time = WED.astimezone(ZoneInfo("Europe/Zurich"))
    awards = run([art(1, {"cola": 2}), basket_rule(2, 100)], COLA, settings=settings, at=zurich_time)
    assert len(awards) == 2
    for a in awards:
        assert a.available_at == WED + dt.timedelta(hours=48)
        assert a.expires_at == WED + dt.timedelta(days=365)
        assert a.available_at.utcoffset() == dt.timedelta(0) and a.expires_at.tzinfo is not None


def test_points_without_validity_setting_never_expire():
    assert run([art(1, {"cola": 2})], COLA)[0].expires_at is None


def test_award_keys_are_per_line_and_basket():
    awards = run([art(1, {"cola": 2}), art(2, {"cola": 3}), basket_rule(3, 100)], COLA, ref="o-17")
    assert sorted(a.key for a in awards) == ["o-17:basket", "o-17:line:1"]
    assert all(a.key is None for a in run([art(1, {"cola": 2})], COLA))


def test_naive_datetimes_are_rejected():
    with pytest.raises(Invalid):
        run([art(1, {"cola": 2})], COLA, at=dt.datetime(2025, 7, 16, 12))
    with pytest.raises(Invalid):
        art(1, {"cola": 2}, valid_from=dt.datetime(2025, 7, 16))


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------

SETTINGS_24H = BonusSettings(hours_until_available=24, default_validity_days=730, enabled_stores={"north"})


def register(rules, settings=SETTINGS_24H, **kw):
    return registration_points(rules, settings, **{"store": "north", "channel_in": "app", "at": WED, **kw})


def test_registration_points_once_with_standard_expiry_and_waiting_time():
    [a] = register([reg(1, 100)], ref="acct-9")
    assert (a.points, a.source, a.line_id, a.key) == (
        100,
        AwardSource.REGISTRATION,
        None,
        "acct-9:registration",
    )
    assert a.available_at == WED + dt.timedelta(hours=24)
    assert a.expires_at == WED + dt.timedelta(days=730)


def test_registration_immediately_redeemable_overrides_waiting_time():
    [a] = register([reg(1, 100, immediately_redeemable=True)])
    assert a.available_at == WED


def test_registration_expiry_on_date_end_of_local_day():
    rule = reg(1, 100, expiry=ExpiryKind.ON_DATE, expiry_date=dt.date(2025, 12, 31))
    [a] = register([rule], tz="Europe/Zurich")
    assert a.expires_at == dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC)  # midnight CET
    late = dt.datetime(2026, 1, 1, 0, 0, tzinfo=ZoneInfo("Europe/Zurich"))
    assert register([rule], tz="Europe/Zurich", at=late) == []  # would be expired at once


def test_registration_only_within_validity_period():
    rule = reg(1, 100, valid_from=WED, valid_to=WED + dt.timedelta(days=7))
    assert register([rule], at=WED - dt.timedelta(days=1)) == []
    assert [a.points for a in register([rule], at=WED + dt.timedelta(days=6))] == [100]
    assert register([rule], at=WED + dt.timedelta(days=7)) == []


def test_registration_filters_store_channel_and_highest_rule_wins():
    rules = [
        reg(1, 100, channels_in={"webshop"}),
        reg(2, 50),
        reg(3, 500, stores={"south"}),
        reg(4, 900, active=False),
        reg(5, 900, stores=set()),
    ]
    assert [(a.rule_id, a.points) for a in register(rules, channel_in="app")] == [(2, 50)]
    assert [(a.rule_id, a.points) for a in register(rules, channel_in="webshop")] == [(1, 100)]


def test_registration_rules_do_not_award_on_orders_and_order_rules_not_on_registration():
    assert run([reg(1, 100)], COLA) == []
    assert register([art(1, {"cola": 2}), basket_rule(2, 1)]) == []


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kind=RuleKind.ARTICLE),  # no targets
        dict(kind=RuleKind.PRODUCT_GROUP, targets=[Target("g", 1, exclude_menu_contents=True)]),
        dict(kind=RuleKind.BASKET_VALUE, amount_per_point=0),
        dict(kind=RuleKind.BASKET_VALUE, amount_per_point=100, targets={"x": 1}),
        dict(kind=RuleKind.ARTICLE, targets={"x": -1}),
        dict(kind=RuleKind.ARTICLE, targets={"x": 1}, weekdays={7}),
        dict(kind=RuleKind.REGISTRATION, points=5, expiry=ExpiryKind.ON_DATE),
        dict(kind=RuleKind.REGISTRATION, points=5, expiry=ExpiryKind.IN_DAYS),
        dict(kind=RuleKind.ARTICLE, targets={"x": 1}, valid_from=WED, valid_to=MON),
    ],
)
def test_invalid_rules_rejected(kwargs):
    with pytest.raises(Invalid):
        Rule(id=1, name="bad", stores={"north"}, **kwargs)


def test_invalid_baskets_rejected():
    with pytest.raises(Invalid):
        Basket([line(1, "a"), line(1, "b")])
    with pytest.raises(Invalid):
        Basket([line(1, "a"), BasketLine(2, "b", kind=LineKind.COMPONENT, parent_id=1)])  # parent not a menu
    with pytest.raises(Invalid):
        line(1, "a", qty=-1)
    with pytest.raises(Invalid):
        RuleBook([art(1, {"a": 1}), art(1, {"b": 1})], ON)


# ---------------------------------------------------------------------------------------------
# Properties: the compiled engine against a plain reading of the rules
# ---------------------------------------------------------------------------------------------


def reference(rules, settings, basket, store, channel_in, channel_out, at, tz="UTC", holidays=()):
    """The rules read literally, no indexes: {(source, line_id): (rule_id, points)}."""
    if store not in settings.enabled_stores:
        return {}
    local = at.astimezone(ZoneInfo(tz)).date()

    def applies(r):
        if not r.active or store not in r.stores:
            return False
        if channel_in not in r.channels_in or channel_out not in r.channels_out:
            return False
        if r.valid_from is not None and at < r.valid_from or r.valid_to is not None and at >= r.valid_to:
            return False
        return r.on_holidays if local in holidays else local.weekday() in r.weekdays

    live = [r for r in rules if applies(r)]

    def winner(ln):
        cands = []
        for r in live:
            for t in r.targets:
                if ln.kind is LineKind.TOPPING:
                    hit = (
                        r.kind is RuleKind.TOPPING
                        and t.id == ln.article_id
                        or r.kind is RuleKind.TOPPING_GROUP
                        and t.id == ln.topping_group_id
                    )
                else:
                    hit = (
                        r.kind is RuleKind.ARTICLE
                        and t.id == ln.article_id
                        or r.kind is RuleKind.PRODUCT_GROUP
                        and t.id == ln.product_group_id
                    )
                if hit:
                    pts = 0 if ln.voucher_type in t.exclusive_voucher_types else t.points * ln.quantity
                    rank = 0 if r.kind in (RuleKind.ARTICLE, RuleKind.TOPPING) else 1
                    cands.append((-pts, rank, r.id, t))
        return min(cands, key=lambda c: c[:3]) if cands else None

    excluded = set()
    for ln in basket.lines:
        if ln.kind is LineKind.MENU:
            w = winner(ln)
            if w and w[3].exclude_menu_contents:
                excluded.add(ln.line_id)
    out = {}
    for ln in basket.lines:
        if ln.kind is LineKind.COMPONENT and ln.parent_id in excluded:
            continue
        w = winner(ln)
        if w and w[0] < 0:
            out[("line", ln.line_id)] = (w[2], -w[0])
    best = None
    for r in live:
        if r.kind is RuleKind.BASKET_VALUE:
            value = sum(line.quantity * line.unit_price for line in basket.lines) - basket.voucher_discount
            value -= 0 if r.include_redeemed else basket.redeemed_points_value
            value += basket.small_quantity_surcharge if r.include_small_quantity_surcharge else 0
            value += basket.delivery_fee if r.include_delivery_fee else 0
            pts = max(value, 0) // r.amount_per_point
            if pts > 0 and (best is None or (-pts, r.id) < (-best[1], best[0])):
                best = (r.id, pts)
    if best:
        out[("basket", None)] = best
    return out


def as_map(awards):
    return {(a.source.value, a.line_id): (a.rule_id, a.points) for a in awards}


STORES = ["s0", "s1", "s2"]
ARTICLES = ["a0", "a1", "a2", "a3", "a4"]
GROUPS = ["g0", "g1", None]
TOPPINGS = ["t0", "t1", "t2"]
TGROUPS = ["tg0", "tg1", None]
VTYPES = ["v0", "v1"]
BASE = dt.datetime(2025, 8, 1, tzinfo=UTC)  # a Friday; holidays drawn from the next days
DAYS = [BASE.date() + dt.timedelta(days=i) for i in range(-1, 4)]


def mostly(usual, other):
    """`usual` four times in five, else a value of `other`: keeps most random rules applicable."""
    return st.integers(0, 4).flatmap(lambda i: st.just(usual) if i else other)


@st.composite
def rules_st(draw, min_size=0, max_size=12):
    n = draw(st.integers(min_size, max_size))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))
    out = []
    for rid in ids:
        kind = draw(st.sampled_from(list(RuleKind)))
        kw = dict(
            id=rid,
            name=f"r{rid}",
            kind=kind,
            active=draw(mostly(True, st.just(False))),
            stores=draw(mostly(frozenset(STORES), st.frozensets(st.sampled_from(STORES)))),
            channels_in=draw(mostly(ALL_CHANNELS_IN, st.frozensets(st.sampled_from(list(ChannelIn))))),
            channels_out=draw(mostly(ALL_CHANNELS_OUT, st.frozensets(st.sampled_from(list(ChannelOut))))),
            weekdays=draw(mostly(frozenset(range(7)), st.frozensets(st.integers(0, 6)))),
            on_holidays=draw(mostly(True, st.just(False))),
        )
        if draw(mostly(False, st.just(True))):
            start = BASE + dt.timedelta(hours=draw(st.integers(-24, 72)))
            kw.update(valid_from=start, valid_to=start + dt.timedelta(hours=draw(st.integers(0, 48))))
        if kind is RuleKind.ARTICLE:
            ts = draw(st.lists(st.sampled_from(ARTICLES), min_size=1, max_size=3, unique=True))
            kw["targets"] = [
                Target(
                    t,
                    draw(st.integers(0, 9)),
                    exclusive_voucher_types=draw(st.frozensets(st.sampled_from(VTYPES))),
                    exclude_menu_contents=draw(st.booleans()),
                )
                for t in ts
            ]
        elif kind in (RuleKind.PRODUCT_GROUP, RuleKind.TOPPING, RuleKind.TOPPING_GROUP):
            pool = {
                RuleKind.PRODUCT_GROUP: GROUPS[:2],
                RuleKind.TOPPING: TOPPINGS,
                RuleKind.TOPPING_GROUP: TGROUPS[:2],
            }[kind]
            ts = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
            kw["targets"] = {t: draw(st.integers(0, 9)) for t in ts}
        elif kind is RuleKind.BASKET_VALUE:
            kw.update(
                amount_per_point=draw(st.sampled_from([1, 100, 250, 1000])),
                include_redeemed=draw(st.booleans()),
                include_small_quantity_surcharge=draw(st.booleans()),
                include_delivery_fee=draw(st.booleans()),
            )
        else:
            kw.update(points=draw(st.integers(0, 100)))
        out.append(Rule(**kw))
    return out


@st.composite
def basket_st(draw):
    lines = []
    for lid in range(1, draw(st.integers(0, 12)) + 1):
        menus = [line.line_id for line in lines if line.kind is LineKind.MENU]
        kinds = (
            [LineKind.ARTICLE, LineKind.MENU]
            + ([LineKind.COMPONENT] if menus else [])
            + ([LineKind.TOPPING] if lines else [])
        )
        kind = draw(st.sampled_from(kinds))
        common = dict(
            line_id=lid,
            kind=kind,
            quantity=draw(st.integers(0, 5)),
            unit_price=draw(st.integers(0, 3000)),
            voucher_type=draw(st.sampled_from(VTYPES + [None, None])),
        )
        if kind is LineKind.TOPPING:
            lines.append(
                BasketLine(
                    article_id=draw(st.sampled_from(TOPPINGS)),
                    topping_group_id=draw(st.sampled_from(TGROUPS)),
                    parent_id=draw(st.sampled_from([line.line_id for line in lines])),
                    **common,
                )
            )
        else:
            lines.append(
                BasketLine(
                    article_id=draw(st.sampled_from(ARTICLES)),
                    product_group_id=draw(st.sampled_from(GROUPS)),
                    parent_id=draw(st.sampled_from(menus)) if kind is LineKind.COMPONENT else None,
                    **common,
                )
            )
    total_value = sum(line.quantity * line.unit_price for line in lines)
    return Basket(
        lines,
        small_quantity_surcharge=draw(st.sampled_from([0, 250])),
        delivery_fee=draw(st.sampled_from([0, 500])),
        redeemed_points_value=draw(st.integers(0, total_value)),
        voucher_discount=draw(st.integers(0, 2000)),
    )


order_st = st.fixed_dictionaries(
    dict(
        store=st.sampled_from(STORES),
        channel_in=st.sampled_from(list(ChannelIn)),
        channel_out=st.sampled_from(list(ChannelOut)),
        at=st.integers(0, 72).map(lambda h: BASE + dt.timedelta(hours=h)),  # whole hours: hits the bounds
        tz=st.sampled_from(["UTC", "Europe/Zurich", "America/New_York"]),
        holidays=st.frozensets(st.sampled_from(DAYS), max_size=3),
    )
)
settings_st = st.builds(
    BonusSettings,
    hours_until_available=st.integers(0, 72),
    default_validity_days=st.none() | st.integers(0, 800),
    enabled_stores=mostly(frozenset(STORES), st.frozensets(st.sampled_from(STORES))),
)
PROP = hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ORACLE = hsettings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ORACLE
@given(rules_st(), settings_st, basket_st(), order_st)
def test_engine_matches_plain_reading(rules, settings, basket, order):
    awards = RuleBook(rules, settings).awards_for_order(basket, **order)
    assert as_map(awards) == reference(rules, settings, basket, **order)


@ORACLE
@given(
    weekdays=st.frozensets(st.integers(0, 6)),
    on_holidays=st.booleans(),
    window=st.none() | st.tuples(st.integers(-24, 72), st.integers(0, 48)),
    hour=st.integers(0, 72),
    tz=st.sampled_from(["UTC", "Europe/Zurich", "America/New_York", "Asia/Tokyo"]),
    holidays=st.frozensets(st.sampled_from(DAYS), max_size=2),
)
def test_time_filters_of_one_rule(weekdays, on_holidays, window, hour, tz, holidays):
    """Day and period filters alone: the rule earns exactly when the local day and the instant allow it."""
    at = BASE + dt.timedelta(hours=hour)
    kw = {}
    if window:
        kw = dict(
            valid_from=BASE + dt.timedelta(hours=window[0]),
            valid_to=BASE + dt.timedelta(hours=window[0] + window[1]),
        )
    rule = art(1, {"cola": 2}, weekdays=weekdays, on_holidays=on_holidays, **kw)
    local_day = at.astimezone(ZoneInfo(tz)).date()
    expected = (on_holidays if local_day in holidays else local_day.weekday() in weekdays) and (
        not window or kw["valid_from"] <= at < kw["valid_to"]
    )
    assert total(run([rule], COLA, at=at, tz=tz, holidays=holidays)) == (2 if expected else 0)


@PROP
@given(rules_st(), settings_st, basket_st(), order_st)
def test_awards_are_positive_one_per_line_and_dated(rules, settings, basket, order):
    awards = RuleBook(rules, settings).awards_for_order(basket, **order, ref="o")
    assert all(a.points > 0 for a in awards)
    keys = [a.key for a in awards]
    assert len(keys) == len(set(keys))
    line_ids = {line.line_id for line in basket.lines}
    for a in awards:
        assert (a.line_id in line_ids) if a.source is AwardSource.LINE else a.line_id is None
        assert a.available_at >= order["at"]
        assert a.expires_at is None or a.expires_at >= order["at"]


@PROP
@given(rules_st(), settings_st, basket_st(), order_st, st.randoms(use_true_random=False))
def test_rule_order_does_not_matter(rules, settings, basket, order, rnd):
    shuffled = list(rules)
    rnd.shuffle(shuffled)
    assert RuleBook(rules, settings).awards_for_order(basket, **order) == RuleBook(
        shuffled, settings
    ).awards_for_order(basket, **order)


@PROP
@given(rules_st(), settings_st, basket_st(), order_st)
def test_store_switched_off_earns_nothing(rules, settings, basket, order):
    off = BonusSettings(
        hours_until_available=settings.hours_until_available,
        enabled_stores=settings.enabled_stores - {order["store"]},
    )
    book = RuleBook(rules, off)
    assert book.awards_for_order(basket, **order) == []
    assert (
        book.awards_for_registration(store=order["store"], channel_in=order["channel_in"], at=order["at"])
        == []
    )


@PROP
@given(rules_st(), rules_st(min_size=1, max_size=3), settings_st, basket_st(), order_st)
def test_adding_rules_never_lowers_a_line_or_basket_except_menu_exclusion(
    rules, extra, settings, basket, order
):
    """More rules: each line keeps at least its points, unless a newly winning menu rule excludes the
    menu's components; without menu-exclusion flags in the new rules the total never drops."""
    extra_ids = {r.id for r in extra}
    rules = [r for r in rules if r.id not in extra_ids]
    before = as_map(RuleBook(rules, settings).awards_for_order(basket, **order))
    after = as_map(RuleBook(rules + extra, settings).awards_for_order(basket, **order))
    components = {("line", line.line_id) for line in basket.lines if line.kind is LineKind.COMPONENT}
    for key, (_, pts) in before.items():
        if key not in components:
            assert after.get(key, (None, 0))[1] >= pts
    if not any(t.exclude_menu_contents for r in extra for t in r.targets):
        assert sum(p for _, p in after.values()) >= sum(p for _, p in before.values())


def test_adding_a_rule_can_lower_the_total_through_menu_exclusion():
    """Why the property above has its exception: a flagged menu rule that wins removes component points."""
    basket = menu_basket()
    before = total(run(MENU_RULES, basket))
    after = total(run([art(1, [Target("kids-menu", 1, exclude_menu_contents=True)]), *MENU_RULES], basket))
    assert after < before


@PROP
@given(rules_st(), settings_st, basket_st(), order_st)
def test_basket_points_do_not_depend_on_line_rules(rules, settings, basket, order):
    only_basket = [r for r in rules if r.kind is RuleKind.BASKET_VALUE]
    full = {
        k: v
        for k, v in as_map(RuleBook(rules, settings).awards_for_order(basket, **order)).items()
        if k[0] == "basket"
    }
    assert full == as_map(RuleBook(only_basket, settings).awards_for_order(basket, **order))


@PROP
@given(rules_st(), settings_st, basket_st(), order_st, st.integers(2, 5))
def test_line_points_scale_with_quantity(rules, settings, basket, order, k):
    line_rules = [r for r in rules if r.kind is not RuleKind.BASKET_VALUE]
    scaled = Basket(
        [
            BasketLine(**{**{f: getattr(line, f) for f in line.__slots__}, "quantity": line.quantity * k})
            for line in basket.lines
        ]
    )
    book = RuleBook(line_rules, settings)
    base = as_map(book.awards_for_order(basket, **order))
    assert as_map(book.awards_for_order(scaled, **order)) == {
        key: (rid, p * k) for key, (rid, p) in base.items()
    }


@PROP
@given(rules_st(), settings_st, basket_st(), order_st)
def test_deactivating_every_rule_gives_nothing(rules, settings, basket, order):
    import dataclasses

    off = [dataclasses.replace(r, active=False) for r in rules]
    assert RuleBook(off, settings).awards_for_order(basket, **order) == []


@PROP
@given(st.integers(0, 10**7), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 20)), max_size=4))
def test_topup_bonus_is_floor_of_reached_tier(amount, tiers):
    bonus = topup_bonus(amount, tiers)
    reached = [t for t in tiers if t[0] <= amount]
    assert 0 <= bonus <= amount * 20 // 100
    if reached:
        best_min = max(t[0] for t in reached)
        assert bonus in {amount * p // 100 for m, p in reached if m == best_min}
    else:
        assert bonus == 0
