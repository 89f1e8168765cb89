"""The brokers tapgift starts for the demo, the benchmark and the tests."""

from __future__ import annotations

import asyncio

import pytest

from hil.bench import echo_round_trips
from hil.broker import HUB_USER, Broker


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
async def test_broker_carries_qos1_request_and_reply(kind, tmp_path):
    broker = Broker(workdir=tmp_path, kind=kind)
    await asyncio.to_thread(broker.start)
    try:
        rtts = await echo_round_trips(broker.host, broker.port, 30)
    finally:
        await asyncio.to_thread(broker.stop)
    assert len(rtts) == 20 and all(r > 0 for r in rtts)


def test_mosquitto_gets_tcp_nodelay(tmp_path):
    with Broker(workdir=tmp_path, kind="mosquitto"):
        assert "set_tcp_nodelay true" in (tmp_path / "mosquitto.conf").read_text()


def _login(broker, user, password, client_id=None):
    import paho.mqtt.client as mqtt

    # A device's client id is its user name (the broker refuses any other).
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or user or "")
    client.username_pw_set(user, password)
    client.connect(broker.host, broker.port)
    client.loop(timeout=1.0)
    ok = client.is_connected()
    client.disconnect()
    return ok


def test_a_secure_broker_admits_only_the_users_it_was_given(tmp_path):
    with Broker(workdir=tmp_path, secure=True) as broker:
        broker.allow({"slide-1": "right-password"})
        assert _login(broker, "slide-1", "right-password")
        assert not _login(broker, "slide-1", "wrong-password")
        assert not _login(broker, "slide-2", "right-password")
        assert not _login(broker, "slide-1", "right-password", client_id="slide-2")
        assert not _login(broker, None, None)
        assert not _login(broker, None, None, client_id="slide-1")
        assert "right-password" not in broker.dynsec_file.read_text()
        assert broker.hub_password not in broker.dynsec_file.read_text()


async def test_a_device_may_only_use_its_own_topics(tmp_path):
    import aiomqtt

    from hil.broker import HUB_USER

    broker = Broker(workdir=tmp_path, secure=True)
    await asyncio.to_thread(broker.start)
    try:
        await asyncio.to_thread(broker.allow, {"dev-a": "pa", "dev-b": "pb"})
        hub = aiomqtt.Client(
            broker.host, broker.port, username=HUB_USER, password=broker.hub_password, identifier=HUB_USER
        )
        dev_a = aiomqtt.Client(broker.host, broker.port, username="dev-a", password="pa", identifier="dev-a")
        async with hub, dev_a:
            await hub.subscribe("tg/+/+/up/+", qos=1)
            await dev_a.subscribe("tg/park/dev-b/dn/reply", qos=1)  # someone else's replies
            await dev_a.subscribe("tg/park/dev-a/dn/reply", qos=1)
            await dev_a.publish("tg/park/dev-b/up/tap", b"posing as dev-b", qos=1)
            await dev_a.publish("tg/park/dev-a/up/tap", b"its own", qos=1)
            await hub.publish("tg/park/dev-b/dn/reply", b"for dev-b", qos=1)
            await hub.publish("tg/park/dev-a/dn/reply", b"for dev-a", qos=1)
            async with asyncio.timeout(5):
                seen_by_hub = await anext(hub.messages)
                seen_by_a = await anext(dev_a.messages)
            assert (str(seen_by_hub.topic), seen_by_hub.payload) == ("tg/park/dev-a/up/tap", b"its own")
            assert (str(seen_by_a.topic), seen_by_a.payload) == ("tg/park/dev-a/dn/reply", b"for dev-a")
    finally:
        await asyncio.to_thread(broker.stop)


def test_a_restarted_secure_broker_still_knows_its_devices_and_hubs(tmp_path):
    with Broker(workdir=tmp_path, secure=True) as broker:
        broker.allow({"slide-1": "right-password"})
        broker.restart()
        assert _login(broker, "slide-1", "right-password")
        assert _login(broker, HUB_USER, broker.hub_password, client_id=HUB_USER + "-x")
