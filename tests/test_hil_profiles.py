"""Every machine profile on a simulated controller (the real firmware) through a
real Mosquitto and the real hub, on SQLite and on PostgreSQL: the hub posts
what the machine really delivered and voids the rest."""

from __future__ import annotations

import asyncio
import uuid

from test_end_to_end import SITE, card, holds_of, make_card, until

from firmware import hal
from hil.device import SimDevice
from hub.devices.registry import add_device


def make_device(hub, tmp_path, price, pins=None, **profile):
    device_id = "d-" + uuid.uuid4().hex[:8]
    with hub.engine.begin() as conn:
        key = add_device(conn, device_id, SITE, price, "CHF", kind=profile["kind"])
    flash = tmp_path / device_id
    flash.mkdir()
    return SimDevice(
        device_id,
        SITE,
        key,
        hub.bridge.mqtt["hostname"],
        hub.bridge.mqtt["port"],
        str(flash),
        profile={"cooldown_ms": 0, **profile},
        pins=pins,
    )


async def resolved(hub, device, n=1, timeout=10.0):
    """The device's n holds once none is pending any more, oldest first."""

    def done():
        holds = holds_of(hub, device.id)
        return len(holds) == n and all(h["status"] != "pending" for h in holds)

    await until(done, timeout)
    return sorted(holds_of(hub, device.id), key=lambda h: request_order(h["request_id"]))


def request_order(request_id):
    """(boot, seq) of a request id "<boot>.<nonce>-<seq>": the order a board sent them in."""
    head, seq = request_id.split("-")
    return int(head.split(".")[0]), int(seq)


def outcome(hold):
    return hold["status"], hold["amount"], hold["posted"]


def relay_on(device):
    return device.board.relays[0].value()


async def test_slot_machine_pulses_n_credits_and_posts_n_times_the_price(hub, tmp_path):
    device = make_device(hub, tmp_path, 50, kind="slot_machine", units=4, pulse_ms=5, gap_ms=5)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        [hold] = await resolved(hub, device)
        assert device.pulses() == 4
        assert outcome(hold) == ("posted", 200, 200)
        assert card(hub, uid)["balance"] == 800 and card(hub, uid)["held"] == 0
    finally:
        await device.stop()


async def test_billiard_early_release_posts_only_the_minutes_used(hub, tmp_path):
    # Test "minutes" of 1 s: wide enough that a loaded machine still presses in the second one.
    device = make_device(hub, tmp_path, 100, kind="billiard", units=5, unit_ms=1000, warn_s=0)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: relay_on(device))
        await asyncio.sleep(1.3)
        device.board.button.press()
        [hold] = await resolved(hub, device)
        assert not relay_on(device)
        # About 1.3 of 5 minutes: 2 minutes used (a started minute counts), 3 voided.
        assert outcome(hold) == ("posted", 500, 200)
        assert card(hub, uid)["balance"] == 800 and card(hub, uid)["held"] == 0
    finally:
        await device.stop()


async def test_billiard_tap_during_session_adds_a_hold_and_both_resolve(hub, tmp_path):
    device = make_device(hub, tmp_path, 100, kind="billiard", units=2, unit_ms=1000, warn_s=0)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: len(device.results) == 1)
        await asyncio.sleep(0.1)
        device.tap(uid)
        await until(lambda: len(device.results) == 2)
        await asyncio.sleep(2.3)  # past the first hold's 2 s: the table stays on
        assert relay_on(device)
        device.board.button.press()
        first, second = await resolved(hub, device, n=2)
        # About 2.4 s used = 3 minutes: the first hold's 2, one of the second's.
        assert outcome(first) == ("posted", 200, 200)
        assert outcome(second) == ("posted", 200, 100)
        assert [on for _ms, _relay, on in device.timeline] == [True, False]  # one session
        assert card(hub, uid)["balance"] == 700 and card(hub, uid)["held"] == 0
    finally:
        await device.stop()


async def test_billiard_warns_before_the_end_and_posts_the_whole_time(hub, tmp_path):
    device = make_device(hub, tmp_path, 100, kind="billiard", units=3, unit_ms=500, warn_s=1)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        [hold] = await resolved(hub, device)
        [(warned, _kind)] = [s for s in device.board.indicator.log if s[1] == hal.WARN]
        end = device.timeline[-1][0]
        # About warn_s before the end: a busy loop may sound it late, never early.
        assert 800 <= end - warned <= 1150
        assert outcome(hold) == ("posted", 300, 300)
    finally:
        await device.stop()


async def test_turnstile_passage_confirmed_is_posted(hub, tmp_path):
    device = make_device(
        hub, tmp_path, 300, pins={"sensor": 34}, kind="turnstile", direction="exit", pass_timeout_ms=5000
    )
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: relay_on(device))
        device.board.sensor.pulse()
        [hold] = await resolved(hub, device)
        assert not relay_on(device)
        assert outcome(hold) == ("posted", 300, 300)
        assert card(hub, uid)["balance"] == 700
    finally:
        await device.stop()


async def test_turnstile_without_passage_in_time_is_voided(hub, tmp_path):
    device = make_device(hub, tmp_path, 300, pins={"sensor": 34}, kind="turnstile", pass_timeout_ms=200)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        [hold] = await resolved(hub, device)
        assert not relay_on(device)
        assert outcome(hold) == ("voided", 300, 0)
        assert card(hub, uid)["balance"] == 1000 and card(hub, uid)["held"] == 0
    finally:
        await device.stop()


async def test_dispenser_flow_sensor_confirming_fewer_units_posts_only_those(hub, tmp_path):
    device = make_device(
        hub,
        tmp_path,
        250,
        pins={"sensor": 34},
        kind="dispenser",
        units=3,
        pulse_ms=5,
        gap_ms=5,
        sensor_pulses=10,
        sensor_timeout_ms=200,
    )
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: device.timeline)  # the first pulse began (too short to sample)
        device.board.sensor.pulse(15)  # one unit and a half flowed
        [hold] = await resolved(hub, device)
        assert device.pulses() == 3
        assert outcome(hold) == ("posted", 750, 250)
        assert card(hub, uid)["balance"] == 750 and card(hub, uid)["held"] == 0
    finally:
        await device.stop()
