"""`tapgift bench-settlement`: how long the coalition's settlement (hub.settlement) takes over a
day of card money, and over the next day once the first is closed.

Each card is topped up at one of the outlets (the outlet recorded as at a till) and spends at
random outlets in `spends` baskets, booked through the ledger's Book (not the REST API): a day is
cards × (spends + 1) transfers. Timed: the statement of the first day, closing it, the statement of
the empty moment after it, and the statement of a second day of a tenth as many cards (which
replays only the second day's wallets, not the first day)."""

from __future__ import annotations

import random
import tempfile
import time
from contextlib import contextmanager

from hil.bench_ledger import scratch_database
from hub import settlement
from hub.core.clock import utcnow
from hub.ledger import Book
from hub.loyalty import outlets
from hub.migrations import open_database
from hub.wallets import cards as card_service
from hub.wallets.cash_desk import top_up

LEDGER = "CHF"


@contextmanager
def _database(db: str):
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tapgift-bench-") as work:
            yield f"sqlite:///{work}/bench.db"
    else:
        with scratch_database(db) as url:
            yield url


def _day(engine, first: int, count: int, spends: int, revenue: list[int], rnd: random.Random) -> None:
    with engine.begin() as conn:
        for c in range(first, first + count):
            uid = f"{c:08X}"
            card_service.issue_card(conn, LEDGER, uid)
            top_up(conn, uid, 100_000, f"bench/top/{c}")
            settlement.record_cash(conn, f"bench/top/{c}", f"o{rnd.randrange(len(revenue))}")
            wallet = card_service.get_card(conn, uid).account_id
            book = Book(conn)
            for s in range(spends):
                book.transfer(
                    wallet, rnd.choice(revenue), rnd.randrange(100, 1000), "sale", "bench", f"bench/{c}/{s}"
                )
            book.flush()


def _timed(fn, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args)
    return round(time.perf_counter() - started, 3), result


def run(db: str, cards: int, spends: int, n_outlets: int) -> dict:
    rnd = random.Random(1)
    with _database(db) as url:
        engine = open_database(url)
        try:
            with engine.begin() as conn:
                outlets.create_site(conn, "park")
                revenue = [
                    outlets.create_outlet(conn, LEDGER, f"o{i}", "park")["revenue_account_id"]
                    for i in range(n_outlets)
                ]
            start = utcnow()
            seeded, _ = _timed(_day, engine, 0, cards, spends, revenue, rnd)
            end = utcnow()
            with engine.connect() as conn:
                report_s, statement = _timed(settlement.report, conn, LEDGER, start, end)
            with engine.begin() as conn:
                close_s, _ = _timed(settlement.close, conn, LEDGER, start, end, utcnow(), "bench")
            with engine.connect() as conn:
                after_s, _ = _timed(settlement.report, conn, LEDGER, end, utcnow())
            second = utcnow()
            _day(engine, cards, max(1, cards // 10), spends, revenue, rnd)
            with engine.connect() as conn:
                day2_s, _ = _timed(settlement.report, conn, LEDGER, second, utcnow())
        finally:
            engine.dispose()
    transfers = cards * (spends + 1)
    return {
        "db": engine.dialect.name,
        "transfers_day1": transfers,
        "transfers_day2": max(1, cards // 10) * (spends + 1),
        "seed_seconds": seeded,
        "statement_day1_seconds": report_s,
        "transfers_per_second": round(transfers / report_s) if report_s else None,
        "close_day1_seconds": close_s,
        "statement_after_close_seconds": after_s,
        "statement_day2_seconds": day2_s,
        "payments_day1": len(statement["payments"]),
    }
