"""`tapgift bench-reports`: a season of taps seeded straight into the tables (bulk inserts, not the
REST API), then every report of hub.reports timed over one day and over the whole season, for
all outlets and for one.

The season: `days` days × `outlets` outlets × `machines` machines per outlet × `taps` taps per
machine and day (each a hold and two transfers: the hold and its posting), `baskets` baskets per
outlet and day (a basket, its sale transfer, its audit entry), `topups` top-ups per outlet and day
(a transfer and an audit entry), and an hour of health telemetry per machine and hour open.
Opening hours are 08:00-18:00 UTC. Balances are not kept (the accounts' sums are not what the
reports read): the database is for timing reports only.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from hub.core.engine import reader
from hub.ledger import create_account
from hub.loyalty import catalogue, outlets
from hub.migrations import open_database
from hub.reports import queries

SITE = "season-park"
# The season starts at the site's local midnight, so its days and months are whole local buckets.
START = dt.datetime(2026, 5, 1, tzinfo=ZoneInfo("Europe/Zurich")).astimezone(dt.UTC)


class Writer:
    """Bulk inserts on the DBAPI cursor (executemany), a chunk per statement."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.rows: dict[str, list[tuple]] = {}
        self.sql: dict[str, str] = {}
        self.count: dict[str, int] = {}

    def when(self, moment: dt.datetime):
        return moment if self.pg else moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    def add(self, table: str, columns: str, row: tuple) -> None:
        if table not in self.sql:
            marks = ",".join(["%s" if self.pg else "?"] * len(row))
            self.sql[table] = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        self.rows.setdefault(table, []).append(row)
        if len(self.rows[table]) >= 20_000:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.rows):
            rows = self.rows.pop(name, [])
            if not rows:
                continue
            with self.engine.begin() as conn:
                conn.connection.dbapi_connection.cursor().executemany(self.sql[name], rows)
            self.count[name] = self.count.get(name, 0) + len(rows)


def _setup(engine: Engine, n_outlets: int, machines: int, cards: int) -> dict:
    with engine.begin() as conn:
        outlets.create_site(conn, SITE, tz="Europe/Zurich")
        catalogue.create_group(conn, "rides")
        catalogue.create_article(conn, {"id": "ride", "product_group_id": "rides", "price": 300})
        made = {"outlets": [], "devices": [], "wallets": []}
        for o in range(n_outlets):
            outlet = outlets.create_outlet(conn, "CHF", f"o{o}", SITE)
            made["outlets"].append((outlet["id"], outlet["revenue_account_id"]))
            for m in range(machines):
                device = f"o{o}-m{m}"
                account = create_account(conn, "CHF", "machine", f"machine {device}", allow_negative=True)
                conn.execute(
                    text(
                        "INSERT INTO devices (id, site, name, kind, key_hex, unit_price, account_id, created_at) "
                        "VALUES (:id, :site, :id, 'dispenser', :key, 300, :acct, :at)"
                    ),
                    {"id": device, "site": SITE, "key": "00" * 32, "acct": account, "at": START},
                )
                conn.execute(
                    text(
                        "INSERT INTO device_loyalty (device_id, outlet_id, article_id, updated_at) "
                        "VALUES (:d, :o, 'ride', :at)"
                    ),
                    {"d": device, "o": outlet["id"], "at": START},
                )
                made["devices"].append((device, account, outlet["id"]))
        cash = create_account(conn, "CHF", "cash", "cash desk", allow_negative=True)
    writer = Writer(engine)
    first = _next_account_id(engine)
    for c in range(cards):
        writer.add(
            "accounts",
            "id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, "
            "debits_pending, credits_pending, created_at",
            (first + c, "CHF", "wallet", f"card BC{c:06d}", False, 0, 0, 0, 0, 0, writer.when(START)),
        )
        made["wallets"].append((f"BC{c:06d}", first + c))
    writer.flush()
    for uid, account in made["wallets"]:
        writer.add(
            "cards",
            "uid, account_id, status, label, medium, kind, holder_name, holder_email, created_at",
            (uid, account, "active", "", "rfid", "value", "", "", writer.when(START)),
        )
    writer.flush()
    made["cash"] = cash
    return made


def _next_account_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM accounts")).scalar())


def seed(
    engine: Engine,
    days: int,
    n_outlets: int,
    machines: int,
    taps: int,
    baskets: int,
    topups: int,
    cards: int = 20_000,
    seed_value: int = 7,
) -> dict:
    """The season, inserted; returns the rows per table."""
    rng = random.Random(seed_value)
    made = _setup(engine, n_outlets, machines, cards)
    w = Writer(engine)
    transfer_cols = "id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at"
    hold_cols = (
        "id, device_id, request_id, card_uid, wallet_account_id, machine_account_id, units, unit_price, amount, "
        "status, posted, expires_at, resolved_at"
    )
    audit_cols = "at, actor_kind, actor, role, source, action, method, path, outlet_id, target, request, after, transfers, amount"
    n = 0
    wallets = made["wallets"]
    for day in range(days):
        base = START + dt.timedelta(days=day, hours=8)
        for device, machine_account, _outlet in made["devices"]:
            for _ in range(taps):
                n += 1
                at = base + dt.timedelta(seconds=rng.randrange(36_000))
                uid, wallet = wallets[rng.randrange(len(wallets))]
                hold = uuid.uuid4().hex
                key = f"{device}/{n}"
                w.add(
                    "transfers",
                    transfer_cols,
                    (
                        hold,
                        key,
                        "CHF",
                        wallet,
                        machine_account,
                        300,
                        "pending",
                        None,
                        "tap_hold",
                        "",
                        w.when(at),
                    ),
                )
                done = at + dt.timedelta(seconds=20)
                w.add(
                    "transfers",
                    transfer_cols,
                    (
                        uuid.uuid4().hex,
                        key + "/post",
                        "CHF",
                        wallet,
                        machine_account,
                        300,
                        "post",
                        hold,
                        "tap_delivered",
                        "",
                        w.when(done),
                    ),
                )
                w.add(
                    "holds",
                    hold_cols,
                    (
                        hold,
                        device,
                        str(n),
                        uid,
                        wallet,
                        machine_account,
                        1,
                        300,
                        300,
                        "posted",
                        300,
                        w.when(at + dt.timedelta(minutes=10)),
                        w.when(done),
                    ),
                )
            for hour in range(10):
                at = base + dt.timedelta(hours=hour)
                w.add(
                    "device_health_hours",
                    "device_id, hour, samples, up_seconds, reboots, faults, reconnects, reader_resets, last_at",
                    (
                        device,
                        w.when(at),
                        60,
                        3600 - rng.randrange(2) * 600,
                        0,
                        0,
                        0,
                        0,
                        w.when(at + dt.timedelta(minutes=59)),
                    ),
                )
        for outlet, revenue in made["outlets"]:
            for b in range(baskets):
                n += 1
                at = base + dt.timedelta(seconds=rng.randrange(36_000))
                uid, wallet = wallets[rng.randrange(len(wallets))]
                amount = 100 * rng.randrange(3, 40)
                bid = uuid.uuid4().hex
                w.add(
                    "transfers",
                    transfer_cols,
                    (
                        uuid.uuid4().hex,
                        f"basket/{n}/pay",
                        "CHF",
                        wallet,
                        revenue,
                        amount,
                        "posted",
                        None,
                        "sale",
                        "",
                        w.when(at),
                    ),
                )
                req = '{"card_uid": "%s", "outlet_id": "%s", "counter_id": "%s-till-%d"}' % (
                    uid,
                    outlet,
                    outlet,
                    b % 3,
                )
                w.add(
                    "baskets",
                    "id, idempotency_key, card_uid, outlet_id, request, result, status, created_at",
                    (bid, f"basket/{n}", uid, outlet, req, '{"amount_due": %d}' % amount, "paid", w.when(at)),
                )
                w.add(
                    "audit_log",
                    audit_cols,
                    (
                        w.when(at),
                        "key",
                        f"till-{outlet}-{b % 3}",
                        "cashier",
                        "",
                        "pay",
                        "POST",
                        "/api/v1/baskets/pay",
                        outlet,
                        "{}",
                        req,
                        '{"amount_due": %d, "repeated": false}' % amount,
                        "[]",
                        0,
                    ),
                )
            for _ in range(topups):
                n += 1
                at = base + dt.timedelta(seconds=rng.randrange(36_000))
                uid, wallet = wallets[rng.randrange(len(wallets))]
                amount = 1000 * rng.randrange(1, 10)
                w.add(
                    "transfers",
                    transfer_cols,
                    (
                        uuid.uuid4().hex,
                        f"topup/{n}",
                        "CHF",
                        made["cash"],
                        wallet,
                        amount,
                        "posted",
                        None,
                        "topup",
                        "",
                        w.when(at),
                    ),
                )
                w.add(
                    "audit_log",
                    audit_cols,
                    (
                        w.when(at),
                        "key",
                        f"till-{outlet}-0",
                        "cashier",
                        "",
                        "top_up",
                        "POST",
                        f"/api/v1/cards/{uid}/topups",
                        outlet,
                        "{}",
                        '{"amount": %d}' % amount,
                        '{"bonus": 0, "repeated": false}',
                        "[]",
                        amount,
                    ),
                )
    w.flush()
    return w.count


def _month_after(moment: dt.datetime) -> dt.datetime:
    """The first local 1st of a month at or after `moment`: the season's months whole."""
    local = moment.astimezone(ZoneInfo("Europe/Zurich"))
    if local.day == 1 and local.time() == dt.time():
        return moment
    first = (local.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return dt.datetime.combine(first, dt.time(), tzinfo=ZoneInfo("Europe/Zurich")).astimezone(dt.UTC)


def time_reports(engine: Engine, days: int, outlet: str = "o0") -> list[dict]:
    """Every report over one day (by hour) and over the season (by day, by month), for all outlets
    and one: computed from the tables (`seconds`, keeping its closed buckets), then again
    (`again`: the kept buckets read, hub.reports.cache)."""
    day = START + dt.timedelta(days=days // 2)
    cases = [
        ("one day by hour", day, day + dt.timedelta(days=1), "hour"),
        ("the season by day", START, START + dt.timedelta(days=days), "day"),
        ("the season by month", START, _month_after(START + dt.timedelta(days=days)), "month"),
    ]
    out = []
    for name in queries.REPORTS:
        for label, start, end, by in cases:
            for where in (None, outlet):
                timed = []
                for _ in range(2):
                    with reader(engine).connect() as conn:
                        began = time.perf_counter()
                        result = queries.run(conn, name, start, end, by, where, keep=engine)
                        timed.append(round(time.perf_counter() - began, 3))
                out.append(
                    {
                        "report": name,
                        "period": label,
                        "outlet": where or "all",
                        "rows": len(result["rows"]),
                        "seconds": timed[0],
                        "again": timed[1],
                    }
                )
    return out


def run(
    db: str,
    days: int,
    n_outlets: int,
    machines: int,
    taps: int,
    baskets: int,
    topups: int,
    file: Path | None = None,
) -> dict:
    """db: 'sqlite' (a temp file, or `file`: seeded if it does not exist, else timed again as it
    is) or a postgresql:// admin URL (a scratch database)."""
    if db == "sqlite" and file is not None:
        seeded = file.exists()
        return _run(f"sqlite:///{file}", days, n_outlets, machines, taps, baskets, topups, seed_it=not seeded)
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tapgift-bench-reports-") as work:
            return _run(
                f"sqlite:///{Path(work) / 'season.db'}", days, n_outlets, machines, taps, baskets, topups
            )
    from hil.bench_ledger import scratch_database

    with scratch_database(db) as url:
        return _run(url, days, n_outlets, machines, taps, baskets, topups)


def _run(url: str, days, n_outlets, machines, taps, baskets, topups, seed_it: bool = True) -> dict:
    engine = open_database(url)
    try:
        began = time.perf_counter()
        counts = seed(engine, days, n_outlets, machines, taps, baskets, topups) if seed_it else {}
        seeded = time.perf_counter() - began
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))  # as autovacuum would after a load
        return {
            "db": engine.dialect.name,
            "rows": counts or _counts(engine),
            "seed_seconds": round(seeded, 1),
            "reports": time_reports(engine, days),
        }
    finally:
        engine.dispose()


def _counts(engine: Engine) -> dict:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()
            for t in ("transfers", "holds", "audit_log", "baskets", "device_health_hours")
        }


def for_table(summary: dict) -> dict:
    """The summary as lines a person reads: one per report, period and outlet."""
    lines = {
        "db": summary["db"],
        "seeded": f"{summary['seed_seconds']} s",
        **{f"rows {k}": v for k, v in summary["rows"].items()},
    }
    for r in summary["reports"]:
        lines[f"{r['report']}, {r['period']}, {r['outlet']}"] = (
            f"{r['seconds'] * 1000:.0f} ms, again {r['again'] * 1000:.0f} ms ({r['rows']} rows)"
        )
    return lines
