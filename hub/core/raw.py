"""Driver-level SQL for the booking path."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime

from sqlalchemy import Connection


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

    def run(self, text: str, params=()) -> None:
        """A statement whose rows nobody reads (a lock taken): in a pipeline it is not waited for."""
        self._cur.execute(self._sql(text), params)

    def pipeline(self) -> AbstractContextManager:
        """PostgreSQL: statements inside go out without waiting for each one's answer, and the
        first error is raised at the block's end at the latest; a read inside waits for what was
        sent before it. A batch's writes cost one round trip instead of one each. SQLite runs
        in the process: nothing to save."""
        return self._cur.connection.pipeline() if self.pg else nullcontext()

    def many(self, text: str, rows: list[tuple]) -> None:
        if len(rows) == 1:  # psycopg's executemany enters a pipeline of its own, for one row too
            self._cur.execute(self._sql(text), rows[0])
        elif rows:
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
            [v for key in keys for v in key],
        )

    @staticmethod
    def marks(n: int) -> str:
        return ",".join("?" * n)

    def when(self, moment: datetime):
        """A UTC time as the column stores it (SQLite: SQLAlchemy's text format)."""
        if self.pg:
            return moment
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        # isoformat is C code a few times cheaper than strftime; a batch calls this per row.
        return moment.replace(tzinfo=None).isoformat(" ", "microseconds")

    def lock(self) -> str:
        """Row locks where the database has them (SQLite's BEGIN IMMEDIATE locks it all)."""
        return " FOR UPDATE" if self.pg else ""
