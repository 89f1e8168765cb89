"""`tapgift chaos`: a fleet taps through a real broker and a real hub while the hub is killed
(SIGKILL) and the broker restarted; then the bank's invariants are checked.

The hub runs as its own process (`python -m hub.cli hub`), Mosquitto on a free port, the
devices are simulated controllers running the real firmware (hil.device). The moments of the
faults come from a seeded RNG (--seed), so a failing run can be repeated with the same plan.

What the devices saw is recorded beside the firmware (Witness): the units each delivered
against each hold, and the answer each got to each request id. The invariants are functions
of an engine (and that record) that return what they found broken, so a test can run them on a
database broken by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select

from hil.broker import Broker, free_port, wait_for_port
from hil.fleet import Fleet
from hil.fleet_setup import Fleetplan, provision_db
from hub.core.clock import utcnow
from hub.devices.registry import DeviceDirectory
from hub.ledger import ACCOUNTS, TRANSFERS, balance_from_log, ledger_totals
from hub.tables.taps import DeviceRequest, Hold
from hub.taps.authorize import Authorizer, Incoming
from hub.wallets import cards as wallets
from hub.wallets.cash_desk import top_up

HOLDS = Hold.__table__
ANSWERS = DeviceRequest.__table__
SITE = "chaos-park"
PRICE = 100
# Short pulses (taps are many) but long enough that kills land mid-delivery; a tap is asked
# up to 4 times, 1 s apart, so a hub back within a few seconds answers the repeat.
PROFILE = {"units": 1, "pulse_ms": 30, "gap_ms": 10, "cooldown_ms": 0, "reply_timeout_ms": 1000, "retries": 3}
TAP_LIMIT_S = 10.0  # one tap: 4 attempts and a delivery, with room
RECOVERY_LIMIT_S = 30.0  # a restart after which no tap is booked for this long fails the run
MIN_TAIL_S = 1.0  # tapping goes on at least this long after the last fault recovered
DRAIN_LIMIT_S = 60.0  # for the devices' journals to empty after tapping stops
SWEEP_S = 1.0
SWEEP_GRACE = timedelta(seconds=2 * SWEEP_S + 2)  # a hold may wait this long for the sweep
HUB_DEAD_MAX_S = 4.0  # plus the time it takes to start again
BROKER_DOWN_MAX_S = 3.0
PROBLEMS_SHOWN = 10


# ----------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """What a run does; the same seed gives the same faults at the same moments."""

    devices: int = 10
    kills: int = 2
    broker_restarts: int = 1
    duration: float = 10.0
    seed: int = 1
    rate: float | None = None  # taps/s over the fleet; default 5 per device
    hold_ttl_s: int = 30
    probe: int = 50  # requests repeated after the run, straight to the booking path

    def faults(self) -> list[tuple[float, str]]:
        """(seconds after tapping starts, "hub_kill" | "broker_restart"), from the seed."""
        rng = random.Random(self.seed)
        kinds = ["hub_kill"] * self.kills + ["broker_restart"] * self.broker_restarts
        rng.shuffle(kinds)
        moments = sorted(rng.uniform(0.1, 0.7) * self.duration for _ in kinds)
        return list(zip(moments, kinds, strict=True))

    def pause_s(self) -> float:
        """Mean pause between one device's taps."""
        rate = self.rate or 5.0 * self.devices
        return self.devices / rate


def provision(engine: Engine, plan: Plan) -> tuple[list, list[str]]:
    """The plan's devices; rich cards, cards that run dry, and debit cards that may go
    down to minus their credit limit (so the limits are reached, not just respected).
    Names are new each run, so runs can share a database."""
    prefix = uuid.uuid4().hex[:6]
    fleet = Fleetplan(
        plan.devices,
        cards=max(plan.devices * 2, 10),
        balance=1_000_000,
        unit_price=PRICE,
        site=SITE,
        prefix=prefix,
    )
    devices, cards = provision_db(engine, fleet)
    extra = max(plan.devices // 2, 4)
    with engine.begin() as conn:
        for i in range(extra):
            low, debit = f"{prefix.upper()}L{i:06X}", f"{prefix.upper()}D{i:06X}"
            wallets.issue_card(conn, "CHF", low, "runs dry")
            top_up(conn, low, 5 * PRICE, f"chaos/{low}", "five taps' worth")
            wallets.issue_card(conn, "CHF", debit, "debit card", kind="debit", credit_limit=5 * PRICE)
            cards += [low, debit]
    return devices, cards


# ----------------------------------------------------------------------------- the hub process


class HubProcess:
    """The hub as a subprocess; a kill is SIGKILL, a stop SIGTERM."""

    def __init__(self, db_url: str, mqtt_url: str, log: Path, hold_ttl_s: int):
        self.db_url, self.mqtt_url, self.log = db_url, mqtt_url, log
        self.env = {
            **os.environ,
            "TAPGIFT_HOLD_TTL_S": str(hold_ttl_s),
            "TAPGIFT_SWEEP_INTERVAL_S": str(SWEEP_S),
        }
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        port = free_port()
        cmd = [sys.executable, "-m", "hub.cli", "hub", "--db", self.db_url, "--mqtt", self.mqtt_url]
        cmd += ["--api-port", str(port), "--client-id", "chaos-hub", "--log-level", "WARNING"]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        self.starts += 1
        wait_for_port("127.0.0.1", port, timeout=60)

    def kill(self) -> int:
        """SIGKILL; the exit status (-9 when it really died of it)."""
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def errors(self) -> list[str]:
        """The exception line ending each traceback in the hub's log."""
        if not self.log.exists():
            return []
        lines, found, inside = self.log.read_text(errors="replace").splitlines(), [], False
        for line in lines:
            if line.startswith("Traceback"):
                inside = True
            elif inside and line and not line.startswith(" "):
                found.append(line[:300])
                inside = False
        return found


# ----------------------------------------------------------------------------- what devices saw


@dataclass
class Answer:
    device: str
    kind: str
    body: dict
    reply: dict


@dataclass
class Witness:
    """What the simulated devices did: units delivered per hold, the answer to each request."""

    delivered: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    attempts: int = 0  # publishes of requests, repeats included
    requests: int = 0
    devices: set[str] = field(default_factory=set)

    def watch(self, device) -> None:
        """Hook the running firmware of a SimDevice (after start())."""
        self.devices.add(device.id)
        controller, link = device.app.controller, device.app.link
        report, request, attempt = controller.report, link.request, link._attempt

        def reported(hold, units):
            self.delivered.setdefault(hold, []).append((device.id, units))
            return report(hold, units)

        async def requested(kind, body):
            reply, ms = await request(kind, body)
            self.requests += 1
            if reply is not None:
                self.answers.append(Answer(device.id, kind, dict(body), reply))
            return reply, ms

        async def attempted(topic, payload, waiter):
            if waiter[1] is None:
                self.attempts += 1
            return await attempt(topic, payload, waiter)

        controller.report, link.request, link._attempt = reported, requested, attempted


# ----------------------------------------------------------------------------- the run


async def tap_until(
    device, cards: list[str], rng: random.Random, pause_s: float, stop: asyncio.Event
) -> None:
    """One visitor after another at one device, until stop; each waits for the machine."""
    while not stop.is_set():
        seen = len(device.results)
        device.tap(rng.choice(cards))
        with contextlib.suppress(TimeoutError):
            await device.wait_results(seen + 1, TAP_LIMIT_S)
        await asyncio.sleep(rng.expovariate(1 / pause_s))


def taps_booked(engine: Engine, since: datetime, until: datetime | None = None) -> int:
    """Holds made (tap_hold transfers) since a moment, and before another one."""
    query = select(func.count()).where(TRANSFERS.c.code == "tap_hold", TRANSFERS.c.created_at >= since)
    if until is not None:
        query = query.where(TRANSFERS.c.created_at < until)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


async def until_booked(engine: Engine, since: datetime) -> float | None:
    """Seconds until a tap is booked after `since`; None if none in RECOVERY_LIMIT_S."""
    start = time.monotonic()
    while time.monotonic() - start < RECOVERY_LIMIT_S:
        if await asyncio.to_thread(taps_booked, engine, since):
            return round(time.monotonic() - start, 2)
        await asyncio.sleep(0.1)
    return None


async def fault(kind: str, hub: HubProcess, broker: Broker, rng: random.Random) -> dict:
    """One fault and the recovery from it; when it was back up (UTC)."""
    record = {"event": kind, "at": utcnow()}
    if kind == "hub_kill":
        record["pid"] = hub.proc.pid
        record["exit"] = await asyncio.to_thread(hub.kill)
        # Dead for a moment, or longer than a tap waits (its requests queue at the broker).
        await asyncio.sleep(rng.uniform(0.1, HUB_DEAD_MAX_S))
        await asyncio.to_thread(hub.start)
    else:
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(rng.uniform(0.1, BROKER_DOWN_MAX_S))
        await asyncio.to_thread(broker.start)
    record["up"] = utcnow()
    record["down_s"] = round((record["up"] - record["at"]).total_seconds(), 2)
    return record


async def inflict(plan: Plan, engine: Engine, hub: HubProcess, broker: Broker, started: float) -> list[dict]:
    """The plan's faults in order, each after the one before has recovered (a tap booked)."""
    rng = random.Random(plan.seed + 1)
    records = []
    for moment, kind in plan.faults():
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        at_s = round(time.monotonic() - started, 2)
        record = await fault(kind, hub, broker, rng)
        record["at_s"] = at_s
        record["recovered_s"] = await until_booked(engine, record["up"])
        records.append(record)
    return records


async def drain(fleet: Fleet) -> int:
    """Wait until every device's journal is empty (its reports answered); how many are not."""
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while time.monotonic() < deadline:
        left = sum(d.app.controller.pending_reports() for d in fleet.devices)
        if not left:
            return 0
        await asyncio.sleep(0.1)
    return sum(d.app.controller.pending_reports() for d in fleet.devices)


async def run_fleet(plan: Plan, engine: Engine, db_url: str, work: Path) -> dict:
    """Broker, hub process and fleet: tap through the faults, stop, and say what happened."""
    devices, cards = await asyncio.to_thread(provision, engine, plan)
    witness = Witness()
    with Broker(workdir=work / "broker") as broker:
        hub = HubProcess(db_url, broker.url, work / "hub.log", plan.hold_ttl_s)
        await asyncio.to_thread(hub.start)
        fleet = Fleet(devices, SITE, broker.host, broker.port, str(work / "flash"), PROFILE)
        try:
            await fleet.start()
            for device in fleet.devices:
                witness.watch(device)
            stop, rng = asyncio.Event(), random.Random(plan.seed + 2)
            tappers = [
                asyncio.create_task(tap_until(d, cards, rng, plan.pause_s(), stop)) for d in fleet.devices
            ]
            started = time.monotonic()
            faults = await inflict(plan, engine, hub, broker, started)
            await asyncio.sleep(max(MIN_TAIL_S, started + plan.duration - time.monotonic()))
            stop.set()
            await asyncio.gather(*tappers)
            tapped_s = time.monotonic() - started
            undrained = await drain(fleet)
            await asyncio.sleep(SWEEP_S + 0.5)  # one more sweep of the hub's
        finally:
            hub_stopped = utcnow()
            hub.stop()
            await fleet.stop()
    results = [r for d in fleet.devices for r in d.results]
    return {
        "witness": witness,
        "faults": faults,
        "hub_errors": hub.errors(),
        "hub_starts": hub.starts,
        "hub_stopped": hub_stopped,
        "undrained_reports": undrained,
        "tapped_s": round(tapped_s, 1),
        "taps": len(results),
        "granted": sum(1 for r in results if r[1] == "grant"),
        "denied": sum(1 for r in results if r[1] == "deny"),
        "timeouts": sum(1 for r in results if r[1] == "timeout"),
    }


def expire_leftovers(engine: Engine, hold_ttl_s: int) -> tuple[int, datetime]:
    """Let the expiry the hub would run later run now: holds still pending (grants no device
    got) are voided as at the latest expiry among them. Returns (how many, that moment)."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(func.max(HOLDS.c.expires_at)).where(HOLDS.c.status == "pending")
        ).scalar()
    now = utcnow()
    if latest is not None:
        now = max(now, _aware(latest) + timedelta(milliseconds=1))
    authorizer, expired = Authorizer(engine, hold_ttl_s=hold_ttl_s), 0
    while count := authorizer.expire(now):
        expired += count
    return expired, now


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ----------------------------------------------------------------------------- the invariants


def ledgers_sum_to_zero(engine: Engine) -> list[str]:
    """Every ledger's posted and pending balances sum to zero."""
    with engine.connect() as conn:
        totals = ledger_totals(conn)
    return [
        f"ledger {ledger}: {sums}" for ledger, sums in totals.items() if sums != {"posted": 0, "pending": 0}
    ]


def wallets_within_limits(engine: Engine) -> list[str]:
    """No account that may not go negative (a wallet) is below minus its credit limit,
    holds counted."""
    available = ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted - ACCOUNTS.c.debits_pending
    query = select(ACCOUNTS.c.id, ACCOUNTS.c.name, available, ACCOUNTS.c.credit_limit).where(
        ACCOUNTS.c.allow_negative.is_(False), available + ACCOUNTS.c.credit_limit < 0
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        f"account {i} ({name}): {avail} available, credit limit {limit}" for i, name, avail, limit in rows
    ]


def no_hold_pending_past_expiry(engine: Engine, now: datetime) -> list[str]:
    """No hold is still pending after its expiry."""
    query = select(HOLDS.c.id, HOLDS.c.expires_at).where(
        HOLDS.c.status == "pending", HOLDS.c.expires_at < now
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [f"hold {h} pending, expired at {at}" for h, at in rows]


def balances_match_log(engine: Engine) -> list[str]:
    """Every account's posted balance is what its transfers add up to."""
    with engine.connect() as conn:
        rows = conn.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted)).all()
        found = [(i, int(b), balance_from_log(conn, i)) for i, b in rows]
    return [f"account {i}: balance {b}, transfers {log}" for i, b, log in found if b != log]


def grants_posted_once(
    engine: Engine, delivered: dict[str, list[tuple[str, int]]], devices: set[str]
) -> list[str]:
    """Each hold a device delivered on is posted once, with exactly what it delivered (one
    'post' transfer of that amount); a hold no device delivered on is never posted (it
    expired, or was voided). delivered: hold -> [(device, units)] as the devices recorded it."""
    with engine.connect() as conn:
        holds = {
            r["id"]: r for r in conn.execute(select(HOLDS).where(HOLDS.c.device_id.in_(devices))).mappings()
        }
        posts = dict(
            conn.execute(
                select(TRANSFERS.c.pending_id, func.count())
                .where(TRANSFERS.c.flags == "post", TRANSFERS.c.pending_id.in_(holds))
                .group_by(TRANSFERS.c.pending_id)
            ).all()
        )
        post_sums = dict(
            conn.execute(
                select(TRANSFERS.c.pending_id, func.sum(TRANSFERS.c.amount))
                .where(TRANSFERS.c.flags == "post", TRANSFERS.c.pending_id.in_(holds))
                .group_by(TRANSFERS.c.pending_id)
            ).all()
        )
    problems = []
    for hold_id, deliveries in delivered.items():
        problems += _delivered_hold(holds.get(hold_id), hold_id, deliveries, posts, post_sums)
    for hold_id, hold in holds.items():
        if hold_id not in delivered and (hold["posted"] or hold["status"] == "posted" or posts.get(hold_id)):
            problems.append(
                f"hold {hold_id} ({hold['status']}, {hold['posted']} posted, {posts.get(hold_id, 0)} post "
                "transfers): no device delivered on it"
            )
    return problems


def _delivered_hold(hold, hold_id: str, deliveries: list, posts: dict, post_sums: dict) -> list[str]:
    if len(deliveries) > 1:
        return [f"hold {hold_id} delivered {len(deliveries)} times: {deliveries}"]
    if hold is None:
        return [f"hold {hold_id} delivered by {deliveries[0][0]} is not in the database"]
    device, units = deliveries[0]
    want = units * hold["unit_price"]
    status = "posted" if units else "voided"
    if hold["device_id"] != device or hold["status"] != status or hold["posted"] != want:
        return [
            f"hold {hold_id}: {device} delivered {units}, hold is {hold['status']} with {hold['posted']} posted"
        ]
    if posts.get(hold_id, 0) != (1 if want else 0) or int(post_sums.get(hold_id) or 0) != want:
        return [
            f"hold {hold_id}: {posts.get(hold_id, 0)} post transfers of {post_sums.get(hold_id)}, want {want}"
        ]
    return []


def answers_stored_once(engine: Engine, answers: list[Answer]) -> list[str]:
    """device_requests keeps one answer per (device, request id) under a unique constraint, each
    answer a device acted on is the stored one, and no request made two holds."""
    problems = [] if _unique_answers(engine) else ["device_requests has no unique (device_id, request_id)"]
    with engine.connect() as conn:
        twice = [(d, r, n, "stored") for d, r, n in _repeated(conn, ANSWERS)]
        twice += [(d, r, n, "held") for d, r, n in _repeated(conn, HOLDS)]
        devices = {a.device for a in answers}
        stored = {}
        if devices:
            rows = conn.execute(
                select(ANSWERS.c.device_id, ANSWERS.c.request_id, ANSWERS.c.reply).where(
                    ANSWERS.c.device_id.in_(devices)
                )
            ).all()
            stored = {(d, r): json.loads(bytes(reply)) for d, r, reply in rows}
    problems += [f"{d} request {r} {what} {n} times" for d, r, n, what in twice]
    for a in answers:
        kept = stored.get((a.device, a.body["id"]))
        if kept != a.reply:
            problems.append(f"{a.device} request {a.body['id']}: device got {a.reply}, stored {kept}")
    return problems


def _repeated(conn, table) -> list[tuple]:
    """(device, request id, rows) of the requests with more than one row in table."""
    key = (table.c.device_id, table.c.request_id)
    return conn.execute(select(*key, func.count()).group_by(*key).having(func.count() > 1)).all()


def _unique_answers(engine: Engine) -> bool:
    found = inspect(engine)
    wanted = {"device_id", "request_id"}
    constraints = found.get_unique_constraints("device_requests")
    indexes = [i for i in found.get_indexes("device_requests") if i.get("unique")]
    return any(set(c["column_names"]) == wanted for c in constraints + indexes)


def repeats_get_stored_answer(engine: Engine, answers: list[Answer], sample: int, seed: int = 0) -> list[str]:
    """Send `sample` answered requests again, as a redelivery would, straight to the booking
    path: each gets the stored answer and nothing new is booked."""
    picked = random.Random(seed).sample(answers, min(sample, len(answers)))
    if not picked:
        return []
    directory = DeviceDirectory(engine)
    batch = [Incoming(directory.get(SITE, a.device), a.kind, dict(a.body)) for a in picked]
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(TRANSFERS)).scalar()
    replies = Authorizer(engine).process(batch)
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(TRANSFERS)).scalar()
    problems = [f"{after - before} transfers booked by repeated requests"] if after != before else []
    for a, reply in zip(picked, replies, strict=True):
        if json.loads(reply) != a.reply:
            problems.append(
                f"{a.device} request {a.body['id']} repeated: {json.loads(reply)}, first {a.reply}"
            )
    return problems


def check_invariants(
    engine: Engine, witness: Witness, now: datetime, probe: int = 50
) -> dict[str, list[str]]:
    """Every invariant by name: what was found broken (empty: it held)."""
    return {
        "ledgers_sum_to_zero": ledgers_sum_to_zero(engine),
        "wallets_within_limits": wallets_within_limits(engine),
        "no_hold_pending_past_expiry": no_hold_pending_past_expiry(engine, now),
        "balances_match_log": balances_match_log(engine),
        "grants_posted_once": grants_posted_once(engine, witness.delivered, witness.devices),
        "answers_stored_once": answers_stored_once(engine, witness.answers)
        + repeats_get_stored_answer(engine, witness.answers, probe),
    }


# ----------------------------------------------------------------------------- the summary


def hold_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(HOLDS.c.status, func.count()).group_by(HOLDS.c.status)).all()
    return {f"holds_{status}": n for status, n in rows}


def fault_summary(engine: Engine, faults: list[dict]) -> list[dict]:
    """Each fault with the taps booked from its recovery until the next fault (or the end)."""
    out = []
    for i, f in enumerate(faults):
        until = faults[i + 1]["at"] if i + 1 < len(faults) else None
        entry = {k: f[k] for k in ("event", "at_s", "down_s", "recovered_s")}
        if "exit" in f:
            entry["exit"] = f["exit"]
        entry["taps_booked_after"] = taps_booked(engine, f["up"], until)
        out.append(entry)
    return out


def run_chaos(plan: Plan, db_url: str, work: Path) -> dict:
    """One chaos run on the database at db_url (made and upgraded here if empty)."""
    from hub.migrations import open_database

    work.mkdir(parents=True, exist_ok=True)
    engine = open_database(db_url)
    try:
        run = asyncio.run(run_fleet(plan, engine, db_url, work))
        pending_at_end = hold_counts(engine).get("holds_pending", 0)
        expired_by_hub = hold_counts(engine).get("holds_expired", 0)
        # What the hub's own sweep should have voided before it stopped, then the rest.
        unswept = no_hold_pending_past_expiry(engine, run["hub_stopped"] - SWEEP_GRACE)
        expired_after, now = expire_leftovers(engine, plan.hold_ttl_s)
        found = check_invariants(engine, run["witness"], now, plan.probe)
        found["no_hold_pending_past_expiry"][:0] = [f"the hub did not sweep: {p}" for p in unswept]
        faults = fault_summary(engine, run["faults"])
        counts = hold_counts(engine)
    finally:
        engine.dispose()
    witness = run["witness"]
    return {
        "db": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "seed": plan.seed,
        "devices": plan.devices,
        "duration_s": run["tapped_s"],
        "hub_kills": sum(1 for f in faults if f["event"] == "hub_kill" and f["exit"] == -signal.SIGKILL),
        "broker_restarts": sum(1 for f in faults if f["event"] == "broker_restart"),
        "faults": faults,
        "taps": run["taps"],
        "granted": run["granted"],
        "denied": run["denied"],
        "timeouts": run["timeouts"],
        "delivered_holds": len(witness.delivered),
        "requests": witness.requests,
        "repeated_publishes": witness.attempts - witness.requests,
        **counts,
        "holds_pending_at_end": pending_at_end,
        "holds_expired_by_hub": expired_by_hub,
        "holds_expired_after_run": expired_after,
        "undrained_reports": run["undrained_reports"],
        "hub_starts": run["hub_starts"],
        "hub_tracebacks": len(run["hub_errors"]),
        "hub_errors": sorted(set(run["hub_errors"]))[:PROBLEMS_SHOWN],
        "invariants": {name: "held" if not p else f"BROKEN ({len(p)})" for name, p in found.items()},
        "problems": {name: p[:PROBLEMS_SHOWN] for name, p in found.items() if p},
        "ok": not any(found.values()),
    }


def run_on(db: str, plan: Plan, work: Path) -> dict:
    """--db: 'sqlite' (a file in work), a postgresql:// admin URL (a scratch database, dropped
    afterwards), or any other database URL used as it is."""
    if db == "sqlite":
        return run_chaos(plan, f"sqlite:///{work / 'chaos.db'}", work)
    if db.startswith("postgresql"):
        from hil.bench_ledger import scratch_database

        with scratch_database(db) as url:
            return run_chaos(plan, url, work)
    return run_chaos(plan, db, work)


def for_table(summary: dict) -> dict:
    """The summary with one row per fault, invariant and problem, for the terminal."""
    rows = {k: v for k, v in summary.items() if k not in ("faults", "invariants", "problems")}
    for i, f in enumerate(summary["faults"], 1):
        rows[f"fault {i}"] = ", ".join(f"{k} {v}" for k, v in f.items())
    for name, verdict in summary["invariants"].items():
        rows[f"invariant {name}"] = verdict
    for name, found in summary["problems"].items():
        for j, problem in enumerate(found, 1):
            rows[f"{name} #{j}"] = problem
    return rows
