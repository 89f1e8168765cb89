"""Periods: any [from, to) can be reported; a closed one is frozen.

A transfer counts in a period by its booking time — unless that falls in a closed period it is
not part of (booked after the close: a refund, a late offline vend, a booking that committed
while the close ran): then it counts at the end of that closed period, or of the run of closed
periods that follows it without a gap — the next open period, as a correction. The transfers of
a closed period are recorded at its close with the time they counted at, so its figures never
change and every later report replays them in the same order."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from hub.core.errors import Invalid
from hub.tables.settlement import PeriodTransfer, SettlementPeriod

PERIODS = SettlementPeriod.__table__
MEMBERS = PeriodTransfer.__table__

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def check_range(since: dt.datetime, until: dt.datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise Invalid("from and to need a time zone")
    if not EARLIEST <= since < until <= LATEST:
        raise Invalid(f"a period runs from a time before its end, both within {EARLIEST:%Y}–{LATEST:%Y}")


def closed(conn: Connection, ledger: str) -> list[dict]:
    """The ledger's closed periods, earliest first."""
    query = select(PERIODS.c.id, PERIODS.c.starts_at, PERIODS.c.ends_at).where(PERIODS.c.ledger == ledger)
    return [dict(r) for r in conn.execute(query.order_by(PERIODS.c.starts_at)).mappings()]


def overlapping(conn: Connection, ledger: str, since: dt.datetime, until: dt.datetime) -> list[int]:
    query = select(PERIODS.c.id).where(
        PERIODS.c.ledger == ledger, PERIODS.c.starts_at < until, PERIODS.c.ends_at > since
    )
    return list(conn.execute(query.order_by(PERIODS.c.starts_at)).scalars())


def effective_at(booked_at: dt.datetime, periods: list[dict]) -> dt.datetime:
    """When a transfer that no closed period holds counts: its booking time, moved past every
    closed period it falls in (`periods` earliest first, never overlapping)."""
    at = booked_at
    for period in periods:
        if period["starts_at"] <= at < period["ends_at"]:
            at = period["ends_at"]
    return at
