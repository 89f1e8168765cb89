"""`tapgift bench ledger`: authorised debits per second through the hub's
booking path alone (no MQTT), side by side with pgbench's TPC-B on the same
PostgreSQL server in the same run (DESIGN: the ratio should reach 1.0).

A debit here is what a tap costs the database: the tap's batch (hold,
stored answer) and its delivery report's batch (post, stored answer), each
batch one transaction, as the bridge forms them under load.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

from hub.devices.registry import DeviceDirectory, add_device
from hub.migrations import open_database
from hub.taps.authorize import Authorizer, Incoming
from hub.wallets import cards as wallets
from hub.wallets.cash_desk import top_up
from protocol import topics

SITE = "bench-park"


@contextmanager
def scratch_database(admin_url: str):
    """A new PostgreSQL database for the run, dropped afterwards; yields its URL."""
    import psycopg

    name = "tapgift_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _provision(engine, devices: int, cards: int, prefix: str = "") -> tuple[list, list[str]]:
    with engine.begin() as conn:
        for i in range(devices):
            add_device(conn, f"bd-{prefix}{i}", SITE, 100, "CHF")
        uids = []
        for i in range(cards):
            uid = f"BC{prefix}{i:06d}"
            wallets.issue_card(conn, "CHF", uid)
            top_up(conn, uid, 10_000_000, f"bench/{uid}")
            uids.append(uid)
    directory = DeviceDirectory(engine)
    return [directory.get(SITE, f"bd-{prefix}{i}") for i in range(devices)], uids


def debits_per_second(
    url: str, seconds: float, batch: int, devices: int = 200, cards: int = 2000, bookers: int = 1
) -> dict:
    """Run tap batches and their report batches for `seconds`; count posted debits. With
    bookers > 1, that many processes book at once (as several hubs do), each with devices and
    cards of its own, over the same stretch of time."""
    if bookers == 1:
        return _book(url, seconds, batch, devices, cards)
    import multiprocessing

    # Schema first (migrations), once: the processes then only provision their own rows.
    open_database(url).dispose()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(bookers) as pool:
        start = manager.Barrier(bookers)  # all provisioned: the clocks start together
        args = [
            (url, seconds, batch, devices // bookers, cards // bookers, f"{n}x", start)
            for n in range(bookers)
        ]
        parts = pool.starmap(_book, args)
    debits = sum(p["debits"] for p in parts)
    return {
        "debits_per_s": round(sum(p["debits_per_s"] for p in parts), 1),
        "debits": debits,
        "transactions": sum(p["transactions"] for p in parts),
        "batch": batch,
        "bookers": bookers,
    }


def _book(
    url: str, seconds: float, batch: int, devices: int, cards: int, prefix: str = "", start=None
) -> dict:
    engine = open_database(url)
    try:
        infos, uids = _provision(engine, devices, cards, prefix)
        if start is not None:
            start.wait()
        authorizer = Authorizer(engine, keep_connection=True)  # as the hub books
        seq = {info.id: 0 for info in infos}
        rng = random.Random(7)
        posted = batches = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            taps = []
            for _ in range(batch):
                info = rng.choice(infos)
                seq[info.id] += 1
                taps.append(
                    Incoming(
                        info, topics.TAP, {"id": f"1-{seq[info.id]}", "card": rng.choice(uids), "units": 1}
                    )
                )
            grants = [_json(r) for r in authorizer.process(taps)]
            reports = []
            for tap, grant in zip(taps, grants, strict=True):
                seq[tap.device.id] += 1
                reports.append(
                    Incoming(
                        tap.device,
                        topics.REPORT,
                        {"id": f"1-{seq[tap.device.id]}", "hold": grant["hold"], "delivered": 1},
                    )
                )
            posted += sum(1 for r in authorizer.process(reports) if _json(r)["posted"])
            batches += 2
        elapsed = time.perf_counter() - start
    finally:
        engine.dispose()
    return {
        "debits_per_s": round(posted / elapsed, 1),
        "debits": posted,
        "transactions": batches,
        "batch": batch,
        "bookers": 1,
    }


def _json(reply: bytes) -> dict:
    import json

    return json.loads(reply)


def pgbench_tps(url: str, seconds: int, clients: int = 8, scale: int = 10) -> float | None:
    """pgbench's tpcb-like tps on the database at url; None when pgbench is missing."""
    if shutil.which("pgbench") is None:
        return None
    parts = urlsplit(url)
    conn_args = [
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
        parts.path.lstrip("/"),
    ]
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), *conn_args], check=True, capture_output=True)
    out = subprocess.run(
        ["pgbench", "-b", "tpcb-like", "-c", str(clients), "-j", "2", "-T", str(seconds), *conn_args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    return round(float(found.group(1)), 1) if found else None


def run(
    admin_url: str, seconds: float, batch: int, cards: int = 2000, scale: int = 10, bookers: int = 1
) -> dict:
    with scratch_database(admin_url) as url:
        ours = debits_per_second(url, seconds, batch, cards=cards, bookers=bookers)
    with scratch_database(admin_url) as url:
        tps = pgbench_tps(url, int(seconds), scale=scale)
    ratio = round(ours["debits_per_s"] / tps, 2) if tps else None
    return {**ours, "db": "postgresql", "pgbench_tpcb_tps": tps, "ratio_to_pgbench": ratio}
