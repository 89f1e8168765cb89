"""Machines in the loyalty engine, end to end through Mosquitto and the real hub, on SQLite and
PostgreSQL: a controller's tap is priced with the card's discount, earns points on what was
delivered, counts activities that grant gifts, and hands out a gift instead of charging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from clients import api_client
from sqlalchemy import func, select
from test_end_to_end import PRICE, SITE, RawDevice, card, holds_of, make_card

from hub import gifts
from hub.core.clock import utcnow
from hub.ledger import TRANSFERS
from hub.taps.authorize import Incoming
from protocol import messages, topics

DRINK_VALUE = 200


@pytest.fixture
def api(hub):
    client = api_client(hub.app)

    def ok(response, status=(200, 201, 204)):
        assert response.status_code in status, response.text
        return response.json() if response.content else None

    client.ok = ok
    client.ok(client.post("/api/v1/sites", json={"id": SITE}))
    for outlet, kind in (("bar", "bar"), ("slide", "slide"), ("gate", "gate")):
        client.ok(client.post("/api/v1/outlets", json={"id": outlet, "site_id": SITE, "kind": kind}))
    client.ok(client.post("/api/v1/product-groups", json={"id": "drinks"}))
    client.ok(
        client.post(
            "/api/v1/articles",
            json={"id": "cola", "product_group_id": "drinks", "revenue_group": "beverages", "price": PRICE},
        )
    )
    client.ok(client.post("/api/v1/articles", json={"id": "ride", "price": PRICE}))
    client.ok(
        client.put(
            "/api/v1/bonus-settings",
            json={"hours_until_available": 0, "default_validity_days": 30, "enabled_stores": ["bar"]},
        )
    )
    return client


def rule(api, **kw):
    return api.ok(api.post("/api/v1/bonus-rules", json={"stores": ["bar"], **kw}))


def loyalty(api, device_id, outlet, article, gift_item=None):
    return api.ok(
        api.put(
            f"/api/v1/devices/{device_id}/loyalty",
            json={"outlet_id": outlet, "article_id": article, "gift_item": gift_item},
        )
    )


def card_points(api, uid):
    return api.ok(api.get(f"/api/v1/cards/{uid}/points"))


def gift_rules(hub, reset_at_exit=False):
    """A drink (worth 2.00, redeemable at bars) after three slides in one visit."""
    with hub.engine.begin() as conn:
        gifts.create_item(conn, {"id": "drink", "value": DRINK_VALUE, "redeem_kinds": ["bar"]}, "CHF")
        gifts.create_rule(
            conn,
            {
                "name": "three slides, one drink",
                "site_id": SITE,
                "active": True,
                "activities": 3,
                "outlet_kinds": ["slide"],
                "outlet_ids": [],
                "item_id": "drink",
                "units": 1,
                "repeat": False,
                "max_per_visit": None,
            },
        )
        gifts.set_site_settings(
            conn,
            SITE,
            {"reset_gifts": reset_at_exit, "reset_bought_gifts": False, "unredeemed_obligation": "kept"},
        )


def drinks(hub, uid):
    with hub.engine.connect() as conn:
        return gifts.units_available(conn, uid, "drink")


def transfers(hub):
    with hub.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(TRANSFERS)).scalar()


def settlement(hub):
    with hub.engine.connect() as conn:
        return {o["outlet_id"]: o["net"] for o in gifts.settlement(conn, "CHF")["outlets"]}


class Machine:
    """A RawDevice that taps and reports, numbering its own requests."""

    def __init__(self, raw):
        self.raw, self.seq = raw, 0

    def next_id(self):
        self.seq += 1
        return f"1-{self.seq}"

    async def ask(self, kind, **body):
        await self.raw.send(kind, {"id": self.next_id(), **body})
        [reply] = await self.raw.replies(1)
        return self.raw.open(reply)

    async def tap(self, uid, units=1, **extra):
        return await self.ask(topics.TAP, card=uid, units=units, **extra)

    async def report(self, grant, delivered):
        return await self.ask(topics.REPORT, hold=grant["hold"], delivered=delivered)

    async def vend(self, uid, units=1, delivered=None, **extra):
        grant = await self.tap(uid, units, **extra)
        assert grant["k"] == messages.GRANT, grant
        return grant, await self.report(grant, units if delivered is None else delivered)


async def test_a_machine_tap_earns_points_on_what_was_delivered_with_the_reason(hub, api):
    rule(api, name="cola 5", kind="article", channels_in=["machine"], targets=[{"id": "cola", "points": 5}])
    rule(api, name="1 per 1.00", kind="basket_value", channels_in=["machine"], amount_per_point=100)
    rule(api, name="till only", kind="article", channels_in=["till"], targets=[{"id": "cola", "points": 50}])
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw, RawDevice(hub) as plain:
        loyalty(api, raw.id, "bar", "cola")
        grant, ack = await Machine(raw).vend(uid, units=2, delivered=1)
        assert (grant["amount"], ack["posted"], ack["voided"]) == (2 * PRICE, PRICE, PRICE)
        points = card_points(api, uid)
        assert points["balance"] == points["available"] == 5 + 2
        lots = {lot["rule_id"]: lot for lot in points["lots"]}
        assert all(lot["basket_id"] == grant["hold"] for lot in lots.values())
        reasons = sorted(lot["reason"] for lot in lots.values())
        assert reasons[0].startswith("1 per 1.00: basket value 2.50 at 1.00 per point")
        assert reasons[1].startswith("cola 5: 5 pts x 1 for article 'cola' (article 'cola', line '1')")
        assert all(f"1 delivered at {raw.id}" in r for r in reasons)

        # A machine without loyalty settings is charged as ever and earns nothing.
        _, ack = await Machine(plain).vend(uid)
        assert ack["posted"] == PRICE
        assert card_points(api, uid)["balance"] == 7
    assert card(hub, uid)["balance"] == 1000 - 2 * PRICE


async def test_the_cards_discount_is_held_and_posted_and_points_follow_the_discounted_value(hub, api):
    rule(api, name="1 per 1.00", kind="basket_value", channels_in=["machine"], amount_per_point=100)
    api.ok(
        api.post(
            "/api/v1/discount-groups", json={"id": "staff", "rates": [{"scope": "general", "percent": 100}]}
        )
    )
    api.ok(
        api.post(
            "/api/v1/discount-groups", json={"id": "guests", "rates": [{"scope": "general", "percent": 10}]}
        )
    )
    guest, employee = make_card(hub, 1000), make_card(hub, 1000)
    # The card's own 20 % on beverages beats its group's general 10 %.
    api.ok(
        api.put(
            f"/api/v1/cards/{guest}/discounts",
            json={
                "group": "guests",
                "rates": [{"scope": "revenue_group", "target": "beverages", "percent": 20}],
            },
        )
    )
    api.ok(api.put(f"/api/v1/cards/{employee}/discounts", json={"group": "staff"}))
    async with RawDevice(hub) as raw:
        loyalty(api, raw.id, "bar", "cola")
        machine = Machine(raw)
        grant, ack = await machine.vend(guest, units=3, delivered=2)
        assert (grant["amount"], ack["posted"]) == (3 * 200, 2 * 200)
        assert [h["unit_price"] for h in holds_of(hub, raw.id)] == [200]
        assert card(hub, guest)["balance"] == 1000 - 400
        assert card_points(api, guest)["balance"] == 4  # 2 x 2.50 less 1.00 discount

        grant, ack = await machine.vend(employee)  # employee consumption: free, no points
        assert (grant["amount"], ack["posted"]) == (0, 0)
        assert card(hub, employee)["balance"] == 1000
        assert card_points(api, employee)["balance"] == 0
    statuses = sorted(h["status"] for h in holds_of(hub, raw.id))
    assert statuses == ["posted", "posted"]


async def test_a_gift_earned_on_the_slide_is_dispensed_at_the_bar_and_the_outlets_settle(hub, api):
    gift_rules(hub)
    uid = make_card(hub, 1000)
    async with RawDevice(hub, kind="turnstile") as gate, RawDevice(hub) as tap:
        loyalty(api, gate.id, "slide", "ride")
        loyalty(api, tap.id, "bar", "cola", gift_item="drink")
        slide, bar = Machine(gate), Machine(tap)
        for _ in range(3):
            await slide.vend(uid, dir="entry")
        assert drinks(hub, uid) == 1
        assert settlement(hub) == {"slide": -DRINK_VALUE}  # the slide owes the settlement node

        grant = await bar.tap(uid, units=2)
        assert (grant["units"], grant["amount"]) == (1, 0)  # one free drink, no money held
        assert card(hub, uid)["available"] == 1000 - 3 * PRICE
        ack = await bar.report(grant, 1)
        assert ack["posted"] == 0
        assert drinks(hub, uid) == 0
        assert settlement(hub) == {"slide": -DRINK_VALUE, "bar": DRINK_VALUE}

        grant, ack = await bar.vend(uid)  # no gift left: the drink is paid
        assert (grant["amount"], ack["posted"]) == (PRICE, PRICE)
    assert card(hub, uid)["balance"] == 1000 - 4 * PRICE


async def test_a_gift_not_dispensed_goes_back_to_the_card(hub, api):
    gift_rules(hub)
    uid = make_card(hub, 1000)
    with hub.engine.begin() as conn:
        gifts.give(conn, uid, "drink", 1, "slide", "test/give", "a present")
    async with RawDevice(hub) as tap:
        loyalty(api, tap.id, "bar", "cola", gift_item="drink")
        bar = Machine(tap)
        grant, ack = await bar.vend(uid, delivered=0)
        assert (grant["amount"], ack["posted"]) == (0, 0)
        assert drinks(hub, uid) == 1
        assert settlement(hub) == {"slide": -DRINK_VALUE}
        grant, ack = await bar.vend(uid)
        assert grant["amount"] == 0 and drinks(hub, uid) == 0
    assert card(hub, uid)["balance"] == 1000
    assert settlement(hub) == {"slide": -DRINK_VALUE, "bar": DRINK_VALUE}


async def test_a_gift_hold_never_reported_expires_and_gives_the_gift_back(hub, api):
    gift_rules(hub)
    uid = make_card(hub, 1000)
    with hub.engine.begin() as conn:
        gifts.give(conn, uid, "drink", 1, "slide", "test/give", "a present")
    async with RawDevice(hub) as tap:
        loyalty(api, tap.id, "bar", "cola", gift_item="drink")
        grant = await Machine(tap).tap(uid)
        assert grant["amount"] == 0 and drinks(hub, uid) == 0
        assert hub.authorizer.expire(utcnow() + timedelta(hours=1)) == 1
    assert drinks(hub, uid) == 1
    assert settlement(hub) == {"slide": -DRINK_VALUE}


async def test_a_repeated_report_books_nothing_twice(hub, api):
    gift_rules(hub)
    rule(api, name="cola 5", kind="article", channels_in=["machine"], targets=[{"id": "cola", "points": 5}])
    uid = make_card(hub, 1000)
    with hub.engine.begin() as conn:
        gifts.give(conn, uid, "drink", 1, "slide", "test/give", "a present")
    async with RawDevice(hub) as tap:
        loyalty(api, tap.id, "bar", "cola", gift_item="drink")
        bar = Machine(tap)
        gift = await bar.tap(uid)
        paid = await bar.tap(uid)
        assert (gift["amount"], paid["amount"]) == (0, PRICE)
        for grant in (gift, paid):
            body = {"id": bar.next_id(), "hold": grant["hold"], "delivered": 1}
            await tap.send(topics.REPORT, body, times=2)  # a QoS 1 redelivery
            first, second = await tap.replies(2)
            assert first == second
        booked = transfers(hub)
        for grant in (gift, paid):  # the device reports again under a new id
            again = await bar.report(grant, 1)
            assert again["status"] == "posted"
        assert transfers(hub) == booked
    assert card_points(api, uid)["balance"] == 5
    assert drinks(hub, uid) == 0
    assert settlement(hub) == {"slide": -DRINK_VALUE, "bar": DRINK_VALUE}
    assert card(hub, uid)["balance"] == 1000 - PRICE


async def test_passing_the_exit_resets_the_unused_gifts_of_the_site(hub, api):
    gift_rules(hub, reset_at_exit=True)
    uid = make_card(hub, 1000)
    with hub.engine.begin() as conn:
        gifts.give(conn, uid, "drink", 2, "slide", "test/give", "a present")
    async with RawDevice(hub, kind="turnstile") as raw:
        loyalty(api, raw.id, "gate", "ride")
        gate = Machine(raw)
        await gate.vend(uid, dir="exit", delivered=0)  # the turnstile was not passed
        assert drinks(hub, uid) == 2
        await gate.vend(uid, dir="exit")
        assert drinks(hub, uid) == 0
    with hub.engine.connect() as conn:
        kept = gifts.settlement(conn, "CHF")["node_kept_unredeemed"]
    assert kept == 2 * DRINK_VALUE


async def test_loyalty_settings_through_the_api(hub, api):
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        assert api.get(f"/api/v1/devices/{raw.id}/loyalty").status_code == 404
        assert (
            api.put(
                f"/api/v1/devices/{raw.id}/loyalty", json={"outlet_id": "nowhere", "article_id": "cola"}
            ).status_code
            == 404
        )
        assert (
            api.put(
                "/api/v1/devices/no-such-device/loyalty", json={"outlet_id": "bar", "article_id": "cola"}
            ).status_code
            == 404
        )
        assert (
            api.put(
                f"/api/v1/devices/{raw.id}/loyalty",
                json={"outlet_id": "bar", "article_id": "cola", "gift_item": "nothing"},
            ).status_code
            == 404
        )
        assert api.put(f"/api/v1/devices/{raw.id}/loyalty", json={"outlet_id": "bar"}).status_code == 422
        loyalty(api, raw.id, "bar", "cola")
        got = api.ok(api.get(f"/api/v1/devices/{raw.id}/loyalty"))
        assert (got["device_id"], got["outlet_id"], got["article_id"], got["gift_item"]) == (
            raw.id,
            "bar",
            "cola",
            None,
        )
        api.ok(
            api.put(f"/api/v1/cards/{uid}/discounts", json={"rates": [{"scope": "general", "percent": 50}]})
        )
        machine = Machine(raw)
        assert (await machine.tap(uid))["amount"] == PRICE // 2
        api.ok(api.delete(f"/api/v1/devices/{raw.id}/loyalty"))
        assert (await machine.tap(uid))["amount"] == PRICE  # out of the engine: full price
    paths = api.get("/openapi.json").json()["paths"]
    assert {"get", "put", "delete"} <= set(paths["/api/v1/devices/{device_id}/loyalty"])
    hub.authorizer.expire(utcnow() + timedelta(hours=1))  # the open holds end void


async def test_one_batch_of_taps_gives_each_card_its_own_discount(hub, api):
    api.ok(
        api.post(
            "/api/v1/discount-groups", json={"id": "staff", "rates": [{"scope": "general", "percent": 100}]}
        )
    )
    api.ok(
        api.post(
            "/api/v1/discount-groups", json={"id": "guests", "rates": [{"scope": "general", "percent": 10}]}
        )
    )
    staff, guest, own, nobody = (make_card(hub, 1000) for _ in range(4))
    for uid, body in (
        (staff, {"group": "staff"}),
        (guest, {"group": "guests"}),
        (own, {"group": "guests", "rates": [{"scope": "article", "target": "cola", "percent": 50}]}),
    ):
        api.ok(api.put(f"/api/v1/cards/{uid}/discounts", json=body))
    async with RawDevice(hub) as raw, RawDevice(hub) as plain:
        loyalty(api, raw.id, "bar", "cola")
        machine, other = hub.directory.get(SITE, raw.id), hub.directory.get(SITE, plain.id)
        batch = [
            Incoming(device, topics.TAP, {"id": f"1-{n}", "card": uid, "units": 2})
            for n, (device, uid) in enumerate(
                [(machine, u) for u in (staff, guest, own, nobody)] + [(other, guest)]
            )
        ]
        replies = [messages.decode(topics.REPLY, r) for r in hub.authorizer.process(batch)]
    assert [r["amount"] for r in replies] == [0, 2 * 225, 2 * 125, 2 * PRICE, 2 * PRICE]
    hub.authorizer.expire(utcnow() + timedelta(hours=1))  # the open holds end void


async def test_a_linked_rfid_card_uses_the_digital_cards_gifts_and_discount_at_machines(hub, api):
    gift_rules(hub)
    rfid = make_card(hub, 1000)
    async with RawDevice(hub, kind="turnstile") as gate, RawDevice(hub) as tap:
        loyalty(api, gate.id, "slide", "ride")
        loyalty(api, tap.id, "bar", "cola", gift_item="drink")
        slide = Machine(gate)
        for _ in range(3):
            await slide.vend(rfid, dir="entry")
        assert drinks(hub, rfid) == 1

        digital = api.ok(api.post("/api/v1/cards/digital", json={}))["uid"]
        api.ok(api.post(f"/api/v1/cards/{rfid}/link", json={"wallet_uid": digital}))
        assert (drinks(hub, rfid), drinks(hub, digital)) == (0, 1)  # the gift went along
        api.ok(
            api.put(
                f"/api/v1/cards/{digital}/discounts", json={"rates": [{"scope": "general", "percent": 50}]}
            )
        )

        bar = Machine(tap)
        grant = await bar.tap(rfid)
        assert (grant["units"], grant["amount"]) == (1, 0)  # the digital card's gift
        await bar.report(grant, 1)
        assert drinks(hub, digital) == 0
        grant, ack = await bar.vend(rfid)  # then the digital card's discount
        assert (grant["amount"], ack["posted"]) == (PRICE // 2, PRICE // 2)
    assert card(hub, digital)["balance"] == 1000 - 3 * PRICE - PRICE // 2


async def test_one_batch_of_reports_counts_each_cards_activities_in_their_order(hub, api):
    gift_rules(hub, reset_at_exit=True)
    first, second = make_card(hub, 1000), make_card(hub, 1000)
    async with RawDevice(hub, kind="turnstile") as slide_raw, RawDevice(hub, kind="turnstile") as gate_raw:
        loyalty(api, slide_raw.id, "slide", "ride")
        loyalty(api, gate_raw.id, "gate", "ride")
        slide, gate = hub.directory.get(SITE, slide_raw.id), hub.directory.get(SITE, gate_raw.id)
        seq = iter(range(1, 100))

        def process(items):
            batch = [Incoming(device, kind, {"id": f"1-{next(seq)}", **body}) for device, kind, body in items]
            return [messages.decode(topics.REPLY, r) for r in hub.authorizer.process(batch)]

        def vend(taps):
            grants = process(
                [(device, topics.TAP, {"card": uid, "units": 1, **extra}) for device, uid, extra in taps]
            )
            return process(
                [
                    (device, topics.REPORT, {"hold": grant["hold"], "delivered": 1})
                    for (device, _, _), grant in zip(taps, grants, strict=True)
                ]
            )

        # Five rides reported in one batch: the first card's third completes the rule, once.
        vend([(slide, first, {})] * 3 + [(slide, second, {})] * 2)
        assert (drinks(hub, first), drinks(hub, second)) == (1, 0)
        assert settlement(hub) == {"slide": -DRINK_VALUE}
        # The second card's third ride and its exit in one batch: the ride grants, then the exit resets.
        vend([(slide, second, {}), (gate, second, {"dir": "exit"})])
    assert (drinks(hub, first), drinks(hub, second)) == (1, 0)
    with hub.engine.connect() as conn:
        assert gifts.settlement(conn, "CHF")["node_kept_unredeemed"] == DRINK_VALUE
        # the next visit counts afresh: the exit ended the second card's visit
        assert gifts.card_gifts(conn, second)["lots"] == []
    assert card(hub, second)["balance"] == 1000 - 4 * PRICE


async def test_one_batch_of_taps_takes_the_cards_gifts_lot_by_lot_then_charges(hub, api):
    gift_rules(hub)
    uid = make_card(hub, 1000)
    with hub.engine.begin() as conn:
        for n in (1, 2):
            gifts.give(conn, uid, "drink", 1, "slide", f"test/give/{n}", "a present")
    async with RawDevice(hub) as raw:
        loyalty(api, raw.id, "bar", "cola", gift_item="drink")
        bar = hub.directory.get(SITE, raw.id)
        taps = [Incoming(bar, topics.TAP, {"id": f"1-{n}", "card": uid, "units": 1}) for n in range(3)]
        grants = [messages.decode(topics.REPLY, r) for r in hub.authorizer.process(taps)]
        assert [g["amount"] for g in grants] == [0, 0, PRICE]
        reports = [
            Incoming(bar, topics.REPORT, {"id": f"2-{n}", "hold": g["hold"], "delivered": 1})
            for n, g in enumerate(grants)
        ]
        hub.authorizer.process(reports)
    assert drinks(hub, uid) == 0
    assert settlement(hub) == {"slide": -2 * DRINK_VALUE, "bar": 2 * DRINK_VALUE}
    assert card(hub, uid)["balance"] == 1000 - PRICE
