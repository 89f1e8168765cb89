"""Database engines: SQLite (WAL, synchronous=FULL, one writer) or PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlmodel import SQLModel

from hub import models, promotions, loyalty_tables, gift_tables, card_tables, machine_tables, sun, offline, kiosk  # noqa: F401  (registers the tables)


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if "://" not in url:  # a plain file path
        return f"sqlite:///{url}"
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, create: bool = True) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url)
    else:
        engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    if create:
        SQLModel.metadata.create_all(engine)
    return engine


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE itself: a batch
        # takes the write lock up front instead of failing to upgrade later.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        readonly = conn.get_execution_options().get("readonly")
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite it does not take the write lock."""
    return engine.execution_options(readonly=True)


class Raw:
    """Driver-level statements on the DBAPI connection under a SQLAlchemy
    connection, inside its transaction. The booking path runs a fixed handful
    of statements per batch; skipping SQLAlchemy's per-statement machinery
    there halves the hub's CPU per tap. SQL is written with "?" markers."""

    def __init__(self, conn: Connection):
        self.pg = conn.dialect.name == "postgresql"
        self._cur = conn.connection.dbapi_connection.cursor()

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.pg else text

    def rows(self, text: str, params=()) -> list[tuple]:
        self._cur.execute(self._sql(text), params)
        return self._cur.fetchall()

    def many(self, text: str, rows: list[tuple]) -> None:
        if rows:
            self._cur.executemany(self._sql(text), rows)

    def by_device(self, table: str, id_column: str, columns: str, keys) -> list[tuple]:
        """(device_id, id, *columns) of the rows of `table` whose (device_id, id_column) is
        one of `keys`. A join with the pairs walks the unique index once per pair on both
        databases; two IN lists would match every stored pair of those devices and ids, and
        ids repeat across devices, so that would grow with the history."""
        keys = list(keys)
        if not keys:
            return []
        pairs = ",".join(["(?,?)"] * len(keys))
        return self.rows(
            f"WITH k(d, i) AS (VALUES {pairs}) SELECT t.device_id, t.{id_column}, {columns} "
            f"FROM k JOIN {table} t ON t.device_id = k.d AND t.{id_column} = k.i",
            [v for key in keys for v in key])

    @staticmethod
    def marks(n: int) -> str:
        return ",".join("?" * n)

    def when(self, moment: datetime):
        """A UTC time as the column stores it (SQLite: SQLAlchemy's text format)."""
        if self.pg:
            return moment
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")

    def lock(self) -> str:
        """Row locks where the database has them (SQLite's BEGIN IMMEDIATE locks it all)."""
        return " FOR UPDATE" if self.pg else ""
