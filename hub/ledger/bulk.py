"""A batch's rows in one statement on PostgreSQL.

On PostgreSQL the booking path writes each table of a batch with one statement over arrays
(`INSERT … SELECT * FROM unnest(…)`, `UPDATE … FROM unnest(…)`): one execution on the server
for the whole batch instead of one per row, which is most of what the server spends on a
batch (`tapgift bench-ledger`). SQLite runs in the hub's process and has no such cost per
statement: there the rows go through executemany as before.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from hub.core.raw import Raw

_PG = postgresql.dialect()


def _array(table: Table, column: str) -> str:
    # %b: psycopg sends the array in binary, several times cheaper to make than its text form
    return "%b::" + table.c[column].type.compile(dialect=_PG) + "[]"


@cache
def _insert(table: Table, columns: tuple[str, ...], pg: bool) -> str:
    if not pg:
        return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({Raw.marks(len(columns))})"
    arrays = ", ".join(_array(table, c) for c in columns)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


def insert(raw: Raw, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert rows (tuples in the order of `columns`)."""
    if not rows:
        return
    sql = _insert(table, columns, raw.pg)
    raw.many(sql, [tuple(map(list, zip(*rows, strict=True)))] if raw.pg else rows)


@cache
def _update(table: Table, key: str, columns: tuple[str, ...], add: bool, pg: bool) -> str:
    if add:
        sets = [f"{c} = {table.name}.{c} + {'d.' + c if pg else '?'}" for c in columns]
    else:
        sets = [f"{c} = {'d.' + c if pg else '?'}" for c in columns]
    if not pg:
        return f"UPDATE {table.name} SET {', '.join(sets)} WHERE {key} = ?"
    names = ", ".join((*columns, key))
    arrays = ", ".join(_array(table, c) for c in (*columns, key))
    return (
        f"UPDATE {table.name} SET {', '.join(sets)} FROM unnest({arrays}) AS d({names}) "
        f"WHERE {table.name}.{key} = d.{key}"
    )


def update(
    raw: Raw, table: Table, key: str, columns: tuple[str, ...], rows: list[tuple], add: bool = False
) -> None:
    """Set (add=True: add to) `columns` of the rows whose `key` is given: each row a tuple of
    the columns' values, then the key. On PostgreSQL the caller has locked the rows already
    (in the order every transaction takes them): one statement updates them in no set order."""
    if not rows:
        return
    sql = _update(table, key, columns, add, raw.pg)
    raw.many(sql, [tuple(map(list, zip(*rows, strict=True)))] if raw.pg else rows)
