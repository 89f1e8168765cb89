"""`tapgift bench`: figures from one run, side by side.

1. echo: the plain MQTT request/reply round trip between two of our own
   clients through the same Mosquitto — the transport's limit;
2. taps: simulated controllers (the real firmware code) tapping through the
   real hub (its own process, so hub and devices each get a core) at the
   offered rate: tap -> grant round trip as the device saw it, what was
   sustained, and the hub's CPU time per tap (so what one hub core can carry,
   whatever else the machine was busy with).
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
from hil.broker import Broker, free_port, wait_for_port
from hil.fleet import percentile
from hil.fleet_setup import Fleetplan, points_held, provision_http, provision_loyalty


async def echo_round_trips(host: str, port: int, count: int) -> list[float]:
    """Milliseconds for `count` sequential QoS 1 request/reply pairs."""
    replies: asyncio.Queue = asyncio.Queue()
    echo: MQTTClient | None = None

    def bounce(topic, payload, retain):
        asyncio.get_running_loop().create_task(echo.publish("bench/reply", payload, qos=1))

    echo = MQTTClient("bench-echo", host, port, on_message=bounce)
    asker = MQTTClient(
        "bench-ask", host, port, on_message=lambda t, p, r: replies.put_nowait(time.perf_counter())
    )
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
    cmd = [
        sys.executable,
        "-m",
        "hub.cli",
        "hub",
        "--db",
        db,
        "--mqtt",
        mqtt_url,
        "--api-port",
        str(api_port),
        "--client-id",
        "bench-hub",
        "--log-level",
        "WARNING",
    ]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_for_port("127.0.0.1", api_port, timeout=30)
    return proc


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def tap_load(
    broker: Broker,
    api_url: str,
    devices: int,
    rate: float,
    duration: float,
    hub_pid: int | None = None,
    loyalty: bool = False,
) -> dict:
    from hil.fleet import Fleet

    plan = Fleetplan(devices=devices, cards=max(devices * 5, 100), balance=1_000_000, site="bench-park")
    provisioned, cards = await provision_http(api_url, plan)
    if loyalty:
        await provision_loyalty(api_url, plan)
    with tempfile.TemporaryDirectory(prefix="tapgift-fleet-") as flash:
        fleet = Fleet(
            provisioned,
            plan.site,
            broker.host,
            broker.port,
            flash,
            {"pulse_ms": 5, "gap_ms": 5, "cooldown_ms": 0},
        )
        await fleet.start()
        try:
            before = cpu_seconds(hub_pid) if hub_pid else None
            result = await fleet.run(cards, rate, duration)
            after = cpu_seconds(hub_pid) if hub_pid else None
        finally:
            await fleet.stop()
    if loyalty:
        result["points_earned"] = await points_held(api_url, cards)
    answered = result["granted"] + result["denied"]
    if before is not None and after is not None and answered:
        # A tap is two requests (tap, delivery report) and four messages at the hub.
        result["hub_cpu_ms_per_tap"] = round((after - before) * 1000 / answered, 3)
    return result


def run_bench(
    devices: int, rate: float, duration: float, db: str, echo_count: int, loyalty: bool = False
) -> dict:
    work = Path(tempfile.mkdtemp(prefix="tapgift-bench-"))
    db_url = f"sqlite:///{work / 'bench.db'}" if db == "sqlite" else db
    with Broker(workdir=work) as broker:
        echo = asyncio.run(echo_round_trips(broker.host, broker.port, echo_count))
        api_port = free_port()
        hub = start_hub_process(db_url, broker.url, api_port, work / "hub.log")
        try:
            taps = asyncio.run(
                tap_load(broker, f"http://127.0.0.1:{api_port}", devices, rate, duration, hub.pid, loyalty)
            )
        finally:
            hub.terminate()
            hub.wait(10)
    return {
        "echo_p50_ms": round(percentile(echo, 0.50), 3),
        "echo_p99_ms": round(percentile(echo, 0.99), 3),
        "tap_p50_ms": taps["p50_ms"],
        "tap_p99_ms": taps["p99_ms"],
        "taps_per_s": round((taps["granted"] + taps["denied"]) / taps["duration_s"], 1),
        "hub_cpu_ms_per_tap": taps.get("hub_cpu_ms_per_tap"),
        # What one hub process could answer if it had a core to itself (the
        # load generator shares this machine and may be the limit instead).
        "taps_per_hub_core": (
            round(1000 / taps["hub_cpu_ms_per_tap"]) if taps.get("hub_cpu_ms_per_tap") else None
        ),
        "taps": taps["taps"],
        "granted": taps["granted"],
        "timeouts": taps["timeouts"],
        "devices": devices,
        "rate": rate,
        "loyalty": loyalty,
        "points_earned": taps.get("points_earned"),
        "db": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "broker": broker.kind,
        "cpus": os.cpu_count(),
    }
