"""The broker restarts while a park is open: the hub and the controllers
reconnect by themselves and nothing is booked twice."""

from __future__ import annotations

import asyncio

import pytest
from test_end_to_end import PRICE, card, holds_of, make_card, make_device, until

from hil.broker import Broker


@pytest.fixture
def broker(tmp_path):
    """This module's own broker (the session's one must not be restarted)."""
    with Broker(workdir=tmp_path / "broker") as b:
        yield b


async def test_hub_and_device_carry_on_after_a_broker_restart(hub, broker, tmp_path):
    device = make_device(hub, tmp_path)
    first, second = make_card(hub, 1000), make_card(hub, 1000)
    await device.start()
    try:
        device.tap(first)
        await until(lambda: [h["status"] for h in holds_of(hub, device.id)] == ["posted"])

        broker.restart()
        await until(lambda: not hub.bridge.connected.is_set(), timeout=10)
        await asyncio.wait_for(hub.bridge.connected.wait(), 20)
        await device.wait_connected(20)

        device.tap(second)
        await until(
            lambda: sorted(h["status"] for h in holds_of(hub, device.id)) == ["posted", "posted"], timeout=20
        )
        assert card(hub, first)["balance"] == 1000 - PRICE
        assert card(hub, second)["balance"] == 1000 - PRICE
        assert [r[1] for r in device.results] == ["grant", "grant"]
    finally:
        await device.stop()


async def test_a_tap_while_the_broker_is_down_is_never_charged(hub, broker, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        broker.stop()
        device.tap(uid)
        await until(lambda: device.results, timeout=20)
        assert device.results[-1][1] == "timeout"
        assert device.pulses() == 0

        broker.start()
        await asyncio.wait_for(hub.bridge.connected.wait(), 20)
        await device.wait_connected(20)
        # Whatever the hub may have held for it expires void; the card keeps its money.
        assert card(hub, uid)["balance"] == 1000
        assert all(h["posted"] == 0 for h in holds_of(hub, device.id))
    finally:
        await device.stop()


async def test_a_controller_powered_up_while_the_broker_is_down_sells_once_it_is_back(hub, broker, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, 1000)
    broker.stop()
    await device.start()  # power-up: Wi-Fi is there, the broker is not
    try:
        await asyncio.sleep(2)  # a few connection attempts fail meanwhile
        assert device.pulses() == 0
        broker.start()
        await asyncio.wait_for(hub.bridge.connected.wait(), 20)
        await device.wait_connected(20)
        device.tap(uid)
        await until(lambda: [h["status"] for h in holds_of(hub, device.id)] == ["posted"], timeout=20)
        assert [r[1] for r in device.results] == ["grant"] and device.pulses() == 1
        assert card(hub, uid)["balance"] == 1000 - PRICE
    finally:
        await device.stop()
