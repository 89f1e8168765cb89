"""What every basket needs and an operator rarely changes, read once per database connection pool
rather than on every basket: the outlets (time zone, revenue account, holidays), the counters,
the articles, the bonus rules and settings as a built rule book, and the "points issued" account.

When it is read again:
  * a change made in this process is seen at once: every INSERT, UPDATE or DELETE that SQLAlchemy
    runs on one of the cached tables marks the cache stale, at the statement and again when its
    connection goes back to the pool (after the commit or rollback: a basket that read the old
    rows between the statement and the commit does not keep them);
  * a change made by another hub process on the same PostgreSQL is seen within VERSION_CHECK_S:
    at most that often the cache compares each cached table's row count and the sum of its row
    versions (xmin, renewed by every insert and update) with what it was built from — the check
    hub.taps.device_loyalty makes for the machines;
  * whatever happens, after TTL seconds.
On SQLite one hub process serves a database file, so the first two suffice.

A change written with raw SQL (not through SQLAlchemy) in this process is seen within
VERSION_CHECK_S on PostgreSQL, within TTL on SQLite.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.pool import Pool

from hub.core.errors import Conflict, NotFound
from hub.ledger import ACCOUNTS
from hub.loyalty import point_rules as br
from hub.tables.catalogue import Article
from hub.tables.loyalty import BonusRule, BonusRuleTarget, BonusSettingsRow
from hub.tables.outlets import Counter, Holiday, Outlet, Site

TTL = 30.0
VERSION_CHECK_S = 0.5

TABLES = tuple(
    t.__table__
    for t in (Site, Outlet, Holiday, Counter, Article, BonusRule, BonusRuleTarget, BonusSettingsRow)
)
_NAMES = frozenset(t.name for t in TABLES)
_DIRTY = "tapgift.loyalty_cache_dirty"


@dataclass(frozen=True)
class Static:
    outlets: dict[str, dict]  # id -> outlet, as hub.loyalty.outlets.get_outlet reads it
    holidays: dict[str, frozenset]  # outlet id -> its holidays
    counters: dict[str, dict]
    articles: dict[str, dict]
    rules: br.RuleBook
    settings: dict  # hub.loyalty.points.get_settings
    points_issued: int | None  # the PTS account points come from, once it exists

    def outlet(self, outlet_id: str) -> dict:
        found = self.outlets.get(outlet_id)
        if found is None:
            raise NotFound(f"no outlet {outlet_id}")
        return found

    def articles_by_id(self, ids) -> dict[str, dict]:
        wanted = set(ids)
        missing = sorted(wanted - self.articles.keys())
        if missing:
            raise NotFound(f"no article {', '.join(missing)}")
        return {i: self.articles[i] for i in wanted}

    def check_counter(self, counter_id: str | None, outlet_id: str) -> None:
        """As hub.loyalty.outlets.check_counter."""
        if counter_id is None:
            return
        counter = self.counters.get(counter_id)
        if counter is None:
            raise NotFound(f"no counter {counter_id}")
        if counter["outlet_id"] != outlet_id:
            raise Conflict(f"counter {counter_id} belongs to outlet {counter['outlet_id']}, not {outlet_id}")
        if not counter["active"]:
            raise Conflict(f"counter {counter_id} is switched off")


# -- staleness --------------------------------------------------------------------------------------

_generation = 0
_lock = threading.Lock()


def _bump() -> None:
    global _generation
    with _lock:
        _generation += 1


def forget() -> None:
    """Drop what is cached, for every database (a change made outside SQLAlchemy)."""
    _bump()


def changed(conn: Connection) -> None:
    """Drop what is cached now and again when conn's transaction is over: for a change the
    statements on the cached tables do not show (the points issued account made)."""
    conn.info[_DIRTY] = True
    _bump()


@event.listens_for(Engine, "after_execute")
def _written(conn, clause, *_args) -> None:
    table = getattr(clause, "table", None) if getattr(clause, "is_dml", False) else None
    if table is not None and table.name in _NAMES:
        conn.info[_DIRTY] = True
        _bump()


@event.listens_for(Pool, "checkin")
def _returned(_dbapi_conn, record) -> None:
    if record is not None and record.info.pop(_DIRTY, False):
        _bump()


def _version(conn: Connection) -> str | None:
    if conn.dialect.name != "postgresql":
        return None
    parts = ", ".join(
        f"(SELECT count(*) || '.' || coalesce(sum(xmin::text::bigint), 0) FROM {t.name})" for t in TABLES
    )
    return conn.exec_driver_sql(f"SELECT concat_ws(',', {parts})").scalar()


@dataclass
class _Entry:
    static: Static
    generation: int
    version: str | None
    loaded_at: float
    checked_at: float


# per connection pool (one per engine: each hub process has its own, as two engines in a test)
_cache: weakref.WeakKeyDictionary[Pool, _Entry] = weakref.WeakKeyDictionary()


def static(conn: Connection) -> Static:
    pool, now = conn.engine.pool, time.monotonic()
    entry = _cache.get(pool)
    if entry is not None and entry.generation == _generation and now - entry.loaded_at < TTL:
        if entry.version is None or now - entry.checked_at < VERSION_CHECK_S:
            return entry.static
        if _version(conn) == entry.version:
            entry.checked_at = now
            return entry.static
    generation = _generation  # read before the tables: a change during the load makes it stale
    version = _version(conn)
    loaded = _load(conn)
    with _lock:
        _cache[pool] = _Entry(loaded, generation, version, now, now)
    return loaded


def _load(conn: Connection) -> Static:
    from hub.loyalty import outlets, points

    rules, settings = points.rule_book(conn)
    issued = conn.execute(
        select(ACCOUNTS.c.id).where(
            ACCOUNTS.c.ledger == points.LEDGER, ACCOUNTS.c.kind == "points", ACCOUNTS.c.name == points.ISSUED
        )
    ).scalar()
    return Static(
        outlets={o["id"]: o for o in outlets.list_outlets(conn)},
        holidays=outlets.all_holidays(conn),
        counters={c["id"]: c for c in outlets.all_counters(conn)},
        articles={r["id"]: dict(r) for r in conn.execute(select(Article.__table__)).mappings()},
        rules=rules,
        settings=settings,
        points_issued=issued,
    )
