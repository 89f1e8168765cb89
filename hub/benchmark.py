"""`tapgift bench`: figures from one run, side by side.

1. echo: the plain MQTT request/reply round trip between two of our own
   clients through the same Mosquitto — the transport's limit;
2. taps: simulated controllers (the real firmware code) tapping through the
   real hub (its own process, so hub and devices each get a core) at the
   offered rate: tap -> grant round trip as the device saw it, and what was
   sustained.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware.mqtt import MQTTClient
from hil.fleet import percentile
from hil.provision import Fleetplan, provision_http
from hub.broker import Broker, free_port, wait_for_port


async def echo_round_trips(host: str, port: int, count: int) -> list[float]:
    """Milliseconds for `count` sequential QoS 1 request/reply pairs."""
    replies: asyncio.Queue = asyncio.Queue()
    echo: MQTTClient | None = None

    def bounce(topic, payload, retain):
        asyncio.get_running_loop().create_task(echo.publish("bench/reply", payload, qos=1))

    echo = MQTTClient("bench-echo", host, port, on_message=bounce)
    asker = MQTTClient("bench-ask", host, port,
                       on_message=lambda t, p, r: replies.put_nowait(time.perf_counter()))
    tasks = [asyncio.create_task(c.run()) for c in (echo, asker)]
    try:
        await asyncio.wait_for(asyncio.gather(echo.wait_connected(), asker.wait_connected()), 10)
        await echo.subscribe("bench/request", qos=1)
        await asker.subscribe("bench/reply", qos=1)
        samples = []
        for i in range(count):
            start = time.perf_counter()
            await asker.publish("bench/request", b"x" * 64, qos=1)
            done = await asyncio.wait_for(replies.get(), 5)
            if i >= 10:  # warm-up
                samples.append((done - start) * 1000)
        return samples
    finally:
        for c in (echo, asker):
            await c.disconnect()
        for t in tasks:
            t.cancel()


def start_hub_process(db: str, mqtt_url: str, api_port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "hub.cli", "hub", "--db", db, "--mqtt", mqtt_url,
           "--api-port", str(api_port), "--client-id", "bench-hub", "--log-level", "WARNING"]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_for_port("127.0.0.1", api_port, timeout=30)
    return proc


async def tap_load(broker: Broker, api_url: str, devices: int, rate: float,
                   duration: float) -> dict:
    from hil.fleet import Fleet

    plan = Fleetplan(devices=devices, cards=max(devices * 5, 100), balance=1_000_000,
                     site="bench-park")
    provisioned, cards = await provision_http(api_url, plan)
    with tempfile.TemporaryDirectory(prefix="tapgift-fleet-") as flash:
        fleet = Fleet(provisioned, plan.site, broker.host, broker.port, flash,
                      {"pulse_ms": 5, "gap_ms": 5, "cooldown_ms": 0})
        await fleet.start()
        try:
            return await fleet.run(cards, rate, duration)
        finally:
            await fleet.stop()


def run_bench(devices: int, rate: float, duration: float, db: str, echo_count: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="tapgift-bench-"))
    db_url = f"sqlite:///{work / 'bench.db'}" if db == "sqlite" else db
    with Broker(workdir=work) as broker:
        echo = asyncio.run(echo_round_trips(broker.host, broker.port, echo_count))
        api_port = free_port()
        hub = start_hub_process(db_url, broker.url, api_port, work / "hub.log")
        try:
            taps = asyncio.run(tap_load(broker, f"http://127.0.0.1:{api_port}", devices, rate,
                                        duration))
        finally:
            hub.terminate()
            hub.wait(10)
    return {
        "echo_p50_ms": round(percentile(echo, 0.50), 3),
        "echo_p99_ms": round(percentile(echo, 0.99), 3),
        "tap_p50_ms": taps["p50_ms"],
        "tap_p99_ms": taps["p99_ms"],
        "taps_per_s": round((taps["granted"] + taps["denied"]) / taps["duration_s"], 1),
        "taps": taps["taps"],
        "granted": taps["granted"],
        "timeouts": taps["timeouts"],
        "devices": devices,
        "rate": rate,
        "db": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "broker": broker.kind,
        "cpus": os.cpu_count(),
    }
