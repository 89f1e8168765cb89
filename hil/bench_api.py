"""`tapgift bench-api`: the REST path of the cash registers, measured.

Tills pay baskets through real hub processes' REST API, 1 and then 8 of them at once, each as
fast as the hub answers. Three kinds of request, one round per kind and number of tills:
  * "1 article": a basket of one article (the card's discount where it has one, points earned);
  * "3 articles": three articles, the discount, points earned;
  * "top-up": a card topped up at the till.
Every till is what a real one is: its own counter at the bar and its own cashier key bound to
that outlet (`headers()` says how a till identifies itself). Per round: requests answered per
second, p50/p99 of a request as the till saw it, failed requests, and the CPU per request of
the hub processes, of PostgreSQL (the backends serving the run's database) and of this load
generator. Per kind: the database round trips of one request (statements, BEGIN/COMMIT and pool
pings, counted in a hub app built in this process on the same database).

With `hubs` > 1 the tills are spread round-robin over that many hub processes on the one
database (docs/deployment.md: every hub serves the REST API).

The load generator speaks HTTP/1.1 on keep-alive sockets itself: an HTTP client library costs
more CPU per request than the hub path it measures on this two-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from hil.bench import Hubs, _cpu, _round, cpu_seconds, prepare
from hil.broker import Broker
from hil.fleet import percentile
from hil.fleet_setup import Fleetplan, provision_loyalty

KINDS = {"1 article": ("cola",), "3 articles": ("cola", "snack", "water"), "top-up": None}
TOPUP = 100  # minor units: a cashier key's daily ceiling allows many of them


def headers(api_key: str) -> dict[str, str]:
    """What a till sends with every request: its credentials (an API key today)."""
    return {"X-API-Key": api_key}


# -- setting up the bar and its tills ------------------------------------------------------------


async def _setup(api_url: str, plan: Fleetplan, api_key: str, tills: int) -> tuple[str, list[dict]]:
    """The outlet, its three articles, a points rule for tills, and per till a counter and a
    cashier key bound to the outlet; returns the outlet id and the tills."""
    await provision_loyalty(api_url, plan, api_key)
    bar = f"{plan.prefix}-bar"
    async with httpx.AsyncClient(base_url=api_url + "/api/v1", headers=headers(api_key), timeout=30) as http:

        async def post(path: str, body: dict) -> dict:
            r = await http.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            r.raise_for_status()
            return r.json()

        for article, price in (("snack", 400), ("water", 300)):
            await post(
                "/articles",
                {
                    "id": f"{plan.prefix}-{article}",
                    "price": price,
                    "product_group_id": f"{plan.prefix}-drinks",
                },
            )
        rule = {
            "name": "till: 1 per 1.00",
            "kind": "basket_value",
            "stores": [bar],
            "channels_in": ["till"],
            "amount_per_point": 100,
        }
        await post("/bonus-rules", rule)
        out = []
        for i in range(tills):
            counter = f"{plan.prefix}-till-{i + 1}"
            await post(f"/outlets/{bar}/counters", {"id": counter, "kind": "till"})
            key = await post(
                "/api-keys",
                {"name": counter, "role": "cashier", "outlet_id": bar, "rate_per_minute": 100_000},
            )
            out.append({"counter": counter, "key": key["key"]})
    return bar, out


def _request(kind: str, plan: Fleetplan, bar: str, till: dict, card: str) -> tuple[str, dict]:
    if KINDS[kind] is None:
        return f"/api/v1/cards/{card}/topups", {"amount": TOPUP, "reason": "bench"}
    lines = [{"article_id": f"{plan.prefix}-{a}", "quantity": 1} for a in KINDS[kind]]
    return "/api/v1/baskets/pay", {
        "card_uid": card,
        "outlet_id": bar,
        "counter_id": till["counter"],
        "lines": lines,
    }


# -- a lean HTTP/1.1 client ----------------------------------------------------------------------


class _Connection:
    """One keep-alive connection of a till: POST a JSON body, read the status and the body."""

    def __init__(self, host: str, port: int, api_key: str):
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nX-API-Key: {api_key}\r\nContent-Type: application/json\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = json.dumps(body).encode()
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\n{self.head}Idempotency-Key: {uuid.uuid4().hex}\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _till(conn: _Connection, make, cards: list[str], until: float, rng, out: dict) -> None:
    while time.perf_counter() < until:
        path, body = make(rng.choice(cards))
        start = time.perf_counter()
        try:
            ok = await conn.post(path, body) == 201
        except (OSError, asyncio.IncompleteReadError, ValueError):
            conn.close()
            ok = False
        out["latencies"].append((time.perf_counter() - start) * 1000)
        out["paid" if ok else "failed"] += 1


def _profile(pid: int, seconds: float, name: str) -> subprocess.Popen | None:
    """With TAPGIFT_BENCH_PYSPY=/path/to/py-spy: sample the (first) hub while a round runs,
    collapsed stacks per thread into the folder TAPGIFT_BENCH_PROFILE (default: the current
    one), a file per round: hub-<kind>-<tills>.txt."""
    spy = os.environ.get("TAPGIFT_BENCH_PYSPY")
    if not spy:
        return None
    out = Path(os.environ.get("TAPGIFT_BENCH_PROFILE") or ".") / f"hub-{name}.txt"
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds) - 1))]
    cmd += ["--rate", "250", "--format", "raw", "--threads", "--gil", "--nonblocking", "-o", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- PostgreSQL's CPU ------------------------------------------------------------------------------


def _pg_backends(db_url: str) -> list[int]:
    """The server processes serving the run's database (none on SQLite)."""
    if not db_url.startswith("postgresql"):
        return []
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def _pg_cpu(pids: list[int]) -> dict[int, float]:
    return {p: s for p in pids if (s := cpu_seconds(p)) is not None}


# -- one round -------------------------------------------------------------------------------------


async def _round_of(kind, hubs, plan, bar, tills, cards, n, seconds, db_url) -> dict:
    out = {"paid": 0, "failed": 0, "latencies": []}
    conns, makers = [], []
    for i in range(n):
        host, port = hubs.api_url(i % hubs.n).removeprefix("http://").split(":")
        conns.append(_Connection(host, int(port), tills[i]["key"]))
        makers.append(lambda card, t=tills[i]: _request(kind, plan, bar, t, card))
    # one request per till first, so connections and pools are open before the clock starts
    await asyncio.gather(*(conns[i].post(*makers[i](cards[i])) for i in range(n)))
    spy = _profile(hubs.pids[0], seconds, f"{kind.replace(' ', '-')}-{n}")
    pg0 = _pg_cpu(_pg_backends(db_url))
    hub0, me0, start = _cpu(hubs.pids), cpu_seconds(os.getpid()), time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(_till(conns[i], makers[i], cards, until, random.Random(i), out) for i in range(n)))
    elapsed, hub1, me1 = time.perf_counter() - start, _cpu(hubs.pids), cpu_seconds(os.getpid())
    pg1 = _pg_cpu(_pg_backends(db_url))
    for c in conns:
        c.close()
    if spy is not None:
        spy.wait()
    paid = out["paid"]

    def per(before, after):
        return round((after - before) * 1000 / paid, 3) if paid and None not in (before, after) else None

    pg = sum(s - pg0.get(p, 0.0) for p, s in pg1.items()) if pg1 else None
    return {
        "kind": kind,
        "tills": n,
        "hubs": hubs.n,
        "per_s": round(paid / elapsed, 1),
        "p50_ms": _round(percentile(out["latencies"], 0.50)),
        "p99_ms": _round(percentile(out["latencies"], 0.99)),
        "paid": paid,
        "failed": out["failed"],
        "hub_cpu_ms": per(hub0, hub1),
        "pg_cpu_ms": per(0.0, pg) if pg is not None else None,
        "generator_cpu_ms": per(me0, me1),
    }


# -- round trips per request -------------------------------------------------------------------------


def round_trips(db_url: str, plan: Fleetplan, bar: str, till: dict, cards: list[str], n: int = 20) -> dict:
    """Database round trips of one request of each kind, in a hub app built here on the same
    database: every statement the driver sends (the booking path's own ones too), BEGIN and
    COMMIT/ROLLBACK, and the pool's pings. PostgreSQL only (None on SQLite)."""
    if not db_url.startswith("postgresql"):
        return dict.fromkeys(KINDS)
    import psycopg
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from hub.api.app import create_app
    from hub.core.engine import make_engine

    count = [0]

    class Cursor(psycopg.Cursor):
        def execute(self, *a, **k):
            count[0] += 1
            return super().execute(*a, **k)

        def executemany(self, *a, **k):  # one pipeline: one round trip
            count[0] += 1
            return super().executemany(*a, **k)

    class Connection(psycopg.Connection):
        __slots__ = ()

        def _exec_command(self, *a, **k):  # BEGIN, COMMIT, ROLLBACK
            count[0] += 1
            return super()._exec_command(*a, **k)

    engine = make_engine(db_url)

    @event.listens_for(engine, "connect")
    def _counting(dbapi_conn, _record):
        dbapi_conn.__class__ = Connection
        dbapi_conn.cursor_factory = Cursor

    out = {}
    try:
        with TestClient(create_app(engine)) as client:
            client.headers.update(headers(till["key"]))
            for kind in KINDS:
                for i in range(2 * n):  # the first n warm the caches and the cards' accounts
                    if i == n:
                        count[0] = 0
                    path, body = _request(kind, plan, bar, till, cards[i % n])
                    r = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
                    r.raise_for_status()
                out[kind] = round(count[0] / n, 1)
    finally:
        engine.dispose()
    return out


# -- the run -----------------------------------------------------------------------------------------


def run(
    db: str,
    seconds: float,
    tills: list[int],
    cards: int = 2000,
    kinds: list[str] | None = None,
    hubs: list[int] | None = None,
) -> dict:
    """db: 'sqlite' (a file of the run) or a postgresql:// admin URL (a scratch database)."""
    if db.startswith("postgresql"):
        from hil.bench_ledger import scratch_database

        with scratch_database(db) as url:
            return _run(url, seconds, tills, cards, kinds, hubs)
    return _run(db, seconds, tills, cards, kinds, hubs)


def _run(db: str, seconds: float, tills: list[int], cards: int, kinds, hub_counts) -> dict:
    kinds = list(kinds or KINDS)
    unknown = set(kinds) - KINDS.keys()
    if unknown:
        raise ValueError(f"unknown kind {', '.join(sorted(unknown))}: one of {', '.join(KINDS)}")
    work = Path(tempfile.mkdtemp(prefix="tapgift-bench-api-"))
    db_url = f"sqlite:///{work / 'bench.db'}" if db == "sqlite" else db
    plan = Fleetplan(devices=1, cards=cards, balance=100_000_000, site="till-park")
    _devices, uids, api_key = prepare(db_url, plan)
    rounds, trips, bar, till_list = [], {}, None, None
    with Broker(workdir=work) as broker:
        for n_hubs in hub_counts or [1]:
            with Hubs(n_hubs, db_url, broker, work) as hubs:
                if bar is None:
                    bar, till_list = asyncio.run(_setup(hubs.api_url(), plan, api_key, max(tills)))
                for kind in kinds:
                    for n in tills:
                        rounds.append(
                            asyncio.run(_round_of(kind, hubs, plan, bar, till_list, uids, n, seconds, db_url))
                        )
    trips = round_trips(db_url, plan, bar, till_list[0], uids)
    return {
        "rounds": rounds,
        "round_trips": trips,
        "tills_are": "a counter each and a cashier key bound to the bar",
        "basket": "1 or 3 articles, 10 % discount on every other card, points earned",
        "db": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # other work on the machine
    }


def for_table(summary: dict) -> dict:
    """One line per round, for the terminal."""
    out = {}
    for r in summary["rounds"]:
        name = f"{r['kind']}, {r['tills']} till{'s' if r['tills'] > 1 else ''}"
        if r["hubs"] > 1:
            name += f", {r['hubs']} hubs"
        out[name] = (
            f"{r['per_s']}/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  failed {r['failed']}  "
            f"CPU ms per request: hub {r['hub_cpu_ms']}  PostgreSQL {r['pg_cpu_ms']}  "
            f"generator {r['generator_cpu_ms']}"
        )
    out["round trips per request"] = summary["round_trips"]
    return {**out, **{k: v for k, v in summary.items() if k not in ("rounds", "round_trips")}}
