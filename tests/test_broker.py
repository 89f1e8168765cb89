"""The brokers tapgift starts for the demo, the benchmark and the tests."""
from __future__ import annotations

import asyncio

import pytest

from hub.benchmark import echo_round_trips
from hub.broker import Broker


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
