"""Gifts and the bonus-gift chain across outlets (seeds 002, 004): gift ledgers, chain rules counted
per visit, gifts chosen with points, redemption at a till / a machine / in a basket, the exit reset
and the settlement of obligations between outlets. Every test runs on SQLite and PostgreSQL and
ends with every ledger at zero and no wallet below zero."""

from __future__ import annotations

import datetime as dt

import pytest
from clients import api_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub import gifts
from hub.api.app import create_app
from hub.api.deps import booking_clock
from hub.ledger import ACCOUNTS, TRANSFERS, Book, ledger_totals, new_id
from hub.loyalty import outlets
from hub.wallets import cards as wallets

UTC = dt.UTC
NOW = dt.datetime(2025, 7, 16, 10, 0, tzinfo=UTC)
V1 = "/api/v1"
CARD = "C0FFEE01"


def check_books(engine):
    with engine.connect() as conn:
        for ledger, sums in ledger_totals(conn).items():
            assert sums == {"posted": 0, "pending": 0}, (ledger, sums)
        negative = conn.execute(
            select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.kind == "wallet",
                ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted - ACCOUNTS.c.debits_pending < 0,
            )
        ).all()
        assert not negative


@pytest.fixture
def park(engine):
    """A water park: a bar, three slides and a shop; a drink gift (3.00) redeemable at bars, a ride
    gift redeemable at slides; a card; the rule "3 slides → a drink"."""
    with engine.begin() as conn:
        outlets.create_site(conn, "park")
        for oid, kind in (
            ("bar", "bar"),
            ("slide1", "slide"),
            ("slide2", "slide"),
            ("slide3", "slide"),
            ("shop", "shop"),
        ):
            outlets.create_outlet(conn, "CHF", oid, "park", kind=kind)
        gifts.create_item(
            conn,
            {"id": "DRINK", "value": 300, "redeem_kinds": ["bar"], "points_price": 50, "points_level": 80},
            "CHF",
        )
        gifts.create_item(conn, {"id": "RIDE", "value": 200, "redeem_kinds": ["slide"]}, "CHF")
        wallets.issue_card(conn, "CHF", CARD)
        gifts.create_rule(
            conn,
            {
                "name": "3 slides, a drink",
                "site_id": "park",
                "activities": 3,
                "outlet_kinds": ["slide"],
                "item_id": "DRINK",
            },
        )
    yield engine
    check_books(engine)


def slide(engine, outlet="slide1", key=None, card=CARD):
    with engine.begin() as conn:
        book = Book(conn)
        grants = gifts.count_activity(conn, book, card, outlet, NOW, key or new_id())
        book.flush()
    return grants


def units(engine, item="DRINK", card=CARD):
    with engine.connect() as conn:
        return gifts.units_available(conn, card, item)


def report(engine):
    with engine.connect() as conn:
        return gifts.settlement(conn, "CHF")


def net(rep, outlet):
    return next((o["net"] for o in rep["outlets"] if o["outlet_id"] == outlet), 0)


# -- the functions machines use ------------------------------------------------------------------


def test_third_slide_grants_a_drink_once_per_key(park):
    assert slide(park, "slide1") == []
    assert slide(park, "slide2") == []
    grants = slide(park, "slide3", key="tap-3")
    assert [(g["item_id"], g["units"], g["outlet_id"], g["value"]) for g in grants] == [
        ("DRINK", 1, "slide3", 300)
    ]
    assert slide(park, "slide3", key="tap-3") == grants  # a redelivered tap counts nothing new
    assert units(park) == 1
    assert slide(park, "slide1") == []  # not a repeating rule: one drink per visit
    assert units(park) == 1
    # the outlet completing the rule owes the settlement node the drink's value
    assert net(report(park), "slide3") == -300


def test_activities_elsewhere_do_not_count(park):
    for outlet in ("shop", "bar", "slide1", "shop", "slide2"):
        assert slide(park, outlet) == []
    assert units(park) == 0


def test_machine_hold_and_delivery_redeem_the_gift_at_the_bar(park):
    for outlet in ("slide1", "slide2", "slide3"):
        slide(park, outlet)
    with park.begin() as conn:
        book = Book(conn)
        assert not gifts.hold_gift(conn, book, CARD, "DRINK", "slide1", "h0", "k0")  # not a bar
        assert gifts.hold_gift(conn, book, CARD, "DRINK", "bar", "h1", "k1")
        assert not gifts.hold_gift(conn, book, CARD, "DRINK", "bar", "h2", "k2")  # the one is held
        book.flush()
    assert units(park) == 0
    with park.begin() as conn:
        book = Book(conn)
        gifts.settle_gift(conn, book, "h1", True, "k1/report")
        gifts.settle_gift(conn, book, "h1", True, "k1/report-again")  # resolved once
        book.flush()
    rep = report(park)
    assert (net(rep, "slide3"), net(rep, "bar"), rep["node_open"]) == (-300, 300, 0)
    with park.connect() as conn:
        assert gifts.card_gifts(conn, CARD)["items"] == []


def test_machine_that_delivers_nothing_gives_the_gift_back(park):
    for outlet in ("slide1", "slide2", "slide3"):
        slide(park, outlet)
    with park.begin() as conn:
        book = Book(conn)
        assert gifts.hold_gift(conn, book, CARD, "DRINK", "bar", "h1", "k1")
        book.flush()
    with park.begin() as conn:
        book = Book(conn)
        gifts.settle_gift(conn, book, "h1", False, "k1/report")
        book.flush()
    assert units(park) == 1
    assert net(report(park), "bar") == 0


def test_hold_refuses_unknown_and_blocked_cards_and_items(park):
    with park.begin() as conn:
        book = Book(conn)
        assert not gifts.hold_gift(conn, book, "DEADBEEF", "DRINK", "bar", "h1", "k1")
        assert not gifts.hold_gift(conn, book, CARD, "NOPE", "bar", "h1", "k1")
        assert not gifts.hold_gift(conn, book, CARD, "DRINK", "nowhere", "h1", "k1")
        assert not gifts.hold_gift(conn, book, CARD, "DRINK", "bar", "h1", "k1")  # holds none
        book.flush()
        gifts.give(conn, CARD, "DRINK", 1, "bar", "give-1", "")
        wallets.set_status(conn, CARD, "blocked")
        assert not gifts.hold_gift(conn, Book(conn), CARD, "DRINK", "bar", "h1", "k1")


def test_repeating_rule_with_a_cap(park):
    with park.begin() as conn:
        gifts.set_rule_active(conn, 1, False)
        gifts.create_rule(
            conn,
            {
                "name": "every 2 rides a ride",
                "site_id": "park",
                "activities": 2,
                "outlet_ids": ["slide1", "slide2"],
                "item_id": "RIDE",
                "repeat": True,
                "max_per_visit": 2,
            },
        )
    got = [
        len(slide(park, o)) for o in ("slide1", "slide3", "slide2", "slide1", "slide2", "slide1", "slide2")
    ]
    assert got == [0, 0, 1, 0, 1, 0, 0]
    assert units(park, "RIDE") == 2 and units(park) == 0


def test_exit_reset_books_unused_gifts_out_and_ends_the_visit(park):
    with park.begin() as conn:
        gifts.set_site_settings(
            conn, "park", {"reset_gifts": True, "reset_bought_gifts": False, "unredeemed_obligation": "kept"}
        )
    for outlet in ("slide1", "slide2", "slide3", "slide1", "slide2"):
        slide(park, outlet)
    assert units(park) == 1
    with park.begin() as conn:
        out = gifts.reset_at_exit(conn, CARD, "park", NOW, "exit-1")
        again = gifts.reset_at_exit(conn, CARD, "park", NOW, "exit-1")
    assert (out["units"], out["value"], out["visit_ended"], out["repeated"]) == (1, 300, True, False)
    assert again == {**out, "repeated": True}
    assert units(park) == 0
    rep = report(park)
    # seed 004: the granting outlet's obligation stands; the node keeps the unredeemed value
    assert (net(rep, "slide3"), rep["node_kept_unredeemed"], rep["node_open"]) == (-300, 300, 0)
    with park.connect() as conn:
        lots = conn.execute(select(gifts.LOTS)).mappings().all()
        assert [(lot["units"], lot["remaining"]) for lot in lots] == [(1, 0)]  # kept, never deleted
        codes = conn.execute(select(TRANSFERS.c.code).where(TRANSFERS.c.code == "gift_reset")).all()
        assert len(codes) == 1
    # a new visit counts afresh: 2 slides before the exit do not carry over
    assert slide(park, "slide1") == [] and slide(park, "slide2") == []
    assert len(slide(park, "slide3")) == 1


def test_exit_reset_can_release_the_obligation(park):
    with park.begin() as conn:
        gifts.set_site_settings(
            conn,
            "park",
            {"reset_gifts": True, "reset_bought_gifts": False, "unredeemed_obligation": "released"},
        )
    for outlet in ("slide1", "slide2", "slide3"):
        slide(park, outlet)
    with park.begin() as conn:
        gifts.reset_at_exit(conn, CARD, "park", NOW, "exit-1")
    rep = report(park)
    assert (net(rep, "slide3"), rep["node_kept_unredeemed"], rep["node_open"]) == (0, 0, 0)


def test_exit_without_reset_configured_keeps_the_gifts(park):
    for outlet in ("slide1", "slide2", "slide3"):
        slide(park, outlet)
    with park.begin() as conn:
        out = gifts.reset_at_exit(conn, CARD, "park", NOW, "exit-1")
    assert (out["units"], out["visit_ended"]) == (0, True)
    assert units(park) == 1
    with park.begin() as conn:  # the gift is redeemed later, at the bar's till
        gifts.redeem_at_till(conn, CARD, "DRINK", 1, "bar", "till-1")


def test_a_hold_pending_at_exit_is_not_reset(park):
    with park.begin() as conn:
        gifts.set_site_settings(
            conn, "park", {"reset_gifts": True, "reset_bought_gifts": False, "unredeemed_obligation": "kept"}
        )
        gifts.give(conn, CARD, "DRINK", 2, "shop", "give-1", "welcome")
        book = Book(conn)
        assert gifts.hold_gift(conn, book, CARD, "DRINK", "bar", "h1", "k1")
        book.flush()
        assert gifts.reset_at_exit(conn, CARD, "park", NOW, "exit-1")["units"] == 1
        book = Book(conn)
        gifts.settle_gift(conn, book, "h1", True, "k1/report")
        book.flush()
    rep = report(park)
    assert (net(rep, "shop"), net(rep, "bar"), rep["node_kept_unredeemed"], rep["node_open"]) == (
        -600,
        300,
        300,
        0,
    )


# -- invariants (hypothesis) -----------------------------------------------------------------------


def node_clearing(conn) -> int:
    acc = gifts.node_account(conn, "CHF")
    row = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == acc)).mappings().one()
    return row["credits_posted"] - row["debits_posted"]


def open_value(conn) -> int:
    """Value of every gift unit still open (on a card or held by a machine)."""
    lots = conn.execute(select(gifts.LOTS)).mappings().all()
    held = {h["lot_id"]: 0 for h in conn.execute(select(gifts.HOLDS)).mappings()}
    for h in conn.execute(select(gifts.HOLDS).where(gifts.HOLDS.c.status == "pending")).mappings():
        held[h["lot_id"]] += 1
    return sum(lot["value"] * (lot["remaining"] + held.get(lot["id"], 0)) for lot in lots)


_OUTLETS = ("slide1", "slide2", "slide3", "bar", "shop")
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("activity"), st.sampled_from(_OUTLETS)),
        st.tuples(st.just("give"), st.sampled_from(("shop", "bar", "slide2"))),
        st.tuples(st.just("hold"), st.booleans()),
        st.tuples(st.just("till"), st.sampled_from(("bar", "shop"))),
        st.tuples(st.just("exit"), st.sampled_from(("kept", "released", "off"))),
    ),
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_obligations_net_to_zero_for_every_gift_redeemed_or_reset(park, steps):
    """Whatever happens, the settlement node holds exactly the value of the gifts still open; once
    every gift is redeemed or reset it holds nothing, and the settlement report says the same."""
    uid = new_id()[:12].upper()
    with park.begin() as conn:
        wallets.issue_card(conn, "CHF", uid)
    for n, (kind, arg) in enumerate(steps):
        with park.begin() as conn:
            book = Book(conn)
            if kind == "activity":
                gifts.count_activity(conn, book, uid, arg, NOW, f"{uid}/a{n}")
            elif kind == "give":
                gifts.give(conn, uid, "DRINK", 2, arg, f"{uid}/g{n}", "")
            elif kind == "hold":
                if gifts.hold_gift(conn, book, uid, "DRINK", "bar", f"{uid}/h{n}", f"{uid}/h{n}"):
                    book.flush()
                    gifts.settle_gift(conn, book, f"{uid}/h{n}", arg, f"{uid}/h{n}/r")
            elif kind == "till" and gifts.units_available(conn, uid, "DRINK"):
                if arg == "bar":
                    gifts.redeem_at_till(conn, uid, "DRINK", 1, arg, f"{uid}/t{n}")
                else:
                    with pytest.raises(gifts.GiftError):  # a drink is redeemable at bars only
                        gifts.redeem(conn, book, uid, "DRINK", 1, arg, "r", "k", "")
            elif kind == "exit":
                gifts.set_site_settings(
                    conn,
                    "park",
                    {
                        "reset_gifts": arg != "off",
                        "reset_bought_gifts": False,
                        "unredeemed_obligation": "kept" if arg == "off" else arg,
                    },
                )
                gifts.reset_at_exit(conn, uid, "park", NOW, f"{uid}/e{n}")
            book.flush()
        with park.connect() as conn:
            assert node_clearing(conn) == open_value(conn) == gifts.settlement(conn, "CHF")["node_open"]
            wallet = gifts.gift_account(conn, uid, gifts.get_item(conn, "DRINK"), create=False)
            if wallet is not None:
                acc = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == wallet)).mappings().one()
                assert acc["credits_posted"] - acc["debits_posted"] - acc[
                    "debits_pending"
                ] == gifts.units_available(conn, uid, "DRINK")
    with park.begin() as conn:
        gifts.set_site_settings(
            conn, "park", {"reset_gifts": True, "reset_bought_gifts": True, "unredeemed_obligation": "kept"}
        )
        gifts.reset_at_exit(conn, uid, "park", NOW, f"{uid}/final-exit")
        assert gifts.card_gifts(conn, uid)["items"] == []
    with park.connect() as conn:
        rep = gifts.settlement(conn, "CHF")
        assert node_clearing(conn) == rep["node_open"] == open_value(conn) == 0
        assert sum(o["net"] for o in rep["outlets"]) + rep["node_kept_unredeemed"] == 0
        # every outlet's line of the report is the sum of its obligation transfers
        for line in rep["outlets"]:
            acc = conn.execute(
                select(gifts.OBLIGATIONS.c.account_id).where(
                    gifts.OBLIGATIONS.c.outlet_id == line["outlet_id"]
                )
            ).scalar()
            row = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == acc)).mappings().one()
            assert line["net"] == row["credits_posted"] - row["debits_posted"]


@settings(max_examples=40, deadline=None)
@given(
    activities=st.integers(1, 5),
    repeat=st.booleans(),
    cap=st.one_of(st.none(), st.integers(1, 4)),
    count=st.integers(0, 30),
)
def test_grants_due_follow_the_rule(activities, repeat, cap, count):
    rule = {"activities": activities, "repeat": repeat, "max_per_visit": cap}
    due = gifts.grants_due(rule, count)
    expected = count // activities if repeat else min(1, count // activities)
    assert due == (expected if cap is None else min(expected, cap))
    assert gifts.grants_due(rule, count + activities) >= due  # more activities never take grants away


# -- REST ------------------------------------------------------------------------------------------


class Clock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def api(engine):
    app = create_app(engine)
    app.dependency_overrides[booking_clock] = Clock(NOW)
    with api_client(app) as client:
        yield client
    check_books(engine)


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def rest_park(api):
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    for oid, kind in (
        ("bar", "bar"),
        ("slide1", "slide"),
        ("slide2", "slide"),
        ("slide3", "slide"),
        ("shop", "shop"),
    ):
        ok(api.post(f"{V1}/outlets", json={"id": oid, "site_id": "park", "kind": kind}), 201)
    ok(api.post(f"{V1}/product-groups", json={"id": "drinks"}), 201)
    for aid, price in (("cola", 450), ("beer", 500)):
        ok(api.post(f"{V1}/articles", json={"id": aid, "product_group_id": "drinks", "price": price}), 201)
    ok(api.post(f"{V1}/cards", json={"uid": CARD}), 201)
    ok(api.post(f"{V1}/cards/{CARD}/topups", json={"amount": 10000}), 201)
    ok(api.put(f"{V1}/bonus-settings", json={"enabled_stores": ["bar"], "point_value": 10}))
    item = ok(
        api.post(
            f"{V1}/gift-items",
            json={
                "id": "DRINK",
                "name": "a drink",
                "value": 300,
                "redeem_kinds": ["bar"],
                "article_id": "cola",
                "points_price": 50,
                "points_level": 80,
            },
        ),
        201,
    )
    assert (item["ledger"], item["currency"]) == ("GIFT:DRINK", "CHF")
    ok(
        api.post(
            f"{V1}/gift-rules",
            json={
                "name": "3 slides, a drink",
                "site_id": "park",
                "activities": 3,
                "outlet_kinds": ["slide"],
                "item_id": "DRINK",
            },
        ),
        201,
    )
    return api


def activity(api, outlet, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return ok(api.post(f"{V1}/cards/{CARD}/activities", json={"outlet_id": outlet}, headers=headers))


def test_rest_three_slides_a_drink_at_the_bar_and_the_settlement(rest_park):
    api = rest_park
    assert activity(api, "slide1") == [] and activity(api, "slide2") == []
    grants = activity(api, "slide3", key="t3")
    assert activity(api, "slide3", key="t3") == grants
    assert [(g["item_id"], g["outlet_id"]) for g in grants] == [("DRINK", "slide3")]
    mine = ok(api.get(f"{V1}/cards/{CARD}/gifts"))
    assert mine["items"] == [{"item_id": "DRINK", "units": 1, "held": 0}]
    assert mine["lots"][0]["granted_by"] == "slide3" and mine["lots"][0]["source"] == "rule"
    wrong = api.post(f"{V1}/cards/{CARD}/gifts/redeem", json={"item_id": "DRINK", "outlet_id": "shop"})
    assert wrong.status_code == 409 and "not redeemable at shop" in wrong.json()["detail"]
    body = {"item_id": "DRINK", "outlet_id": "bar"}
    done = ok(api.post(f"{V1}/cards/{CARD}/gifts/redeem", json=body, headers={"Idempotency-Key": "r1"}))
    again = ok(api.post(f"{V1}/cards/{CARD}/gifts/redeem", json=body, headers={"Idempotency-Key": "r1"}))
    assert (done["value"], done["repeated"], again["repeated"], again["units"]) == (300, False, True, 1)
    assert api.post(f"{V1}/cards/{CARD}/gifts/redeem", json=body).status_code == 409  # none left
    rep = ok(api.get(f"{V1}/gift-settlement"))
    assert {o["outlet_id"]: (o["owed_by_outlet"], o["owed_to_outlet"], o["net"]) for o in rep["outlets"]} == {
        "slide3": (300, 0, -300),
        "bar": (0, 300, 300),
    }
    assert (rep["node_open"], rep["node_kept_unredeemed"]) == (0, 0)
    later = ok(api.get(f"{V1}/gift-settlement", params={"since": "2999-01-01T00:00:00Z"}))
    assert later["outlets"] == []
    assert api.get(f"{V1}/gift-settlement", params={"since": "2025-01-01T00:00:00"}).status_code == 422


def test_rest_a_points_level_lets_the_visitor_choose_a_gift(rest_park):
    api = rest_park
    assert ok(api.get(f"{V1}/cards/{CARD}/gift-choices")) == []
    ok(api.post(f"{V1}/cards/{CARD}/points/purchase", json={"outlet_id": "bar", "points": 100}), 201)
    assert [i["id"] for i in ok(api.get(f"{V1}/cards/{CARD}/gift-choices"))] == ["DRINK"]
    body = {"item_id": "DRINK", "outlet_id": "bar"}
    key = {"Idempotency-Key": "c1"}
    chosen = ok(api.post(f"{V1}/cards/{CARD}/gifts/choose", json=body, headers=key), 201)
    again = ok(api.post(f"{V1}/cards/{CARD}/gifts/choose", json=body, headers=key), 201)
    assert (chosen["points"], chosen["source"], chosen["repeated"], again["repeated"]) == (
        50,
        "points",
        False,
        True,
    )
    assert ok(api.get(f"{V1}/cards/{CARD}/points"))["available"] == 50
    # 50 points left, below the level of 80: no second drink
    below = api.post(f"{V1}/cards/{CARD}/gifts/choose", json=body)
    assert below.status_code == 409 and "level of 80" in below.json()["detail"]
    assert ok(api.get(f"{V1}/cards/{CARD}/gift-choices")) == []
    assert ok(api.get(f"{V1}/cards/{CARD}/gifts"))["items"][0]["units"] == 1


def test_rest_exit_resets_per_site_settings(rest_park):
    api = rest_park
    assert ok(api.get(f"{V1}/sites/park/gift-settings"))["reset_gifts"] is False
    ok(api.put(f"{V1}/sites/park/gift-settings", json={"reset_gifts": True}))
    for outlet in ("slide1", "slide2", "slide3"):
        activity(api, outlet)
    out = ok(api.post(f"{V1}/cards/{CARD}/exit", json={"site_id": "park"}, headers={"Idempotency-Key": "x"}))
    assert (out["units"], out["value"], out["unredeemed_obligation"], out["visit_ended"]) == (
        1,
        300,
        "kept",
        True,
    )
    assert ok(api.get(f"{V1}/cards/{CARD}/gifts"))["items"] == []
    rep = ok(api.get(f"{V1}/gift-settlement"))
    assert (rep["outlets"][0]["net"], rep["node_kept_unredeemed"]) == (-300, 300)
    assert (
        api.put(f"{V1}/sites/park/gift-settings", json={"unredeemed_obligation": "lost"}).status_code == 422
    )
    assert api.post(f"{V1}/cards/{CARD}/exit", json={"site_id": "nowhere"}).status_code == 404


def test_rest_bad_input_is_refused_with_a_message(rest_park):
    api = rest_park
    assert api.post(f"{V1}/gift-items", json={"id": "DRINK", "value": 1}).status_code == 409
    assert api.post(f"{V1}/gift-items", json={"id": "bad id!", "value": 1}).status_code == 422
    assert api.post(f"{V1}/gift-items", json={"id": "X", "value": -1}).status_code == 422
    assert api.post(f"{V1}/gift-items", json={"id": "X", "value": 1, "article_id": "nope"}).status_code == 404
    assert (
        api.post(
            f"{V1}/gift-rules", json={"name": "r", "site_id": "park", "activities": 0, "item_id": "DRINK"}
        ).status_code
        == 422
    )
    assert (
        api.post(
            f"{V1}/gift-rules", json={"name": "r", "site_id": "park", "activities": 2, "item_id": "NOPE"}
        ).status_code
        == 404
    )
    assert api.get(f"{V1}/cards/{CARD}/gifts/nothing").status_code in (404, 405)
    assert api.post(f"{V1}/cards/{CARD}/activities", json={"outlet_id": "nowhere"}).status_code == 404
    rules = ok(api.get(f"{V1}/gift-rules", params={"site_id": "park"}))
    assert ok(api.post(f"{V1}/gift-rules/{rules[0]['id']}/deactivate"))["active"] is False
    for outlet in ("slide1", "slide2", "slide3"):
        assert activity(api, outlet) == []  # a deactivated rule grants nothing
    paths = ok(api.get("/openapi.json"))["paths"]
    for path in (
        "/api/v1/gift-items",
        "/api/v1/gift-rules",
        "/api/v1/cards/{uid}/gifts",
        "/api/v1/cards/{uid}/gifts/choose",
        "/api/v1/cards/{uid}/gifts/redeem",
        "/api/v1/cards/{uid}/exit",
        "/api/v1/gift-settlement",
        "/api/v1/gifts/expire",
        "/api/v1/gift-activities",
    ):
        assert path in paths
    assert not [p for p in paths if p.endswith("-with-vouchers")]  # vouchers go in ordinary baskets
    assert ok(api.post(f"{V1}/gifts/expire")) == {"lots": 0, "units": 0, "value": 0}


def test_rest_a_voucher_pays_its_basket_line_and_a_refund_gives_it_back(rest_park):
    api = rest_park
    ok(
        api.post(
            f"{V1}/bonus-rules",
            json={
                "name": "cola points",
                "kind": "article",
                "stores": ["bar"],
                "targets": [{"id": "cola", "points": 5, "exclusive_voucher_types": ["goods"]}],
            },
        ),
        201,
    )
    ok(
        api.post(
            f"{V1}/bonus-rules",
            json={"name": "1 per franc", "kind": "basket_value", "stores": ["bar"], "amount_per_point": 100},
        ),
        201,
    )
    ok(api.post(f"{V1}/cards/{CARD}/gifts/give", json={"item_id": "DRINK", "outlet_id": "shop"}), 201)
    body = {
        "card_uid": CARD,
        "outlet_id": "bar",
        "lines": [{"article_id": "cola"}, {"article_id": "beer"}],
        "vouchers": [{"line_id": "1", "item_id": "DRINK"}],
    }
    quote = ok(api.post(f"{V1}/baskets/quote", json=body))
    # the cola is paid by the voucher: no money, no points from the goods-exclusive rule, and its
    # value adds nothing to the basket value (only the beer's 5.00 earns 5 points)
    assert (quote["total"], quote["vouchers_value"], quote["amount_due"], quote["points_earned"]) == (
        950,
        450,
        500,
        5,
    )
    assert [line["voucher_item"] for line in quote["lines"]] == ["DRINK", None]
    paid = ok(api.post(f"{V1}/baskets/pay", json=body), 201)
    assert ok(api.get(f"{V1}/cards/{CARD}"))["balance"] == 9500
    assert ok(api.get(f"{V1}/cards/{CARD}/gifts"))["items"] == []
    rep = ok(api.get(f"{V1}/gift-settlement"))
    assert {o["outlet_id"]: o["net"] for o in rep["outlets"]} == {"shop": -300, "bar": 300}
    assert api.post(f"{V1}/baskets/pay", json=body).status_code == 409  # no voucher left
    refund = ok(api.post(f"{V1}/baskets/{paid['id']}/refund"))
    assert (refund["refunded"], refund["gift_units_returned"]) == (500, 1)
    assert ok(api.get(f"{V1}/cards/{CARD}/gifts"))["items"][0]["units"] == 1
    rep = ok(api.get(f"{V1}/gift-settlement"))
    assert {o["outlet_id"]: o["net"] for o in rep["outlets"]} == {"shop": -300, "bar": 0}
    wrong = {**body, "vouchers": [{"line_id": "2", "item_id": "DRINK"}]}
    assert api.post(f"{V1}/baskets/quote", json=wrong).status_code == 422
    ok(api.post(f"{V1}/cards/{CARD}/gifts/redeem", json={"item_id": "DRINK", "outlet_id": "bar"}))


def test_rest_exit_can_reset_the_bonus_points_earned_at_the_site(rest_park):
    api = rest_park
    ok(
        api.post(
            f"{V1}/bonus-rules",
            json={
                "name": "beer points",
                "kind": "article",
                "stores": ["bar"],
                "targets": [{"id": "beer", "points": 7}],
            },
        ),
        201,
    )
    ok(api.post(f"{V1}/cards/{CARD}/points/purchase", json={"outlet_id": "bar", "points": 20}), 201)
    body = {"card_uid": CARD, "outlet_id": "bar", "lines": [{"article_id": "beer"}]}
    ok(api.post(f"{V1}/baskets/pay", json=body), 201)
    assert ok(api.get(f"{V1}/cards/{CARD}/points"))["balance"] == 27
    out = ok(api.post(f"{V1}/cards/{CARD}/exit", json={"site_id": "park"}))
    assert out["points"] == 0  # not configured: nothing reset
    ok(api.put(f"{V1}/sites/park/gift-settings", json={"reset_points": True}))
    out = ok(api.post(f"{V1}/cards/{CARD}/exit", json={"site_id": "park"}))
    assert out["points"] == 7
    mine = ok(api.get(f"{V1}/cards/{CARD}/points"))
    assert (mine["balance"], [lot["points"] for lot in mine["lots"]]) == (20, [20])  # bought points stay


def test_seed_000_activities_and_campaigns():
    # 6000 cards handed out (no activity), 3000 used for the first time, 2000 collect their profit
    assert gifts.campaigns(3000 + 2000) == 313
    assert (gifts.campaigns(0), gifts.campaigns(16), gifts.campaigns(17)) == (0, 1, 2)


def test_rest_activities_count_first_uses_and_collections_not_collecting(rest_park):
    api = rest_park
    ok(api.post(f"{V1}/cards", json={"uid": "C0FFEE02"}), 201)  # handed out, never used
    for outlet in ("slide1", "slide2", "slide3", "slide1"):  # one first use; collecting is none
        activity(api, outlet)
    ok(api.post(f"{V1}/cards/{CARD}/gifts/redeem", json={"item_id": "DRINK", "outlet_id": "bar"}))
    rep = ok(api.get(f"{V1}/gift-activities"))
    assert (rep["first_uses"], rep["collections"], rep["activities"], rep["campaigns"]) == (1, 1, 2, 1)


def _in_parallel(fn, n):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, range(n)))


def test_parallel_redemptions_of_one_gift_redeem_it_once(park):
    with park.begin() as conn:
        gifts.give(conn, CARD, "DRINK", 1, "shop", "give-1", "")

    def redeem(i):
        try:
            with park.begin() as conn:
                gifts.redeem_at_till(conn, CARD, "DRINK", 1, "bar", f"till-{i}")
            return True
        except gifts.GiftError:
            return False

    assert sorted(_in_parallel(redeem, 6)) == [False] * 5 + [True]
    assert net(report(park), "bar") == 300


def test_parallel_activities_complete_a_rule_once(park):
    outlets_ = ("slide1", "slide2", "slide3", "slide1", "slide2")
    grants = _in_parallel(lambda i: slide(park, outlets_[i], key=f"par-{i}"), len(outlets_))
    assert sum(len(g) for g in grants) == 1
    assert units(park) == 1


def test_a_replaced_card_takes_its_gifts_along(park):
    with park.begin() as conn:
        gifts.set_site_settings(conn, "park", {"reset_gifts": True})
        gifts.give(conn, CARD, "DRINK", 2, "shop", "give-1", "")
        gifts.give(conn, CARD, "RIDE", 1, "bar", "give-2", "")
        wallets.issue_card(conn, "CHF", "C0FFEE02")
        book = Book(conn)
        assert gifts.move_lots(conn, book, CARD, "C0FFEE02", "replace/test") == 3
        book.flush()
    assert (units(park), units(park, card="C0FFEE02"), units(park, "RIDE", card="C0FFEE02")) == (0, 2, 1)
    with park.begin() as conn:
        gifts.redeem_at_till(conn, "C0FFEE02", "DRINK", 1, "bar", "till-1")
        assert gifts.reset_at_exit(conn, "C0FFEE02", "park", NOW, "exit-1")["units"] == 2
    rep = report(park)
    # the moved gifts keep their granting outlets
    assert (net(rep, "shop"), net(rep, "bar"), rep["node_kept_unredeemed"], rep["node_open"]) == (
        -600,
        300 - 200,
        500,
        0,
    )


def test_a_gift_voucher_is_valid_for_its_days_then_expires(park):
    """Seed 001: the validity of a voucher is set electronically."""
    now = dt.datetime.now(UTC)
    with park.begin() as conn:
        gifts.create_item(conn, {"id": "ICE", "value": 250, "valid_days": 1}, "CHF")
        gifts.give(conn, CARD, "ICE", 2, "shop", "give-1", "", now=now - dt.timedelta(hours=30))
        gifts.give(conn, CARD, "ICE", 1, "shop", "give-2", "", now=now)
    assert units(park, "ICE") == 1  # the first two are no longer valid
    with park.begin() as conn:
        book = Book(conn)
        with pytest.raises(gifts.GiftError):
            gifts.redeem(conn, book, CARD, "ICE", 2, "bar", "r", "k", "")
    with park.begin() as conn:
        gifts.redeem_at_till(conn, CARD, "ICE", 1, "bar", "till-1")
        assert gifts.expire(conn, now) == {"lots": 1, "units": 2, "value": 500}
        assert gifts.expire(conn, now)["lots"] == 0
    rep = report(park)
    assert (net(rep, "shop"), net(rep, "bar"), rep["node_kept_unredeemed"], rep["node_open"]) == (
        -750,
        250,
        500,
        0,
    )


def test_seed_004_chain_of_three_participants_settles_who_owes_whom(park):
    """Seed 004: the first participant grants a gift the second hands out, and the second grants
    one the third must provide; at the end of the period one report says who owes whom."""
    with park.begin() as conn:
        outlets.create_outlet(conn, "CHF", "photo", "park", kind="photo")
        gifts.create_item(conn, {"id": "PHOTO", "value": 200, "redeem_kinds": ["photo"]}, "CHF")
        gifts.create_rule(
            conn,
            {
                "name": "a drink at the bar, a photo",
                "site_id": "park",
                "activities": 1,
                "outlet_kinds": ["bar"],
                "item_id": "PHOTO",
            },
        )
    for outlet in ("slide1", "slide2", "slide3"):
        slide(park, outlet)
    with park.begin() as conn:
        gifts.redeem_at_till(conn, CARD, "DRINK", 1, "bar", "till-1")
    assert [g["item_id"] for g in slide(park, "bar")] == ["PHOTO"]  # the bar's activity
    with park.begin() as conn:
        gifts.redeem_at_till(conn, CARD, "PHOTO", 1, "photo", "till-2")
    rep = report(park)
    assert {o["outlet_id"]: o["net"] for o in rep["outlets"]} == {"slide3": -300, "bar": 100, "photo": 200}
    assert rep["node_open"] == rep["node_kept_unredeemed"] == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(colas=st.integers(1, 5), beers=st.integers(0, 3), voucher=st.booleans(), pay_points=st.integers(0, 40))
def test_vouchers_pay_their_lines_and_earn_no_basket_points(rest_park, colas, beers, voucher, pay_points):
    api = rest_park
    if not ok(api.get(f"{V1}/bonus-rules")):
        ok(
            api.post(
                f"{V1}/bonus-rules",
                json={
                    "name": "1 per franc",
                    "kind": "basket_value",
                    "stores": ["bar"],
                    "amount_per_point": 100,
                },
            ),
            201,
        )
        ok(
            api.post(
                f"{V1}/cards/{CARD}/gifts/give", json={"item_id": "DRINK", "outlet_id": "shop", "units": 5}
            ),
            201,
        )
        ok(api.post(f"{V1}/cards/{CARD}/points/purchase", json={"outlet_id": "bar", "points": 40}), 201)
    lines = [{"article_id": "cola", "quantity": colas}] + (
        [{"article_id": "beer", "quantity": beers}] if beers else []
    )
    body = {
        "card_uid": CARD,
        "outlet_id": "bar",
        "lines": lines,
        "redeem_points": pay_points,
        "vouchers": [{"line_id": "1", "item_id": "DRINK"}] if voucher else [],
    }
    r = api.post(f"{V1}/baskets/quote", json=body)
    total, covered = 450 * colas + 500 * beers, 450 * colas if voucher else 0
    if pay_points * 10 > total - covered:
        assert r.status_code == 422  # the points would pay more than is left
        return
    quote = ok(r)
    assert (quote["total"], quote["vouchers_value"], quote["points_value"]) == (
        total,
        covered,
        pay_points * 10,
    )
    assert quote["amount_due"] == total - covered - pay_points * 10
    assert quote["points_earned"] == (total - covered - pay_points * 10) // 100
