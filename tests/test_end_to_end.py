"""A tap on a simulated controller (the real firmware code) through a real
Mosquitto and the real hub, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import aiomqtt
from clients import api_client
from sqlalchemy import func, select

from hil.device import SimDevice
from hub.core.clock import utcnow
from hub.devices.registry import add_device
from hub.ledger import TRANSFERS
from hub.tables.taps import Hold
from hub.wallets import cards as wallets
from hub.wallets import cash_desk
from protocol import messages, topics
from protocol.signing import Signer

HOLDS = Hold.__table__
PRICE = 250
SITE = "test-park"


def make_device(hub, tmp_path, units=1, price=PRICE, **profile):
    device_id = "d-" + uuid.uuid4().hex[:8]
    with hub.engine.begin() as conn:
        key = add_device(conn, device_id, SITE, price, "CHF")
    flash = tmp_path / device_id
    flash.mkdir()
    return SimDevice(
        device_id,
        SITE,
        key,
        hub.bridge.mqtt["hostname"],
        hub.bridge.mqtt["port"],
        str(flash),
        profile={"units": units, "pulse_ms": 5, "gap_ms": 5, "cooldown_ms": 0, **profile},
    )


def make_card(hub, balance, status="active"):
    uid = uuid.uuid4().hex[:8].upper()
    with hub.engine.begin() as conn:
        wallets.issue_card(conn, "CHF", uid)
        if balance:
            cash_desk.top_up(conn, uid, balance, f"test/{uid}")
        if status != "active":
            wallets.set_status(conn, uid, status)
    return uid


def card(hub, uid):
    with hub.engine.connect() as conn:
        return wallets.card_view(conn, uid)


def holds_of(hub, device_id):
    with hub.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(HOLDS).where(HOLDS.c.device_id == device_id)).mappings()]


async def until(check, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def test_granted_tap_pulses_relay_and_posts_exactly_the_price(hub, tmp_path):
    device = make_device(hub, tmp_path, units=2)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: any(h["status"] != "pending" for h in holds_of(hub, device.id)))
        assert device.pulses() == 2
        [hold] = holds_of(hub, device.id)
        assert (hold["status"], hold["amount"], hold["posted"]) == ("posted", 2 * PRICE, 2 * PRICE)
        assert card(hub, uid) == {**card(hub, uid), "balance": 1000 - 2 * PRICE, "held": 0}
        assert device.results[-1][1] == "grant"
    finally:
        await device.stop()


async def test_too_little_balance_is_denied_and_the_relay_never_moves(hub, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, PRICE - 1)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: device.results)
        assert device.results[-1][1:3] == ("deny", messages.INSUFFICIENT_FUNDS)
        assert device.pulses() == 0
        assert holds_of(hub, device.id) == []
        assert card(hub, uid)["balance"] == PRICE - 1
    finally:
        await device.stop()


async def test_unknown_and_blocked_cards_are_denied(hub, tmp_path):
    device = make_device(hub, tmp_path)
    blocked = make_card(hub, 5000, status="blocked")
    await device.start()
    try:
        device.tap("DEADBEEF01")
        await until(lambda: len(device.results) == 1)
        device.tap(blocked)
        await until(lambda: len(device.results) == 2)
        assert [r[1:3] for r in device.results] == [
            ("deny", messages.UNKNOWN_CARD),
            ("deny", messages.BLOCKED_CARD),
        ]
        assert device.pulses() == 0
        assert card(hub, blocked)["balance"] == 5000
    finally:
        await device.stop()


class RawDevice:
    """A bare MQTT peer holding a registered device's key: it sends exactly the
    bytes a test chooses (repeats, forgeries) and reads the hub's replies."""

    def __init__(self, hub, kind="dispenser"):
        self.id = "raw-" + uuid.uuid4().hex[:6]
        with hub.engine.begin() as conn:
            self.signer = Signer(add_device(conn, self.id, SITE, PRICE, "CHF", kind=kind))
        self.client = aiomqtt.Client(hub.bridge.mqtt["hostname"], hub.bridge.mqtt["port"])

    async def __aenter__(self):
        await self.client.__aenter__()
        await self.client.subscribe(topics.down(SITE, self.id), qos=1)
        return self

    async def __aexit__(self, *exc):
        await self.client.__aexit__(*exc)

    def frame(self, kind, body, signer=None):
        topic = topics.up(SITE, self.id, kind)
        return topic, (signer or self.signer).seal(topic, messages.encode(body))

    async def send(self, kind, body, times=1):
        topic, payload = self.frame(kind, body)
        for _ in range(times):
            await self.client.publish(topic, payload, qos=1)

    async def replies(self, n, timeout=5.0):
        """Up to n raw reply payloads that arrive within timeout."""
        got = []
        try:
            async with asyncio.timeout(timeout):
                async for msg in self.client.messages:
                    got.append(msg.payload)
                    if len(got) == n:
                        break
        except TimeoutError:
            pass
        return got

    def open(self, payload):
        return messages.decode(topics.REPLY, self.signer.open(topics.down(SITE, self.id), payload))


async def test_the_same_request_delivered_twice_books_once(hub):
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        await raw.send(topics.TAP, {"id": "7-1", "card": uid, "units": 1}, times=2)  # a QoS 1 redelivery
        first, second = await raw.replies(2)
        assert first == second
        grant = raw.open(first)
        assert grant["k"] == messages.GRANT
        assert len(holds_of(hub, raw.id)) == 1
        assert card(hub, uid)["available"] == 1000 - PRICE
        await raw.send(topics.REPORT, {"id": "7-2", "hold": grant["hold"], "delivered": 1}, times=2)
        acks = await raw.replies(2)
        assert acks[0] == acks[1]
        assert card(hub, uid) == {**card(hub, uid), "balance": 1000 - PRICE, "held": 0}
        with hub.engine.connect() as conn:
            posts = conn.execute(
                select(func.count()).where(
                    TRANSFERS.c.pending_id == grant["hold"], TRANSFERS.c.flags == "post"
                )
            ).scalar()
        assert posts == 1


async def test_a_message_with_a_bad_tag_is_refused_and_logged(hub, caplog):
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        with caplog.at_level(logging.WARNING, logger="tapgift.bridge"):
            topic, forged = raw.frame(
                topics.TAP, {"id": "1-1", "card": uid, "units": 1}, signer=Signer("11" * 32)
            )
            await raw.client.publish(topic, forged, qos=1)
            await raw.client.publish(topic, b"not a tapgift frame", qos=1)
            await until(lambda: f"{raw.id}/up/tap: bad_frame" in caplog.text)
        assert f"{raw.id}/up/tap: bad_tag" in caplog.text
        assert await raw.replies(1, timeout=0.5) == []
        assert holds_of(hub, raw.id) == []
        assert card(hub, uid)["available"] == 1000


async def test_two_machines_tapping_one_card_at_once_never_overdraw_it(hub, tmp_path):
    uid = make_card(hub, 3 * PRICE)
    devices = [make_device(hub, tmp_path) for _ in range(2)]
    for d in devices:
        await d.start()
    try:
        for _ in range(5):
            for d in devices:
                d.tap(uid)
        await until(lambda: sum(len(d.results) for d in devices) == 10, timeout=20)
        outcomes = [r[1] for d in devices for r in d.results]
        assert outcomes.count("grant") == 3
        assert sum(d.pulses() for d in devices) == 3
        await until(lambda: card(hub, uid)["held"] == 0)
        assert card(hub, uid)["balance"] == 0
    finally:
        for d in devices:
            await d.stop()


async def test_a_hold_never_reported_expires_void_and_a_late_report_books_nothing(hub):
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        await raw.send(topics.TAP, {"id": "3-1", "card": uid, "units": 2})
        [reply] = await raw.replies(1)
        grant = raw.open(reply)
        assert card(hub, uid)["available"] == 1000 - 2 * PRICE
        assert hub.authorizer.expire(utcnow()) == 0  # not due yet
        assert hub.authorizer.expire(utcnow() + timedelta(hours=1)) == 1
        [hold] = holds_of(hub, raw.id)
        assert hold["status"] == "expired" and hold["resolved_at"] is not None
        assert card(hub, uid) == {**card(hub, uid), "balance": 1000, "held": 0, "available": 1000}
        await raw.send(topics.REPORT, {"id": "3-2", "hold": grant["hold"], "delivered": 2})
        [late] = await raw.replies(1)
        assert (raw.open(late)["posted"], raw.open(late)["status"]) == (0, "expired")
        assert card(hub, uid)["balance"] == 1000


async def test_a_billiard_hold_waits_for_the_session_it_paid_for(hub):
    uid = make_card(hub, 100 * PRICE)
    async with RawDevice(hub, kind="billiard") as raw:
        await raw.send(topics.TAP, {"id": "4-1", "card": uid, "units": 90})  # 90 minutes
        [reply] = await raw.replies(1)
        grant = raw.open(reply)
        # The plain hold lifetime (600 s) has passed, the 90 minutes have not.
        assert hub.authorizer.expire(utcnow() + timedelta(minutes=60)) == 0
        await raw.send(topics.REPORT, {"id": "4-2", "hold": grant["hold"], "delivered": 90})
        [ack] = await raw.replies(1)
        assert raw.open(ack)["posted"] == 90 * PRICE


async def test_power_cut_between_grant_and_report_the_journal_resolves_the_hold_once(hub, tmp_path):
    """The grant arrives and the drink flows, but the network is gone before the report
    leaves, and then the power too: after the reboot the journal sends the report."""
    device = make_device(hub, tmp_path, units=2, pulse_ms=300, gap_ms=50)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: device.board.relays[0].value())  # granted, pouring
        device.network_down()
        await until(lambda: device.pulses() == 2 and not device.board.relays[0].value())
        await asyncio.sleep(0.1)  # the report is journaled; it cannot be sent
        [hold] = holds_of(hub, device.id)
        assert hold["status"] == "pending"
        await device.power_cut()
        device.network_up()
        await device.power_on()
        await until(lambda: holds_of(hub, device.id)[0]["status"] != "pending")
        [hold] = holds_of(hub, device.id)
        assert (hold["status"], hold["posted"]) == ("posted", 2 * PRICE)
        assert card(hub, uid) == {**card(hub, uid), "balance": 1000 - 2 * PRICE, "held": 0}
        assert device.pulses() == 2  # the reboot poured nothing more
    finally:
        await device.stop()


async def test_a_new_price_applies_from_the_next_tap_and_a_granted_tap_keeps_its_own(hub):

    api = api_client(hub.app)
    uid = make_card(hub, 5000)
    async with RawDevice(hub) as raw:
        await raw.send(topics.TAP, {"id": "1-1", "card": uid, "units": 1})
        [first] = await raw.replies(1)
        r = api.patch(f"/api/v1/devices/{raw.id}", json={"unit_price": 400})
        assert r.status_code == 200 and r.json()["unit_price"] == 400
        await raw.send(topics.TAP, {"id": "1-2", "card": uid, "units": 1})
        [second] = await raw.replies(1)
        assert (raw.open(first)["amount"], raw.open(second)["amount"]) == (PRICE, 400)
        for n, grant in (("1-3", first), ("1-4", second)):
            await raw.send(topics.REPORT, {"id": n, "hold": raw.open(grant)["hold"], "delivered": 1})
            await raw.replies(1)
    assert card(hub, uid)["balance"] == 5000 - PRICE - 400
    assert api.patch("/api/v1/devices/nope", json={"unit_price": 1}).status_code == 404
    assert api.patch(f"/api/v1/devices/{raw.id}", json={"unit_price": 0}).status_code == 422
