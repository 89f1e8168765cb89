"""`tapgift bench`: figures from one run, side by side.

1. echo: the plain MQTT request/reply round trip between two of our own
   clients through the same Mosquitto — the transport's limit, in this run;
2. taps: the lean load generator (hil/loadgen.py: protocol-level devices in
   worker processes of their own, signing and request ids as the firmware
   does) tapping through the real hub — one or several hub processes sharing
   the devices' topics as one MQTT shared-subscription group — at the offered
   rate: the rate reached, tap -> grant round trip as the devices saw it, and
   the CPU time per tap of each part: the hubs, the broker and the generator,
   so a figure says whether it describes the hub or its load generator;
3. the exactly-once check of the run: every grant the generator saw delivered
   is one posted hold, every ledger sums to zero.

`--fleet firmware` taps with the full firmware stacks of hil/fleet.py instead
(one process; its cost per tap is many times the hub's).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from firmware.mqtt import MQTTClient
from hil.broker import Broker, free_port, wait_for_port
from hil.fleet import percentile
from hil.fleet_setup import Fleetplan, points_held, provision_db, provision_loyalty


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


SHARE_GROUP = "bench"


def start_hub_process(
    db: str,
    mqtt_url: str,
    api_port: int,
    log: Path,
    client_id: str = "bench-hub",
    share_group: str = "",
    env: dict | None = None,
    wait: bool = True,
) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "hub.cli", "hub", "--db", db, "--mqtt", mqtt_url]
    cmd += ["--api-port", str(api_port), "--client-id", client_id, "--log-level", "WARNING"]
    cmd += ["--share-group", share_group] if share_group else []
    env = {**os.environ, "TAPGIFT_SHARE_GROUP": share_group, **(env or {})}
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    if wait:
        wait_for_port("127.0.0.1", api_port, timeout=60)
    return proc


class Hubs:
    """n hub processes on one database and one broker. More than one share the devices'
    topics as one MQTT shared-subscription group ($share/<group>/...): each request is
    handled by one of them."""

    def __init__(self, n: int, db_url: str, broker: Broker, work: Path, env: dict | None = None):
        self.n, self.db_url, self.broker, self.work, self.env = n, db_url, broker, work, env
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []

    def start(self) -> Hubs:
        """Starts them all at once (the database's schema is up to date already: prepare()),
        then waits until each answers."""
        for i in range(self.n):
            self.ports.append(free_port())
            self.procs.append(
                start_hub_process(
                    self.db_url,
                    self.broker.url,
                    self.ports[-1],
                    self.work / f"hub-{i + 1}.log",
                    client_id=f"bench-hub-{i + 1}",
                    share_group=SHARE_GROUP if self.n > 1 else "",
                    env=self.env,
                    wait=False,
                )
            )
        for port in self.ports:
            wait_for_port("127.0.0.1", port, timeout=60)
        return self

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def api_url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def batches(self) -> tuple[int, int]:
        """(requests answered, batches committed) by all the hubs so far, from their health."""
        answered = batches = 0
        for i in range(self.n):
            if self.procs[i].poll() is None:
                stats = httpx.get(self.api_url(i) + "/api/v1/health", timeout=10).json()["stats"]
                answered, batches = answered + stats.get("answered", 0), batches + stats.get("batches", 0)
        return answered, batches

    def kill(self, i: int) -> None:
        """SIGKILL: no goodbye to the broker, a batch possibly mid-commit."""
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def __enter__(self) -> Hubs:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def prepare(db_url: str, plan: Fleetplan) -> tuple[list, list[str], str]:
    """The run's database: its schema, the plan's devices and cards (written directly: the
    bench owns the database, and a thousand REST calls would measure the API instead), and
    an admin API key for the bench's own REST calls, with a rate no bench run reaches."""
    from hub.access import keys
    from hub.access.callers import SYSTEM
    from hub.core.clock import utcnow
    from hub.migrations import open_database

    engine = open_database(db_url)
    try:
        provisioned, cards = provision_db(engine, plan)
        with engine.begin() as conn:
            key = keys.create_key(
                conn, SYSTEM, name="tapgift bench", role="admin", rate_per_minute=10**7, now=utcnow()
            )["key"]
    finally:
        engine.dispose()
    return provisioned, cards, key


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(pids: list[int]) -> float | None:
    seconds = [cpu_seconds(p) for p in pids]
    return None if any(s is None for s in seconds) else sum(seconds)


def _per_tap(before: float | None, after: float | None, taps: int) -> float | None:
    if before is None or after is None or not taps:
        return None
    return round((after - before) * 1000 / taps, 3)


async def fleet_load(
    broker: Broker,
    api_url: str,
    plan: Fleetplan,
    provisioned: list,
    cards: list[str],
    rate: float,
    duration: float,
) -> dict:
    """Taps from the firmware-stack fleet (hil/fleet.py), in this process."""
    from hil.fleet import Fleet

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
            cpu0 = time.process_time()
            result = await fleet.run(cards, rate, duration)
            result["cpu_s"] = time.process_time() - cpu0
        finally:
            await fleet.stop()
    return result


def run_bench(
    devices: int,
    rate: float,
    duration: float,
    db: str,
    echo_count: int,
    loyalty: bool = False,
    hubs: int = 1,
    generators: int = 1,
    fleet: str = "lean",
) -> dict:
    """db: 'sqlite' (a file of the run) or a postgresql:// admin URL (a scratch database of
    the run, dropped afterwards)."""
    if db.startswith("postgresql"):
        from hil.bench_ledger import scratch_database

        with scratch_database(db) as url:
            return _run_bench(devices, rate, duration, url, echo_count, loyalty, hubs, generators, fleet)
    return _run_bench(devices, rate, duration, db, echo_count, loyalty, hubs, generators, fleet)


def _run_bench(
    devices: int,
    rate: float,
    duration: float,
    db: str,
    echo_count: int,
    loyalty: bool,
    hubs: int,
    generators: int,
    fleet: str,
) -> dict:
    from hil.loadgen import Workers, merge

    work = Path(tempfile.mkdtemp(prefix="tapgift-bench-"))
    db_url = f"sqlite:///{work / 'bench.db'}" if db == "sqlite" else db
    plan = Fleetplan(devices=devices, cards=max(devices * 5, 100), balance=1_000_000, site="bench-park")
    provisioned, cards, api_key = prepare(db_url, plan)
    with Broker(workdir=work) as broker, Hubs(hubs, db_url, broker, work) as group:
        echo = asyncio.run(echo_round_trips(broker.host, broker.port, echo_count))
        api_url = group.api_url()
        if loyalty:
            asyncio.run(provision_loyalty(api_url, plan, api_key))
        broker_pids = [broker.pid] if broker.pid else []
        if fleet == "firmware":
            hub0, broker0, batches0 = _cpu(group.pids), _cpu(broker_pids), group.batches()
            taps = asyncio.run(fleet_load(broker, api_url, plan, provisioned, cards, rate, duration))
            hub1, broker1, batches1 = _cpu(group.pids), _cpu(broker_pids), group.batches()
            taps["issued_s"] = taps["duration_s"]
            check = None
        else:
            workers = Workers(
                provisioned, cards, plan.site, broker.host, broker.port, rate, duration, generators, str(work)
            )
            try:
                workers.start()
                hub0, broker0, batches0 = _cpu(group.pids), _cpu(broker_pids), group.batches()
                workers.go()
                spy = _profile(group.pids[0], duration, work)
                taps = merge(workers.results())
                if spy is not None:
                    spy.wait(duration + 30)
                hub1, broker1, batches1 = _cpu(group.pids), _cpu(broker_pids), group.batches()
            finally:
                workers.stop()
            taps["p50_ms"] = _round(percentile(taps["latencies"], 0.50))
            taps["p99_ms"] = _round(percentile(taps["latencies"], 0.99))
            check = exactly_once(db_url, {d for d, _ in provisioned}, taps["delivered"])
        points = asyncio.run(points_held(api_url, cards, api_key)) if loyalty else None
    answered = taps["granted"] + taps["denied"]
    hub_ms = _per_tap(hub0, hub1, answered)
    summary = {
        "echo_p50_ms": _round(percentile(echo, 0.50)),
        "echo_p99_ms": _round(percentile(echo, 0.99)),
        "offered_taps_per_s": rate,
        "taps_per_s": round(answered / taps["issued_s"], 1) if taps["issued_s"] else None,
        "tap_p50_ms": taps["p50_ms"],
        "tap_p99_ms": taps["p99_ms"],
        "tap_p99_over_echo_p99": _ratio(taps["p99_ms"], percentile(echo, 0.99)),
        "hub_cpu_ms_per_tap": hub_ms,
        "broker_cpu_ms_per_tap": _per_tap(broker0, broker1, answered),
        "generator_cpu_ms_per_tap": round(taps["cpu_s"] * 1000 / answered, 3) if answered else None,
        # What one hub process could answer with a core to itself.
        "taps_per_hub_core": round(1000 / hub_ms) if hub_ms else None,
        # Requests (a tap is two: the tap and its delivery report) per committed batch: each
        # batch costs a transaction whatever its size, so the CPU per tap falls as this grows.
        "requests_per_batch": _ratio(batches1[0] - batches0[0], batches1[1] - batches0[1]),
        "taps": taps["taps"],
        "granted": taps["granted"],
        "denied": taps["denied"],
        "timeouts": taps["timeouts"],
        "skipped": taps.get("skipped"),
        "retries": taps.get("retries"),
        "devices": devices,
        "hubs": hubs,
        "generator": "firmware fleet, 1 process"
        if fleet == "firmware"
        else f"lean, {generators} process(es)",
        "loyalty": loyalty,
        "points_earned": points,
        "db": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "broker": broker.kind,
        "cpus": os.cpu_count(),
        # The machine's load average (1, 5, 15 min) as the run ended: latency figures from a
        # machine busy with other work say more about it than about the hub; CPU per tap less so.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if check is not None:
        summary["exactly_once"] = not check
        summary["exactly_once_problems"] = check[:10]
    return summary


def exactly_once(db_url: str, devices: set[str], delivered: list) -> list[str]:
    """The run's bookings against what the generator saw: every hold a device delivered on
    is posted once with what it delivered, no other hold of these devices is posted, and
    every ledger sums to zero. Returns the problems found (none: it holds)."""
    from hil.chaos import grants_posted_once, ledgers_sum_to_zero
    from hub.core.engine import make_engine

    engine = make_engine(db_url)
    try:
        seen: dict[str, list] = {}
        for device, hold, units in delivered:
            seen.setdefault(hold, []).append((device, units))
        return grants_posted_once(engine, seen, devices) + ledgers_sum_to_zero(engine)
    finally:
        engine.dispose()


def _profile(pid: int, duration: float, work: Path) -> subprocess.Popen | None:
    """With TAPGIFT_BENCH_PYSPY=/path/to/py-spy: sample the (first) hub while the load runs,
    collapsed stacks per thread into TAPGIFT_BENCH_PROFILE (default: the run's folder)."""
    spy = os.environ.get("TAPGIFT_BENCH_PYSPY")
    if not spy:
        return None
    out = os.environ.get("TAPGIFT_BENCH_PROFILE") or str(work / "hub-profile.txt")
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(duration) - 1))]
    cmd += ["--rate", "250", "--format", "raw", "--threads", "--gil", "--nonblocking", "-o", out]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 1) if value is not None and base else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
