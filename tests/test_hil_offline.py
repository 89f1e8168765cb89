"""Offline vends on a simulated controller (the real firmware) through a real
Mosquitto and the real hub, on SQLite and on PostgreSQL: while the hub cannot be
reached the dispenser vends within its per-card and per-device limits and
refuses beyond them; once it can, the journal is replayed and the hub books
each vend exactly once, flagging what a wallet could not cover."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from test_end_to_end import SITE, card, holds_of, make_card, until

from firmware import offline
from hil.device import SimDevice
from hub.devices.registry import add_device
from hub.taps.offline_vends import OFFLINE_VENDS

PRICE = 250
OFFLINE = {
    "kind": "dispenser",
    "units": 1,
    "pulse_ms": 5,
    "gap_ms": 5,
    "cooldown_ms": 0,
    "reply_timeout_ms": 200,
    "retries": 0,
    "offline_units_card": 2,
    "offline_units_device": 3,
}


def make_device(hub, tmp_path, **profile):
    device_id = "d-" + uuid.uuid4().hex[:8]
    with hub.engine.begin() as conn:
        key = add_device(conn, device_id, SITE, PRICE, "CHF")
    flash = tmp_path / device_id
    flash.mkdir()
    return SimDevice(
        device_id,
        SITE,
        key,
        hub.bridge.mqtt["hostname"],
        hub.bridge.mqtt["port"],
        str(flash),
        profile={**OFFLINE, **profile},
    )


def booked(hub, device):
    with hub.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(OFFLINE_VENDS)
                .where(OFFLINE_VENDS.c.device_id == device.id)
                .order_by(OFFLINE_VENDS.c.event_id)
            ).mappings()
        ]


async def tap(device, uid):
    device.tap(uid)
    return (await device.wait_results(len(device.results) + 1))[1:3]


async def test_offline_vends_within_the_limits_are_replayed_and_booked_once(hub, tmp_path):
    device = make_device(hub, tmp_path)
    rich, poor, third = make_card(hub, 1000), make_card(hub, 100), make_card(hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.network_down()  # the hub cannot be reached
        outcomes = [await tap(device, uid) for uid in (rich, rich, rich, poor, third)]
        assert outcomes == [
            ("offline", None),
            ("offline", None),
            ("deny", offline.LIMIT),
            ("offline", None),
            ("deny", offline.LIMIT),
        ]
        assert device.pulses() == 3
        assert booked(hub, device) == []

        device.network_up()
        await until(lambda: len(booked(hub, device)) == 3 and device.app.controller.pending_reports() == 0)
        vends = booked(hub, device)
        assert sorted((v["card_uid"], v["units"], v["posted"], v["short"]) for v in vends) == sorted(
            [(rich, 1, PRICE, 0), (rich, 1, PRICE, 0), (poor, 1, 100, PRICE - 100)]
        )
        [overspent] = [v for v in vends if v["short"]]
        assert overspent["overspend"] == "insufficient_funds"
        assert card(hub, rich)["balance"] == 1000 - 2 * PRICE
        assert card(hub, poor)["balance"] == 0
        # The taps that timed out never reached the hub later: no stray holds.
        assert holds_of(hub, device.id) == []
        assert device.counters["reports_acked"] == 3

        # Booked: the next outage has the full limits again, and the hub is not asked twice.
        await asyncio.sleep(0.3)
        assert len(booked(hub, device)) == 3
        device.network_down()
        assert await tap(device, third) == ("offline", None)
        device.network_up()
        await until(lambda: len(booked(hub, device)) == 4)
        assert card(hub, third)["balance"] == 1000 - PRICE
    finally:
        await device.stop()


async def test_offline_vends_survive_a_power_cut_and_are_booked_once(hub, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.network_down()
        assert await tap(device, uid) == ("offline", None)
        await device.power_cut()
        device.network_up()
        await device.power_on()
        await until(lambda: len(booked(hub, device)) == 1 and device.app.controller.pending_reports() == 0)
        [vend] = booked(hub, device)
        assert (vend["units"], vend["posted"], vend["short"]) == (1, PRICE, 0)
        assert vend["request_id"].startswith("2.")  # replayed by the next boot
        assert card(hub, uid)["balance"] == 1000 - PRICE
    finally:
        await device.stop()


async def test_blocked_card_is_refused_offline_from_the_cached_deny_list(hub, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.app.controller.deny.add(uid)  # as a deny command from the hub leaves it
        device.network_down()
        assert await tap(device, uid) == ("deny", "blocked_card")
        assert device.pulses() == 0
        device.network_up()
        await device.wait_connected()
        await asyncio.sleep(0.3)
        assert booked(hub, device) == [] and device.app.controller.pending_reports() == 0
    finally:
        await device.stop()


async def test_with_the_link_known_down_an_offline_vend_does_not_wait_for_the_hub(hub, tmp_path):
    device = make_device(hub, tmp_path, reply_timeout_ms=5000)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.network_down()
        await until(lambda: not device.app.client.is_connected())
        device.tap(uid)
        _card, outcome, code, rtt_ms = await device.wait_results(1, timeout=3)
        assert (outcome, code, rtt_ms) == ("offline", None, 0)  # the hub was never asked
        assert device.pulses() == 1
        device.network_up()
        await until(lambda: len(booked(hub, device)) == 1)
        assert card(hub, uid)["balance"] == 1000 - PRICE
    finally:
        await device.stop()
