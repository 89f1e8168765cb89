"""A card's history through the API (GET /cards/{uid}/history, hub/wallets/history.py): every tap
with what became of its hold, also one at no charge, top-ups, refunds, sales, points and gifts,
newest first, filtered by kind and time, a page at a time; taps through a real Mosquitto and the
real hub."""

from __future__ import annotations

from datetime import timedelta

import pytest
from clients import api_client
from test_end_to_end import PRICE, SITE, RawDevice, card, make_card
from test_machine_loyalty import Machine, gift_rules, loyalty, rule

from hub import gifts
from hub.api.app import create_app
from hub.core.clock import utcnow
from hub.loyalty import points
from hub.wallets.history import KINDS
from protocol import topics

V1 = "/api/v1"


def ok(response):
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
def api(hub):
    """The site of test_machine_loyalty: a bar, a slide and a gate, cola and a ride, points at the bar."""
    client = api_client(hub.app)
    client.ok = ok
    ok(client.post(f"{V1}/sites", json={"id": SITE}))
    for outlet in ("bar", "slide", "gate"):
        ok(client.post(f"{V1}/outlets", json={"id": outlet, "site_id": SITE, "kind": outlet}))
    ok(client.post(f"{V1}/product-groups", json={"id": "drinks"}))
    cola = {"id": "cola", "product_group_id": "drinks", "revenue_group": "beverages", "price": PRICE}
    ok(client.post(f"{V1}/articles", json=cola))
    ok(client.post(f"{V1}/articles", json={"id": "ride", "price": PRICE}))
    settings = {"hours_until_available": 0, "default_validity_days": 30, "enabled_stores": ["bar"]}
    ok(client.put(f"{V1}/bonus-settings", json=settings))
    return client


def read(api, uid, **query) -> list[dict]:
    return ok(api.get(f"{V1}/cards/{uid}/history", params=query))


def every_page(api, uid, limit, **query) -> list[dict]:
    entries, before = [], None
    while True:
        page = read(api, uid, limit=limit, **query, **({"before": before} if before else {}))
        assert len(page) <= limit
        entries += page
        if len(page) < limit:
            return entries
        before = page[-1]["cursor"]


def staff_and_guests(api):
    for group, percent in (("staff", 100), ("guests", 10)):
        api.ok(
            api.post(
                f"{V1}/discount-groups",
                json={"id": group, "rates": [{"scope": "general", "percent": percent}]},
            )
        )


async def test_an_employees_free_dispense_is_in_the_history_with_its_device_and_outlet(hub, api):
    staff_and_guests(api)
    employee = make_card(hub, 1000)
    api.ok(api.put(f"{V1}/cards/{employee}/discounts", json={"group": "staff"}))
    async with RawDevice(hub) as raw:
        loyalty(api, raw.id, "bar", "cola")
        grant, ack = await Machine(raw).vend(employee)
        assert (grant["amount"], ack["posted"]) == (0, 0)  # booked no money
    [tap, topup] = read(api, employee)
    assert (topup["kind"], topup["amount"]) == ("topup", 1000)
    assert {k: tap[k] for k in ("kind", "amount", "held", "status", "units", "unit_price")} == {
        "kind": "tap",
        "amount": 0,
        "held": 0,
        "status": "posted",
        "units": 1,
        "unit_price": 0,
    }
    assert (tap["device_id"], tap["outlet_id"], tap["article_id"]) == (raw.id, "bar", "cola")
    assert (tap["discount_percent"], tap["card_uid"], tap["id"]) == ("100", employee, grant["hold"])
    assert tap["request_id"] == "1-1" and tap["resolved_at"] is not None
    assert f"at {raw.id}" in tap["reason"] and "delivered" in tap["reason"]
    assert read(api, employee, kind="tap") == [tap]


async def test_every_tap_says_what_became_of_its_hold_and_the_amounts_add_up(hub, api):
    rule(api, name="cola 5", kind="article", channels_in=["machine"], targets=[{"id": "cola", "points": 5}])
    uid = make_card(hub, 2000)
    async with RawDevice(hub) as raw, RawDevice(hub) as plain:
        loyalty(api, raw.id, "bar", "cola")
        bar, other = Machine(raw), Machine(plain)
        partly, _ = await bar.vend(uid, units=2, delivered=1)  # 2 held, 1 posted, 1 released
        nothing, _ = await other.vend(uid, delivered=0)  # voided
        forgotten = await other.tap(uid)  # never reported: expires
        assert hub.authorizer.expire(utcnow() + timedelta(hours=1)) == 1
        waiting = await other.tap(uid, units=3)  # still pending
    entries = read(api, uid)
    taps = {e["id"]: e for e in entries if e["kind"] == "tap"}
    assert [
        (taps[g["hold"]]["status"], taps[g["hold"]]["held"], taps[g["hold"]]["amount"])
        for g in (
            partly,
            nothing,
            forgotten,
            waiting,
        )
    ] == [
        ("posted", 2 * PRICE, -PRICE),
        ("voided", PRICE, 0),
        ("expired", PRICE, 0),
        ("pending", 3 * PRICE, 0),
    ]
    assert f"{PRICE} paid, {PRICE} released" in taps[partly["hold"]]["reason"]
    # Newest first; a hold's own transfers (held, posted, voided) are told by its tap alone.
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    assert {e["code"] for e in entries} == {"topup", "tap", "points_earned"}
    assert sum(e["amount"] for e in entries) == card(hub, uid)["balance"] == 2000 - PRICE
    [earned] = [e for e in entries if e["kind"] == "points_earned"]
    assert (earned["points"], earned["amount"], earned["device_id"], earned["outlet_id"]) == (
        5,
        0,
        raw.id,
        "bar",
    )
    assert earned["rule_id"] is not None and earned["reason"].startswith("cola 5")


async def test_gifts_and_points_received_redeemed_at_a_machine_and_reset_at_the_exit(hub, api):
    gift_rules(hub, reset_at_exit=True)
    rule(api, name="1 per 1.00", kind="basket_value", channels_in=["machine"], amount_per_point=100)
    uid = make_card(hub, 1000)
    with hub.engine.begin() as conn:
        gifts.set_site_settings(conn, SITE, {"reset_gifts": True, "reset_points": True})
        gifts.give(conn, uid, "drink", 3, "slide", "test/give", "a birthday")
    async with RawDevice(hub) as tap, RawDevice(hub) as paid, RawDevice(hub, kind="turnstile") as turnstile:
        loyalty(api, tap.id, "bar", "cola", gift_item="drink")
        loyalty(api, paid.id, "bar", "ride")
        loyalty(api, turnstile.id, "gate", "ride")
        grant, _ = await Machine(tap).vend(uid)  # a drink instead of money
        await Machine(paid).vend(uid)  # 2.50: two points
        await Machine(turnstile).vend(uid, dir="exit")
    entries = read(api, uid)
    earned, reset = (next(e for e in entries if e["kind"] == k) for k in ("points_earned", "points_reset"))
    assert (earned["points"], earned["device_id"], reset["points"]) == (2, paid.id, -2)
    assert "exit" in reset["reason"]
    by_kind = {e["kind"]: e for e in entries}
    received, drink = by_kind["gift_received"], next(e for e in entries if e["id"] == grant["hold"])
    assert (received["gift_item"], received["gift_units"], received["outlet_id"]) == ("drink", 3, "slide")
    assert "a birthday" in received["reason"]
    assert (drink["kind"], drink["gift_item"], drink["gift_units"], drink["amount"]) == (
        "tap",
        "drink",
        -1,
        0,
    )
    reset = by_kind["gift_reset"]
    exit_tap = next(e for e in entries if e["device_id"] == turnstile.id)
    assert exit_tap["reason"] == f"1 x {PRICE} at {turnstile.id}, exit: delivered, {PRICE} paid"
    assert (reset["gift_item"], reset["gift_units"], reset["amount"]) == ("drink", -2, 0)
    assert "exit" in reset["reason"]
    assert sum(e["gift_units"] or 0 for e in entries) == 0
    gifts_only = read(api, uid, kind=["gift_received", "gift_reset"])
    assert [e["kind"] for e in gifts_only] == ["gift_reset", "gift_received"]


def test_top_ups_sales_refunds_and_points_spent_expired_and_reset(engine):
    with api_client(create_app(engine)) as client:
        ok(client.post(f"{V1}/sites", json={"id": "park"}))
        ok(client.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park"}))
        ok(client.post(f"{V1}/outlets/bar/counters", json={"id": "till-2"}))
        ok(client.post(f"{V1}/articles", json={"id": "beer", "revenue_group": "drinks", "price": 500}))
        ok(
            client.put(
                f"{V1}/bonus-settings",
                json={"enabled_stores": ["bar"], "point_value": 10, "default_validity_days": 30},
            )
        )
        ok(client.put(f"{V1}/topup-tiers", json=[{"min_amount": 5000, "percent": 5}]))
        ok(
            client.post(
                f"{V1}/bonus-rules",
                json={
                    "name": "1 per 1.00",
                    "kind": "basket_value",
                    "stores": ["bar"],
                    "amount_per_point": 100,
                },
            )
        )
        ok(client.post(f"{V1}/cards", json={"uid": "04c0ffee01"}))
        uid = "04C0FFEE01"
        ok(client.post(f"{V1}/cards/{uid}/topups", json={"amount": 5000}))
        basket = {
            "card_uid": uid,
            "outlet_id": "bar",
            "counter_id": "till-2",
            "lines": [{"article_id": "beer", "quantity": 2}],
        }
        paid = ok(client.post(f"{V1}/baskets/pay", json=basket))
        ok(client.post(f"{V1}/baskets/pay", json={**basket, "redeem_points": 4}))
        with engine.begin() as conn:
            later = utcnow() + timedelta(days=31)
            assert points.run_expiry(conn, later)["points"] > 0
        ok(client.post(f"{V1}/cards/{uid}/refund"))
        entries = read(client, uid)

    kinds = [e["kind"] for e in entries]
    assert set(kinds[:2]) == {"refund", "bonus_forfeit"} and set(kinds[-2:]) == {"topup", "topup_bonus"}
    assert {"sale", "points_earned", "points_spent", "points_expired", "bonus_forfeit"} <= set(kinds)
    sale = next(e for e in entries if e["kind"] == "sale" and e["basket_id"] == paid["id"])
    assert (sale["amount"], sale["outlet_id"], sale["counter_id"]) == (-1000, "bar", "till-2")
    spent = next(e for e in entries if e["kind"] == "points_spent")
    assert (spent["points"], spent["amount"], spent["outlet_id"]) == (-4, 0, "bar")
    earned = [e for e in entries if e["kind"] == "points_earned"]
    assert all(e["points"] > 0 and e["rule_id"] and e["outlet_id"] == "bar" for e in earned)
    expired = [e for e in entries if e["kind"] == "points_expired"]
    assert sum(e["points"] for e in expired) == -(sum(e["points"] for e in earned) - 4)
    assert sum(e["amount"] for e in entries) == 0  # all paid back
    assert sum(e["points"] or 0 for e in entries) == 0


def test_pages_filters_and_bad_requests(engine):
    with api_client(create_app(engine)) as client:
        client.post(f"{V1}/cards", json={"uid": "0BADF00D"})
        for amount in range(1, 8):
            client.post(f"{V1}/cards/0BADF00D/topups", json={"amount": amount})
        everything = read(client, "0badf00d")
        assert [e["amount"] for e in everything] == [7, 6, 5, 4, 3, 2, 1]
        for limit in (1, 2, 3, 7):
            assert every_page(client, "0BADF00D", limit) == everything
        middle = everything[3]["at"]
        assert [e["amount"] for e in read(client, "0BADF00D", since=middle)] == [7, 6, 5, 4]
        assert [e["amount"] for e in read(client, "0BADF00D", until=middle)] == [3, 2, 1]
        assert read(client, "0BADF00D", kind="refund") == []
        for query in (
            {"kind": "nonsense"},
            {"before": "not!a!cursor"},
            {"before": "bm90LWEtY3Vyc29y"},
            {"since": "2026-01-01"},
        ):
            response = client.get(f"{V1}/cards/0BADF00D/history", params=query)
            assert response.status_code == 422, (query, response.text)
        assert client.get(f"{V1}/cards/0BADF00E/history").status_code == 404
    assert set(KINDS) >= {
        "tap",
        "topup",
        "refund",
        "points_earned",
        "points_reset",
        "gift_received",
        "gift_reset",
    }


async def test_offline_vends_paid_or_not_are_in_the_history_once(hub):
    uid = make_card(hub, PRICE)
    async with RawDevice(hub) as raw:
        for request_id, event_id in (("2-1", "1-7"), ("2-2", "1-8")):  # the second finds the wallet empty
            await raw.send(topics.REPORT, {"id": request_id, "off": event_id, "card": uid, "delivered": 1})
            await raw.replies(1)
    with api_client(create_app(hub.engine)) as client:
        unpaid, paid, topup = read(client, uid)
        assert read(client, uid, kind="offline_vend") == [unpaid, paid]
    assert topup["kind"] == "topup"
    assert (paid["kind"], paid["amount"], paid["device_id"]) == ("offline_vend", -PRICE, raw.id)
    assert (unpaid["kind"], unpaid["amount"], unpaid["device_id"]) == ("offline_vend", 0, raw.id)
    assert (unpaid["units"], unpaid["request_id"], unpaid["card_uid"]) == (1, "2-2", uid)
    assert "not paid by the card: insufficient_funds" in unpaid["reason"]


async def test_a_linked_cards_taps_are_in_its_history_and_its_wallets(hub, api):
    rfid = "04d1e2f3a4"  # issued in lower case, tapped in upper case
    ok(api.post(f"{V1}/cards", json={"uid": rfid}))
    ok(api.post(f"{V1}/cards/{rfid}/topups", json={"amount": 1000}))
    wallet = ok(api.post(f"{V1}/cards/digital", json={}))["uid"]
    ok(api.post(f"{V1}/cards/{rfid}/link", json={"wallet_uid": wallet}))
    async with RawDevice(hub) as raw:
        grant, _ = await Machine(raw).vend(rfid.upper())
    [tap] = read(api, wallet, kind="tap")
    assert (tap["id"], tap["card_uid"], tap["amount"]) == (grant["hold"], rfid.upper(), -PRICE)
    assert read(api, rfid, kind="tap") == [tap]
    own = read(api, rfid)  # and, as before, its own wallet's top-up and the move to the wallet
    assert [(e["kind"], e["amount"]) for e in own] == [("tap", -PRICE), ("balance_moved", 0), ("topup", 1000)]
    assert sum(e["amount"] for e in read(api, wallet)) == card(hub, wallet)["balance"] == 1000 - PRICE
