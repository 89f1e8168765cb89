"""The hub moves a controller to new network settings with a signed command (the real firmware,
Mosquitto and the hub): the controller keeps its old settings, tries the new ones after a
restart, keeps them once they reach the broker, and goes back to the old ones by itself when
they do not - so a typo in a broker address never strands a machine."""

from __future__ import annotations

import asyncio
import json

from test_end_to_end import make_card, make_device, until

from firmware import commands
from hil.broker import free_port
from hub.devices import management


def provisioned(device):
    with open(device._provisioning) as f:
        return json.load(f)


def exists(device, name):
    try:
        open(device.board.flash_dir + name).close()
        return True
    except OSError:
        return False


async def test_new_network_settings_that_reach_the_broker_are_kept(hub, tmp_path):
    device = make_device(hub, tmp_path)
    await device.start()
    try:
        await device.wait_connected()
        old = provisioned(device)
        port = hub.bridge.mqtt["port"]
        body = {
            "k": "network",
            "set": {"broker": f"mqtt://localhost:{port}", "wifi": {"ssid": "park2", "password": "pw2"}},
        }
        await management.send(hub.bridge, hub.engine, device.id, body)
        await until(lambda: device.board.reboots == 1, 10)
        await device.wait_connected()
        await until(lambda: not exists(device, commands.TRIAL), 10)
        new = provisioned(device)
        assert new["broker"] == old["broker"].replace("127.0.0.1", "localhost")  # its own login kept
        assert new["wifi"] == {"ssid": "park2", "password": "pw2"}
        assert not exists(device, commands.OLD_PROVISION)
        uid = make_card(hub, 1000)
        device.tap(uid)
        await until(lambda: device.results)
        assert device.results[-1][1] == "grant"
    finally:
        await device.stop()


async def test_new_network_settings_that_fail_give_way_to_the_old_ones(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "TRIAL_MS", 1500)
    device = make_device(hub, tmp_path)
    await device.start()
    try:
        await device.wait_connected()
        old = provisioned(device)
        body = {"k": "network", "set": {"broker": f"mqtt://127.0.0.1:{free_port()}"}}  # nobody there
        await management.send(hub.bridge, hub.engine, device.id, body)
        await until(lambda: device.board.reboots == 2, 15)  # the command's, then the way back
        await device.wait_connected(timeout=10)
        assert provisioned(device) == old
        assert not exists(device, commands.TRIAL) and not exists(device, commands.OLD_PROVISION)
        uid = make_card(hub, 1000)
        device.tap(uid)
        await until(lambda: device.results)
        assert device.results[-1][1] == "grant" and device.pulses() == 1
    finally:
        await device.stop()


async def test_settings_the_firmware_would_refuse_are_refused_before_the_restart(hub, tmp_path):
    device = make_device(hub, tmp_path)
    await device.start()
    try:
        await device.wait_connected()
        old = provisioned(device)
        body = {"k": "network", "set": {"broker": "mqtts://127.0.0.1:8883"}}  # TLS without a CA
        seq = await management.send(hub.bridge, hub.engine, device.id, body)

        async def refused():
            for _ in range(100):
                await hub.bridge.flush_management()
                with hub.engine.connect() as conn:
                    done = [c for c in management.list_commands(conn, device.id) if c["seq"] == seq]
                if done and done[0]["status"] != "pending":
                    return done[0]
                await asyncio.sleep(0.1)

        command = await refused()
        assert command["status"] == "refused" and command["code"] == "bad_config", command
        assert "needs ca" in command["detail"]
        assert device.board.reboots == 0 and provisioned(device) == old
    finally:
        await device.stop()


async def test_the_rest_api_sends_a_network_command_and_refuses_a_malformed_one(hub, tmp_path):
    from test_device_commands import api

    device = make_device(hub, tmp_path)
    async with api(hub) as client:
        bad = await client.post(
            f"/api/v1/devices/{device.id}/commands", json={"k": "network", "set": {"dns": "10.0.0.1"}}
        )
        assert bad.status_code == 422, bad.text
        port = hub.bridge.mqtt["port"]
        sent = await client.post(
            f"/api/v1/devices/{device.id}/commands",
            json={"k": "network", "set": {"broker": f"mqtt://localhost:{port}"}},
        )
        assert sent.status_code == 202, sent.text
