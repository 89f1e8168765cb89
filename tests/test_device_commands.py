"""Remote management against the real broker and hub (SQLite and PostgreSQL):
health telemetry, config / deny / reboot commands, and the commands a device
must not obey (retained, replayed, forged)."""

from __future__ import annotations

import asyncio
import contextlib

import aiomqtt
import httpx
from clients import make_key
from test_end_to_end import SITE, holds_of, make_card, make_device, until

from hub.wallets import cards as wallets
from protocol import messages, topics
from protocol.signing import Signer


@contextlib.asynccontextmanager
async def api(hub):
    transport = httpx.ASGITransport(app=hub.app)
    headers = {"X-API-Key": make_key(hub.engine)}
    async with httpx.AsyncClient(transport=transport, base_url="http://hub", headers=headers) as client:
        yield client


async def send(client, device, **command):
    r = await client.post(f"/api/v1/devices/{device.id}/commands", json=command)
    assert r.status_code == 202, r.text
    return r.json()["seq"]


async def wait_acked(client, device, seq, status="applied"):
    async def acked():
        r = await client.get(f"/api/v1/devices/{device.id}/commands")
        return {c["seq"]: c for c in r.json()}.get(seq, {}).get("status")

    deadline = asyncio.get_running_loop().time() + 10
    while (got := await acked()) == "pending":
        assert asyncio.get_running_loop().time() < deadline, "no ack"
        await asyncio.sleep(0.05)
    assert got == status


def pulse_widths(device):
    """On-times (ms) of relay 0's pulses, from the board's timeline."""
    line = [(ms, on) for ms, index, on in device.timeline if index == 0]
    return [line[i + 1][0] - line[i][0] for i in range(0, len(line) - 1, 2) if line[i][1]]


async def power_cycle(device):
    await device.power_cut()
    await device.power_on()
    await device.wait_connected()


async def publish_raw(hub, device, payload, retain=False):
    async with aiomqtt.Client(hub.bridge.mqtt["hostname"], hub.bridge.mqtt["port"]) as client:
        await client.publish(topics.down(SITE, device.id, topics.CMD), payload, qos=1, retain=retain)


def sealed(key_hex, device, body):
    topic = topics.down(SITE, device.id, topics.CMD)
    return Signer(key_hex).seal(topic, messages.encode(body))


async def test_health_telemetry_reaches_the_hub_and_its_api(hub, tmp_path):
    device = make_device(hub, tmp_path, health_s=1)
    await device.start()
    try:
        async with api(hub) as client:
            assert (await client.get(f"/api/v1/devices/{device.id}/health")).status_code == 404
            await until(lambda: hub.bridge.stats["health"] >= 1)
            await hub.bridge.flush_management()
            r = await client.get(f"/api/v1/devices/{device.id}/health")
            assert r.status_code == 200, r.text
            health = r.json()
        assert health["fw"] == "0.1.0" and health["rssi"] == -55
        assert (health["reconnects"], health["reader_resets"], health["journal_depth"]) == (0, 0, 0)
        assert health["uptime_seconds"] >= 1 and health["free_heap_bytes"] is None  # CPython
    finally:
        await device.stop()


async def test_config_command_changes_the_pulse_width_and_survives_a_power_cycle(hub, tmp_path):
    device = make_device(hub, tmp_path, pulse_ms=10)
    uid = make_card(hub, 5000)
    await device.start()
    await device.wait_connected()
    try:
        async with api(hub) as client:
            seq = await send(client, device, k="config", set={"pulse_ms": 120, "cooldown_ms": 0})
            await wait_acked(client, device, seq)
            refused = await send(client, device, k="config", set={"pulse_ms": 0})
            await wait_acked(client, device, refused, "refused")
        device.tap(uid)
        await device.wait_results(1)
        assert 110 <= pulse_widths(device)[-1] < 400
        await power_cycle(device)
        assert device.app.cfg.profile["pulse_ms"] == 120
        device.tap(uid)
        await device.wait_results(2)
        assert [r[1] for r in device.results] == ["grant", "grant"]
        assert 110 <= pulse_widths(device)[-1] < 400
        await until(lambda: all(h["status"] == "posted" for h in holds_of(hub, device.id)))
    finally:
        await device.stop()


async def test_retained_replayed_and_forged_commands_are_ignored(hub, tmp_path):
    device = make_device(hub, tmp_path, pulse_ms=10)
    key = device.cfg.key
    # Planted before the device connects: valid tag, fresh seq, but retained.
    await publish_raw(
        hub, device, sealed(key, device, {"seq": 1, "k": "config", "set": {"pulse_ms": 300}}), retain=True
    )
    await device.start()
    await device.wait_connected()
    try:
        await until(lambda: device.app.link.ignored >= 1)
        assert device.app.cfg.profile["pulse_ms"] == 10
        await publish_raw(hub, device, b"", retain=True)  # clears it
        async with api(hub) as client:
            seq = await send(client, device, k="config", set={"pulse_ms": 40})
            await wait_acked(client, device, seq)
        assert device.app.cfg.profile["pulse_ms"] == 40
        ignored, invalid = device.app.link.ignored, device.app.link.invalid
        # A recorded command again, the same seq with other settings, a wrong key.
        command = {"seq": seq, "k": "config", "set": {"pulse_ms": 40}}
        await publish_raw(hub, device, sealed(key, device, command))
        await publish_raw(hub, device, sealed(key, device, {**command, "set": {"pulse_ms": 300}}))
        await publish_raw(
            hub, device, sealed("a5" * 32, device, {**command, "seq": seq + 5, "set": {"pulse_ms": 300}})
        )
        await until(lambda: (device.app.link.ignored, device.app.link.invalid) == (ignored + 2, invalid + 1))
        assert device.app.cfg.profile["pulse_ms"] == 40
        await power_cycle(device)  # the seq is kept on flash: still a replay after a reboot
        assert device.app.link.ignored == 0
        await publish_raw(hub, device, sealed(key, device, {**command, "set": {"pulse_ms": 300}}))
        await until(lambda: device.app.link.ignored == 1)
        assert device.app.cfg.profile["pulse_ms"] == 40
    finally:
        await device.stop()


async def test_deny_update_refuses_the_card_on_the_device_and_survives_a_power_cycle(hub, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, 5000)
    await device.start()
    await device.wait_connected()
    try:
        with hub.engine.begin() as conn:
            wallets.set_status(conn, uid, "blocked")
        async with api(hub) as client:
            sent = (await client.post("/api/v1/devices/deny-sync")).json()["sent"]
            [seq] = sent[device.id]
            await wait_acked(client, device, seq)
            taps = hub.bridge.stats["received"]
            device.tap(uid)
            assert (await device.wait_results(1))[1:3] == ("deny", messages.BLOCKED_CARD)
            await power_cycle(device)
            device.tap(uid)
            assert (await device.wait_results(2))[1:3] == ("deny", messages.BLOCKED_CARD)
            assert hub.bridge.stats["received"] == taps  # the hub was never asked
            assert holds_of(hub, device.id) == [] and device.pulses() == 0
            # Unblocked: the next sync takes it off the device's list.
            with hub.engine.begin() as conn:
                wallets.set_status(conn, uid, "active")
            [seq] = (await client.post("/api/v1/devices/deny-sync")).json()["sent"][device.id]
            await wait_acked(client, device, seq)
            assert (await client.post("/api/v1/devices/deny-sync")).json()["sent"] == {}
        device.tap(uid)
        assert (await device.wait_results(3))[1] == "grant"
        await until(lambda: all(h["status"] == "posted" for h in holds_of(hub, device.id)))
    finally:
        await device.stop()


async def test_blocking_a_card_through_the_api_updates_the_devices_deny_lists(hub, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, 5000)
    await device.start()
    await device.wait_connected()
    try:
        async with api(hub) as client:
            assert (await client.post(f"/api/v1/cards/{uid}/block")).status_code == 200
            [command] = (await client.get(f"/api/v1/devices/{device.id}/commands")).json()
            assert command["body"]["add"] == [uid]
            await wait_acked(client, device, command["seq"])
            taps = hub.bridge.stats["received"]
            device.tap(uid)
            assert (await device.wait_results(1))[1:3] == ("deny", messages.BLOCKED_CARD)
            assert hub.bridge.stats["received"] == taps  # refused on the device itself
            assert (await client.post(f"/api/v1/cards/{uid}/unblock")).status_code == 200
            last = max(
                (await client.get(f"/api/v1/devices/{device.id}/commands")).json(), key=lambda c: c["seq"]
            )
            assert last["body"]["remove"] == [uid]
            await wait_acked(client, device, last["seq"])
        device.tap(uid)
        assert (await device.wait_results(2))[1] == "grant"
    finally:
        await device.stop()


async def test_reboot_command_restarts_the_app_with_relays_off(hub, tmp_path):
    device = make_device(hub, tmp_path)
    await device.start()
    await device.wait_connected()
    try:
        assert device.boot == 1
        async with api(hub) as client:
            seq = await send(client, device, k="reboot")
            await wait_acked(client, device, seq)
        await until(lambda: device.board.reboots == 1 and device.app.link.ids.boot == 2)
        await device.wait_connected()
        assert not any(relay.value() for relay in device.board.relays)
        await asyncio.sleep(0.2)
        assert device.boot == 2  # the reboot is not repeated
    finally:
        await device.stop()


async def test_a_command_sent_while_the_device_is_away_arrives_when_it_comes_online(hub, tmp_path):
    device = make_device(hub, tmp_path, pulse_ms=10)
    async with api(hub) as client:
        seq = await send(client, device, k="config", set={"pulse_ms": 30})
        await device.start()
        try:
            await wait_acked(client, device, seq)
            assert device.app.cfg.profile["pulse_ms"] == 30
        finally:
            await device.stop()
