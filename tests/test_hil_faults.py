"""Faults on a simulated controller (the real firmware) through a real Mosquitto
and the real hub, on SQLite and on PostgreSQL: a reader that hangs, a firmware
task that dies (the watchdog reboots the board), a power cut mid-delivery."""

from __future__ import annotations

import asyncio
import uuid

from test_device_commands import api
from test_end_to_end import SITE, card, make_card, until
from test_hil_profiles import outcome, resolved

from hil.device import SimDevice
from hub.devices.registry import add_device
from protocol.signing import Signer


def make_device(hub, tmp_path, price, pins=None, reader=None, wdt_ms=None, **profile):
    device_id = "d-" + uuid.uuid4().hex[:8]
    with hub.engine.begin() as conn:
        key = add_device(conn, device_id, SITE, price, "CHF", kind=profile.get("kind", "dispenser"))
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
        reader=reader,
        wdt_ms=wdt_ms,
    )


def relays_on(device):
    return [relay.value() for relay in device.board.relays]


async def health_of(hub, device):
    await hub.bridge.flush_management()
    async with api(hub) as client:
        r = await client.get(f"/api/v1/devices/{device.id}/health")
    return r.json() if r.status_code == 200 else None


async def test_hung_reader_is_reinitialised_taps_work_again_and_health_counts_it(hub, tmp_path):
    device = make_device(hub, tmp_path, 100, reader="hanging", units=1, pulse_ms=5, gap_ms=5, health_s=1)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.tap(uid)
        assert (await device.wait_results(1))[1] == "grant"
        reader = device.board.reader
        reader.hang()  # the chip stops answering, as readers do after days
        device.tap(uid)  # the next visitor is already there
        assert (await device.wait_results(2))[1] == "grant"
        assert reader.resets == 1 and reader.healthy
        assert device.pulses() == 2
        # The health telemetry (every second here) carries the reset to the hub.
        for _ in range(50):
            health = await health_of(hub, device)
            if health and health["reader_resets"] == 1:
                break
            await asyncio.sleep(0.2)
        assert health and health["reader_resets"] == 1, health
        assert card(hub, uid)["balance"] == 800
    finally:
        await device.stop()


async def test_task_that_dies_leaves_every_relay_off_and_the_watchdog_reboots(hub, tmp_path):
    # A billiard table on (relay 0) and a second relay fitted: a crash anywhere must drop both.
    # The watchdog bites 3 s after the last feed (the firmware feeds every second; 30 s on a board).
    device = make_device(
        hub,
        tmp_path,
        100,
        pins={"relays": [26, 27]},
        wdt_ms=3000,
        kind="billiard",
        units=5,
        unit_ms=60000,
        warn_s=0,
        health_s=1,
    )
    uid = make_card(hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.tap(uid)
        await until(lambda: relays_on(device)[0])
        device.board.relays[1].on()
        board = device.board

        def crash():  # the health task dies on its next round, once
            del board.rssi
            raise RuntimeError("simulated crash in the health task")

        board.rssi = crash
        await until(lambda: not any(relays_on(device)), 5)
        assert board.watchdog_resets == 0  # off at once, not only after the watchdog bit
        await until(lambda: board.watchdog_resets == 1, 10)
        await device.wait_connected()
        assert not any(relays_on(device))
        # The session's hold was journaled before the table went on: the reboot
        # reports it (0 minutes, what the journal says) and the hub voids it once.
        [hold] = await resolved(hub, device)
        assert outcome(hold) == ("voided", 500, 0)
        assert card(hub, uid)["balance"] == 1000 and card(hub, uid)["held"] == 0
        device.tap(uid)  # and it serves again
        await until(lambda: len(device.results) == 2)
        assert device.results[-1][1] == "grant" and relays_on(device)[0]
        assert board.watchdog_resets == 1
        # The next boot's health telemetry says why it started and what killed the app.
        for _ in range(50):
            health = await health_of(hub, device)
            if health and health["reset_cause"] == "watchdog":
                break
            await asyncio.sleep(0.2)
        assert health["reset_cause"] == "watchdog", health
        assert "simulated crash in the health task" in health["last_traceback"]
        assert health["free_heap_bytes"] is None  # CPython: no MicroPython heap to tell
    finally:
        await device.stop()


async def test_power_cut_mid_delivery_resolves_the_hold_at_reboot(hub, tmp_path):
    device = make_device(hub, tmp_path, 100, kind="slot_machine", units=5, pulse_ms=300, gap_ms=10)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        device.tap(uid)
        await until(lambda: relays_on(device)[0])
        await device.power_cut()
        assert not any(relays_on(device))
        assert card(hub, uid)["held"] == 500  # the hold waits for the device, not for expiry
        await device.power_on()
        [hold] = await resolved(hub, device)
        assert outcome(hold) == ("voided", 500, 0)
        assert card(hub, uid)["balance"] == 1000 and card(hub, uid)["held"] == 0
        assert device.boot == 2
    finally:
        await device.stop()


async def test_a_board_that_cannot_start_tells_the_broker_why(broker, tmp_path):
    """A provisioning file the firmware refuses (a relay on a flash pin) whose identity and
    broker are sound: the reason goes to the broker as a retained, signed status."""
    import json

    import aiomqtt

    from firmware import config, faults
    from protocol import hub_side, topics

    device_id, key = "d-" + uuid.uuid4().hex[:8], "5a" * 32
    path = tmp_path / "provision.json"
    data = {
        "device": device_id,
        "site": SITE,
        "key": key,
        "broker": f"mqtt://{broker.host}:{broker.port}",
        "wifi": {"ssid": "park", "password": ""},
        "pins": {"relays": [6]},
    }
    path.write_text(json.dumps(data))
    try:
        config.load(str(path))
        raise AssertionError("the firmware took a relay on the flash")
    except config.ConfigError as err:
        reason = f"ConfigError: {err}"
    assert await faults.tell_hub(reason, str(path), timeout_ms=5000)
    async with aiomqtt.Client(broker.host, port=broker.port) as peer:
        topic = topics.up(SITE, device_id, topics.STATUS)
        await peer.subscribe(topic, qos=1)
        message = await asyncio.wait_for(anext(peer.messages), 5)
    assert message.retain
    _site, _device, _kind, body = hub_side.receive(lambda s, d: Signer(key), topic, message.payload)
    assert body["state"] == "offline" and "flash" in body["fault"], body
    assert not await faults.tell_hub(reason, str(tmp_path / "missing.json"), timeout_ms=500)
