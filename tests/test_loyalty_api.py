"""The loyalty core through the REST API (seeds 001–003): outlets, catalogue, card discounts, bonus
rules, point lots, basket quote / pay / refund. Every test runs on SQLite and PostgreSQL and ends
with every ledger (CHF and PTS) at zero and no wallet below zero (a debit card's: minus its limit)."""

from __future__ import annotations

import datetime as dt

import pytest
from clients import api_client
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.api.deps import booking_clock
from hub.ledger import ACCOUNTS, TRANSFERS, ledger_totals

UTC = dt.UTC
WED = dt.datetime(2025, 7, 16, 10, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Zurich
V1 = "/api/v1"
CARD = "C0FFEE01"


class Clock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock():
    return Clock(WED)


@pytest.fixture
def api(engine, clock):
    app = create_app(engine)
    app.dependency_overrides[booking_clock] = clock
    with api_client(app) as client:
        yield client
    with engine.connect() as conn:
        totals = ledger_totals(conn)
        for ledger, sums in totals.items():
            assert sums == {"posted": 0, "pending": 0}, (ledger, sums)
        negative = conn.execute(
            select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.kind == "wallet",
                ACCOUNTS.c.credits_posted
                - ACCOUNTS.c.debits_posted
                - ACCOUNTS.c.debits_pending
                + ACCOUNTS.c.credit_limit
                < 0,
            )
        ).all()
        assert not negative


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def park(api):
    """A site with a bar and a slide, a small catalogue and a card holding 100.00."""
    ok(api.post(f"{V1}/sites", json={"id": "park", "name": "Aqua Park"}), 201)
    for outlet, kind in (("bar", "bar"), ("slide", "slide")):
        ok(api.post(f"{V1}/outlets", json={"id": outlet, "site_id": "park", "kind": kind}), 201)
    for group in ("drinks", "snacks", "menus", "sauces"):
        ok(api.post(f"{V1}/product-groups", json={"id": group}), 201)
    articles = [
        ("beer", "drinks", "bar_drinks", 500),
        ("wine", "drinks", "bar_drinks", 800),
        ("chips", "snacks", "food", 300),
        ("pretzel", "snacks", "food", 125),
        ("menu", "menus", "food", 1500),
        ("burger", "snacks", "food", 900),
        ("ten", "snacks", "food", 1000),
        ("fifty", "snacks", "food", 5000),
    ]
    for aid, group, revenue, price in articles:
        ok(
            api.post(
                f"{V1}/articles",
                json={"id": aid, "product_group_id": group, "revenue_group": revenue, "price": price},
            ),
            201,
        )
    ok(
        api.post(
            f"{V1}/articles",
            json={
                "id": "ketchup",
                "product_group_id": "sauces",
                "topping_group_id": "sauces_tg",
                "price": 50,
            },
        ),
        201,
    )
    ok(api.post(f"{V1}/cards", json={"uid": CARD}), 201)
    ok(api.post(f"{V1}/cards/{CARD}/topups", json={"amount": 10000}), 201)
    settings(api)
    return api


def settings(api, **kw):
    body = {
        "hours_until_available": 0,
        "default_validity_days": None,
        "enabled_stores": ["bar", "slide"],
        "point_value": 10,
        **kw,
    }
    return ok(api.put(f"{V1}/bonus-settings", json=body))


def rule(api, **kw):
    kw.setdefault("stores", ["bar"])
    kw.setdefault("name", f"{kw['kind']} rule")
    return ok(api.post(f"{V1}/bonus-rules", json=kw), 201)


def basket(*lines, card=CARD, outlet="bar", **kw):
    return {
        "card_uid": card,
        "outlet_id": outlet,
        "channel_in": "till",
        "channel_out": "counter",
        "lines": [
            line if isinstance(line, dict) else {"article_id": line[0], "quantity": line[1]} for line in lines
        ],
        **kw,
    }


def pay(api, body, key=None, status=201):
    headers = {"Idempotency-Key": key} if key else {}
    return ok(api.post(f"{V1}/baskets/pay", json=body, headers=headers), status)


def balance(api, card=CARD):
    return ok(api.get(f"{V1}/cards/{card}"))["balance"]


def card_points(api, card=CARD):
    return ok(api.get(f"{V1}/cards/{card}/points"))


def count_transfers(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(TRANSFERS)).scalar()


# -- outlets, catalogue, rules and settings ---------------------------------------------------------


def test_outlets_and_catalogue_are_created_and_listed(park):
    outlets = ok(park.get(f"{V1}/outlets"))
    assert [(o["id"], o["site_id"], o["kind"], o["ledger"], o["tz"]) for o in outlets] == [
        ("bar", "park", "bar", "CHF", "Europe/Zurich"),
        ("slide", "park", "slide", "CHF", "Europe/Zurich"),
    ]
    assert outlets[0]["revenue_account_id"] != outlets[1]["revenue_account_id"]
    assert [s["id"] for s in ok(park.get(f"{V1}/sites"))] == ["park"]
    assert len(ok(park.get(f"{V1}/articles"))) == 9
    assert park.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park"}).status_code == 409
    assert park.post(f"{V1}/outlets", json={"id": "x", "site_id": "nowhere"}).status_code == 404
    assert park.post(f"{V1}/sites", json={"id": "p2", "tz": "Mars/Olympus"}).status_code == 422
    assert (
        park.post(f"{V1}/articles", json={"id": "x", "product_group_id": "nope", "price": 1}).status_code
        == 404
    )


def test_rules_are_stored_listed_and_switched(park):
    r = rule(park, kind="article", targets=[{"id": "beer", "points": 2}], weekdays=[0, 1, 2])
    assert (r["kind"], r["targets"][0], r["weekdays"], r["active"]) == (
        "article",
        {"id": "beer", "points": 2, "exclusive_voucher_types": [], "exclude_menu_contents": False},
        [0, 1, 2],
        True,
    )
    assert ok(park.post(f"{V1}/bonus-rules/{r['id']}/deactivate"))["active"] is False
    assert ok(park.post(f"{V1}/bonus-rules/{r['id']}/activate"))["active"] is True
    assert [x["id"] for x in ok(park.get(f"{V1}/bonus-rules"))] == [r["id"]]
    # The engine's validation answers 422: an article rule needs targets, a basket rule an amount.
    assert park.post(f"{V1}/bonus-rules", json={"name": "x", "kind": "article"}).status_code == 422
    assert park.post(f"{V1}/bonus-rules", json={"name": "x", "kind": "basket_value"}).status_code == 422
    assert park.post(f"{V1}/bonus-rules/999/activate").status_code == 404
    assert ok(park.get(f"{V1}/bonus-settings"))["point_value"] == 10


def test_registration_points_once_and_immediately_redeemable(park, clock):
    settings(park, hours_until_available=48)
    rule(park, kind="registration", points=25, immediately_redeemable=True, expiry="in_days", expiry_days=150)
    r = ok(park.post(f"{V1}/cards/{CARD}/registration", json={"outlet_id": "bar"}))
    assert (r["points"], r["repeated"]) == (25, False)
    assert r["awards"][0]["available_at"] == "2025-07-16T10:00:00Z"
    assert r["awards"][0]["expires_at"] == "2025-12-13T10:00:00Z"  # in 150 days
    assert ok(park.post(f"{V1}/cards/{CARD}/registration", json={"outlet_id": "bar"}))["repeated"] is True
    assert card_points(park)["available"] == 25


def test_the_openapi_document_describes_the_loyalty_api(park):
    paths = ok(park.get("/openapi.json"))["paths"]
    for path in (
        "/api/v1/outlets",
        "/api/v1/baskets/quote",
        "/api/v1/baskets/pay",
        "/api/v1/baskets/{basket_id}/refund",
        "/api/v1/bonus-rules",
        "/api/v1/points/expire",
    ):
        assert path in paths


# -- seed 003 examples ------------------------------------------------------------------------------


def test_seed_003_ten_per_point_gives_five_extra_points_on_a_50_basket(park):
    rule(park, kind="basket_value", amount_per_point=1000, name="10 per point")
    rule(park, kind="article", targets=[{"id": "fifty", "points": 3}], name="fifty bonus")
    r = pay(park, basket(("fifty", 1)))
    assert (r["total"], r["amount_due"], r["points_earned"]) == (5000, 5000, 8)
    by_source = {a["source"]: a for a in r["awards"]}
    assert by_source["basket"]["points"] == 5  # additive to the article points (seed)
    assert by_source["basket"]["reason"] == "10 per point: basket value 50.00 at 10.00 per point"
    assert (by_source["line"]["points"], by_source["line"]["line_id"]) == (3, "1")
    assert "fifty bonus" in by_source["line"]["reason"] and "line '1'" in by_source["line"]["reason"]
    assert balance(park) == 5000
    assert card_points(park)["balance"] == 8
    # 4 × 10.00 + 7 × 1.25 = 48.75 → 4 basket points (rounded down), no article points
    assert pay(park, basket(("ten", 4), ("pretzel", 7)))["points_earned"] == 4


@pytest.mark.parametrize("include_redeemed, earned", [(True, 10), (False, 0)])
def test_seed_003_basket_paid_wholly_with_points_earns_10_or_0(park, include_redeemed, earned):
    rule(park, kind="basket_value", amount_per_point=100, include_redeemed=include_redeemed)
    bought = ok(
        park.post(f"{V1}/cards/{CARD}/points/purchase", json={"outlet_id": "bar", "points": 100}), 201
    )
    assert (bought["available"], balance(park)) == (100, 9000)  # 100 points at 0.10
    r = pay(park, basket(("ten", 1), redeem_points=100))
    assert (r["total"], r["points_value"], r["amount_due"], r["points_earned"]) == (1000, 1000, 0, earned)
    assert balance(park) == 9000
    assert card_points(park)["balance"] == earned


def test_bonus_switched_off_for_a_store_stops_earning_but_points_stay_redeemable(park):
    rule(park, kind="article", targets=[{"id": "beer", "points": 5}], stores=["bar", "slide"])
    pay(park, basket(("beer", 2)))
    settings(park, enabled_stores=["slide"])
    r = pay(park, basket(("beer", 1), redeem_points=10))
    assert (r["points_earned"], r["points_redeemed"], r["amount_due"]) == (0, 10, 400)


def test_holidays_of_the_store_are_respected(park):
    rule(park, kind="article", targets=[{"id": "beer", "points": 5}], on_holidays=False)
    assert pay(park, basket(("beer", 1)))["points_earned"] == 5
    ok(park.put(f"{V1}/outlets/bar/holidays", json=["2025-07-16"]))
    assert ok(park.get(f"{V1}/outlets/bar/holidays")) == ["2025-07-16"]
    assert pay(park, basket(("beer", 1)))["points_earned"] == 0


def test_menus_and_toppings_reach_the_rule_engine(park):
    rule(
        park,
        kind="article",
        targets=[{"id": "menu", "points": 4, "exclude_menu_contents": True}, {"id": "burger", "points": 9}],
    )
    rule(park, kind="topping_group", targets=[{"id": "sauces_tg", "points": 1}])
    lines = [
        {"line_id": "m", "article_id": "menu", "kind": "menu"},
        {"line_id": "b", "article_id": "burger", "kind": "component", "parent_line_id": "m"},
        {"line_id": "k", "article_id": "ketchup", "kind": "topping", "parent_line_id": "b", "quantity": 2},
    ]
    r = pay(park, basket(*lines))
    assert [(line["line_id"], line["net"]) for line in r["lines"]] == [("m", 1500), ("b", 0), ("k", 100)]
    assert sorted((a["line_id"], a["points"]) for a in r["awards"]) == [("k", 2), ("m", 4)]
    bad = basket({"article_id": "burger", "kind": "component", "parent_line_id": "nope"})
    assert park.post(f"{V1}/baskets/quote", json=bad).status_code == 422


# -- discounts (seed 002) ---------------------------------------------------------------------------


def test_discount_precedence_most_specific_per_source_then_the_larger_source(park):
    ok(
        park.post(
            f"{V1}/discount-groups",
            json={
                "id": "customer",
                "rates": [
                    {"scope": "general", "percent": 10},
                    {"scope": "revenue_group", "target": "bar_drinks", "percent": 20},
                    {"scope": "article", "target": "beer", "percent": 0},
                ],
            },
        ),
        201,
    )
    ok(park.put(f"{V1}/cards/{CARD}/discounts", json={"group": "customer"}))
    body = basket(("beer", 1), ("wine", 1), ("chips", 1))
    only_group = ok(park.post(f"{V1}/baskets/quote", json=body))["lines"]
    assert [(line["discount_percent"], line["discount_source"], line["discount"]) for line in only_group] == [
        ("0", "group:customer", 0),
        ("20", "group:customer", 160),
        ("10", "group:customer", 30),
    ]
    ok(
        park.put(
            f"{V1}/cards/{CARD}/discounts",
            json={"group": "customer", "rates": [{"scope": "general", "percent": 15}]},
        )
    )
    both = ok(park.post(f"{V1}/baskets/quote", json=body))
    assert [(line["discount_percent"], line["discount_source"], line["net"]) for line in both["lines"]] == [
        ("15", "card", 425),
        ("20", "group:customer", 640),
        ("15", "card", 255),
    ]
    assert (both["discount"], both["total"]) == (75 + 160 + 45, 1320)
    r = pay(park, body)
    assert balance(park) == 10000 - 1320 and r["amount_due"] == 1320


def test_discount_is_rounded_half_up_per_line(park):
    ok(
        park.put(
            f"{V1}/cards/{CARD}/discounts",
            json={
                "rates": [
                    {"scope": "article", "target": "pretzel", "percent": 10},
                    {"scope": "revenue_group", "target": "bar_drinks", "percent": "2.5"},
                ]
            },
        )
    )
    q = ok(park.post(f"{V1}/baskets/quote", json=basket(("pretzel", 3), ("beer", 1), ("wine", 1))))
    # 3 × 1.25 = 3.75, 10 % = 0.375 → 0.38; 5.00 × 2.5 % = 0.125 → 0.13; 8.00 × 2.5 % = 0.20
    assert [(line["gross"], line["discount"], line["net"]) for line in q["lines"]] == [
        (375, 38, 337),
        (500, 13, 487),
        (800, 20, 780),
    ]


def test_employee_consumption_is_free_and_earns_no_points(park):
    ok(
        park.post(
            f"{V1}/discount-groups", json={"id": "employee", "rates": [{"scope": "general", "percent": 100}]}
        ),
        201,
    )
    ok(park.post(f"{V1}/cards", json={"uid": "E0E0E0E0"}), 201)  # an employee card, no money on it
    ok(park.put(f"{V1}/cards/E0E0E0E0/discounts", json={"group": "employee"}))
    rule(park, kind="article", targets=[{"id": "burger", "points": 5}])
    rule(park, kind="basket_value", amount_per_point=100)
    r = pay(park, basket(("burger", 2), ("beer", 1), card="E0E0E0E0"))
    assert (r["discount"], r["total"], r["amount_due"], r["points_earned"]) == (2300, 0, 0, 0)
    assert balance(park, "E0E0E0E0") == 0


# -- paying -----------------------------------------------------------------------------------------


def test_quote_books_nothing_and_pay_books_the_same_figures(park, engine):
    rule(park, kind="basket_value", amount_per_point=500)
    rule(park, kind="product_group", targets=[{"id": "drinks", "points": 2}])
    ok(park.put(f"{V1}/cards/{CARD}/discounts", json={"rates": [{"scope": "general", "percent": 5}]}))
    buy(park, 2)  # some points to pay with, for 0.20
    body = basket(("beer", 3), ("chips", 2), redeem_points=2)
    before = count_transfers(engine)
    quote = ok(park.post(f"{V1}/baskets/quote", json=body))
    assert count_transfers(engine) == before
    paid = pay(park, body)
    assert {k: paid[k] for k in quote} == quote
    assert (paid["total"], paid["points_value"], paid["amount_due"]) == (1995, 20, 1975)
    # 3 beers × 2 (drinks) + basket value (21.00 − 1.05 discount − 0.20 paid with points) // 5.00
    assert paid["points_earned"] == 6 + 3
    assert balance(park) == 10000 - 20 - 1975
    assert ok(park.get(f"{V1}/baskets/{paid['id']}"))["amount_due"] == 1975


def test_a_repeated_pay_with_the_same_key_books_once(park, engine):
    rule(park, kind="article", targets=[{"id": "beer", "points": 1}])
    first = pay(park, basket(("beer", 2)), key="till-1/42")
    booked = count_transfers(engine)
    again = pay(park, basket(("beer", 2)), key="till-1/42")
    assert (again["id"], again["repeated"], first["repeated"]) == (first["id"], True, False)
    assert count_transfers(engine) == booked
    assert (balance(park), card_points(park)["balance"]) == (9000, 2)
    other = park.post(f"{V1}/baskets/pay", json=basket(("beer", 3)), headers={"Idempotency-Key": "till-1/42"})
    assert other.status_code == 409


def test_paying_more_than_the_balance_is_refused_and_books_nothing(park, engine):
    rule(park, kind="article", targets=[{"id": "fifty", "points": 7}])
    before = count_transfers(engine)
    r = park.post(f"{V1}/baskets/pay", json=basket(("fifty", 3)))
    assert r.status_code == 409 and "has 10000, needs 15000" in r.json()["detail"]
    assert count_transfers(engine) == before
    assert (balance(park), card_points(park)["balance"]) == (10000, 0)
    too_many = park.post(f"{V1}/baskets/pay", json=basket(("beer", 1), redeem_points=1))
    assert too_many.status_code == 409 and "0 points available" in too_many.json()["detail"]
    over = park.post(f"{V1}/baskets/quote", json=basket(("beer", 1), redeem_points=51))
    assert over.status_code == 422  # 51 points are worth 5.10, more than the 5.00 total
    ok(park.post(f"{V1}/cards/{CARD}/block"))
    assert park.post(f"{V1}/baskets/pay", json=basket(("beer", 1))).status_code == 409
    assert count_transfers(engine) == before


# -- point lots -------------------------------------------------------------------------------------


def buy(api, n, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return ok(
        api.post(
            f"{V1}/cards/{CARD}/points/purchase", json={"outlet_id": "bar", "points": n}, headers=headers
        ),
        201,
    )


def test_spending_takes_the_lots_that_expire_first(park, clock):
    settings(park, default_validity_days=30)
    buy(park, 10)  # expires in 30 days
    settings(park, default_validity_days=None)
    buy(park, 10)  # never expires
    settings(park, default_validity_days=10)
    clock.advance(hours=1)
    buy(park, 10)  # expires in 10 days and 1 hour: first
    pay(park, basket(("beer", 1), redeem_points=15))
    lots = card_points(park)["lots"]
    assert [(lot["points"], lot["remaining"]) for lot in lots] == [(10, 5), (10, 10)]
    assert lots[1]["expires_at"] is None  # the never-expiring lot is spent last
    assert buy(park, 10, key="k")["repeated"] is False and buy(park, 10, key="k")["repeated"] is True


def test_points_not_yet_available_cannot_be_spent(park, clock):
    settings(park, hours_until_available=24)
    rule(park, kind="article", targets=[{"id": "beer", "points": 10}])
    award = pay(park, basket(("beer", 1)))["awards"][0]
    assert award["available_at"] == "2025-07-17T10:00:00Z"
    assert (card_points(park)["balance"], card_points(park)["available"]) == (10, 0)
    r = park.post(f"{V1}/baskets/pay", json=basket(("chips", 1), redeem_points=10))
    assert r.status_code == 409
    clock.advance(hours=24)
    assert pay(park, basket(("chips", 1), redeem_points=10))["amount_due"] == 200


def test_expired_lots_are_booked_out_and_kept(park, clock, engine):
    settings(park, default_validity_days=1)
    rule(park, kind="article", targets=[{"id": "beer", "points": 4}])
    pay(park, basket(("beer", 1)))
    pay(park, basket(("beer", 2)))
    assert ok(park.post(f"{V1}/points/expire")) == {"lots": 0, "points": 0}
    clock.advance(days=1)
    r = park.post(f"{V1}/baskets/pay", json=basket(("chips", 1), redeem_points=1))
    assert r.status_code == 409  # expired at this instant, not spendable any more
    assert ok(park.post(f"{V1}/points/expire")) == {"lots": 2, "points": 12}
    assert ok(park.post(f"{V1}/points/expire")) == {"lots": 0, "points": 0}
    assert card_points(park) == {"uid": CARD, "balance": 0, "available": 0, "lots": []}
    with engine.connect() as conn:
        expiries = conn.execute(
            select(func.count()).select_from(TRANSFERS).where(TRANSFERS.c.code == "points_expired")
        ).scalar()
        assert expiries == 2


# -- refunds ----------------------------------------------------------------------------------------


def test_refund_returns_money_and_redeemed_points_and_claws_back_earned_ones(park, clock):
    rule(park, kind="article", targets=[{"id": "wine", "points": 6}])
    settings(park, default_validity_days=5)
    first = buy(park, 30)["lots"][0]
    paid = pay(park, basket(("wine", 2), redeem_points=20))
    assert (paid["amount_due"], paid["points_earned"], balance(park)) == (1400, 12, 10000 - 300 - 1400)
    clock.advance(hours=1)
    r = ok(park.post(f"{V1}/baskets/{paid['id']}/refund"))
    assert (r["refunded"], r["points_returned"], r["points_clawed_back"], r["repeated"]) == (
        1400,
        20,
        12,
        False,
    )
    assert balance(park) == 10000 - 300
    lots = card_points(park)["lots"]
    assert [(lot["id"], lot["remaining"], lot["expires_at"]) for lot in lots] == [
        (first["id"], 30, first["expires_at"])
    ]  # back in the lot it came from, same expiry
    again = ok(park.post(f"{V1}/baskets/{paid['id']}/refund"))
    assert (again["repeated"], again["refunded"]) == (True, 1400)
    assert balance(park) == 9700
    assert ok(park.get(f"{V1}/baskets/{paid['id']}"))["status"] == "refunded"


def test_refund_is_refused_when_the_earned_points_are_gone(park):
    rule(park, kind="article", targets=[{"id": "wine", "points": 6}])
    paid = pay(park, basket(("wine", 1)))
    pay(park, basket(("beer", 1), redeem_points=6))
    r = park.post(f"{V1}/baskets/{paid['id']}/refund")
    assert r.status_code == 409 and "no longer holds the 6 points" in r.json()["detail"]
    assert balance(park) == 10000 - 800 - 440
    assert park.post(f"{V1}/baskets/nope/refund").status_code == 404


def test_parallel_payments_never_overdraw_the_wallet(park, engine):
    """Ten tills pay 20.00 at once from a card holding 100.00: five succeed, five are refused."""
    from concurrent.futures import ThreadPoolExecutor

    from hub.ledger import InsufficientFunds
    from hub.sales import baskets

    line = {"line_id": None, "article_id": "ten", "quantity": 2, "kind": "article", "parent_line_id": None}
    req = {**basket(line), "redeem_points": 0, "small_quantity_surcharge": 0, "delivery_fee": 0}

    def attempt(i):
        try:
            with engine.begin() as conn:
                baskets.pay(conn, req, f"b{i}", f"basket/par-{i}", WED)
            return True
        except InsufficientFunds:
            return False

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(attempt, range(10)))
    assert results.count(True) == 5 and balance(park) == 0


def test_a_replaced_card_takes_its_points_lots_along(park, clock):
    settings(park, default_validity_days=30)
    buy(park, 10)
    settings(park, hours_until_available=24, default_validity_days=None)
    rule(park, kind="article", targets=[{"id": "beer", "points": 7}])
    pay(park, basket(("beer", 1)))  # 7 points, available tomorrow, never expiring
    before = card_points(park)
    r = park.post(f"{V1}/cards/{CARD}/replace", json={"uid": "0A0A0A0A"})
    assert r.status_code == 201
    moved = ok(park.get(f"{V1}/cards/0A0A0A0A/points"))
    assert (moved["balance"], moved["available"]) == (before["balance"], before["available"]) == (17, 10)
    keep = ("points", "available_at", "expires_at")
    assert sorted(tuple(lot[k] or "" for k in keep) for lot in moved["lots"]) == sorted(
        tuple(lot[k] or "" for k in keep) for lot in before["lots"]
    )
    assert card_points(park)["balance"] == 0  # the lost card keeps its history, not its points


def test_settings_that_name_an_unknown_store_or_article_are_refused_naming_it(park):
    """A typo in a store or an article would switch a rule off without a word."""
    r = park.put(
        f"{V1}/bonus-settings",
        json={"hours_until_available": 0, "default_validity_days": None, "enabled_stores": ["bar", "baar"]},
    )
    assert r.status_code == 422 and "baar" in r.json()["detail"]
    assert ok(park.get(f"{V1}/bonus-settings"))["enabled_stores"] == ["bar", "slide"]
    r = park.post(
        f"{V1}/bonus-rules",
        json={"name": "x", "kind": "basket_value", "stores": ["nowhere"], "amount_per_point": 100},
    )
    assert r.status_code == 422 and "nowhere" in r.json()["detail"]
    r = park.post(
        f"{V1}/bonus-rules",
        json={"name": "x", "kind": "article", "stores": ["bar"], "targets": [{"id": "bier", "points": 5}]},
    )
    assert r.status_code == 422 and "bier" in r.json()["detail"]
    assert ok(park.get(f"{V1}/bonus-rules")) == []
    for target in ("beer", "drinks", "sauces_tg"):  # an article, a product group, a topping group
        rule(park, kind="article", targets=[{"id": target, "points": 1}])
    r = park.post(f"{V1}/gift-items", json={"id": "ice", "value": 300, "redeem_outlets": ["kiosk9"]})
    assert r.status_code == 422 and "kiosk9" in r.json()["detail"]
