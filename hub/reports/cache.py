"""Closed buckets of a report, kept (table report_buckets): a report over a season reads the rows
of its past hours, days or months instead of scanning their millions of transfers again.

A bucket is kept once it lies wholly inside the period asked for and ended a while ago
(`SETTLE`): bookings carry the time they were made, so nothing lands in an hour that ended, but a
transaction open across the end commits a moment later, and health telemetry after an outage
credits uptime up to a day back (hub.devices.health_hours). The buckets still open, those cut by
the period's ends and those not kept yet are computed by the report's SQL, one query per run of
adjacent buckets; the new closed ones are then kept. A kept bucket's figures stay as they were
computed, like a closed period's (an outlet given a machine later does not take over its past).
`VERSION` changes when a report's figures change meaning: kept rows of another version are
computed again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Connection, Engine, select

from hub.reports.periods import Period
from hub.tables.reports import ReportBucket

BUCKETS = ReportBucket.__table__
VERSION = "1"
SETTLE = {"machines": dt.timedelta(hours=25)}
DEFAULT_SETTLE = dt.timedelta(minutes=15)


def labels(period: Period) -> list[str]:
    """The local buckets the period touches, in order."""
    z = period.zone
    out: list[str] = []
    if period.by == "hour":
        t = period.start.replace(minute=0, second=0, microsecond=0)
        while t < period.end:
            label = t.astimezone(z).strftime("%Y-%m-%d %H")
            if not out or out[-1] != label:
                out.append(label)
            t += dt.timedelta(hours=1)
        return out
    day = period.start.astimezone(z).date()
    last = (period.end - dt.timedelta(microseconds=1)).astimezone(z).date()
    while day <= last:
        label = day.isoformat() if period.by == "day" else day.strftime("%Y-%m")
        if not out or out[-1] != label:
            out.append(label)
        day += dt.timedelta(days=1)
    return out


def _closed(period: Period, label: str, report: str, now: dt.datetime) -> bool:
    start, end = period.bucket_start(label), period.bucket_end(label)
    return period.start <= start and end <= period.end and end <= now - SETTLE.get(report, DEFAULT_SETTLE)


def _key(report: str, outlet_id: str | None, period: Period) -> dict:
    return {"report": report, "scope": outlet_id or "", "by": period.by, "tz": period.tz}


def _kept(conn: Connection, key: dict, closed: list[str]) -> dict[str, list[dict]]:
    if not closed:
        return {}
    found = conn.execute(
        select(BUCKETS.c.label, BUCKETS.c.rows).where(
            *(BUCKETS.c[k] == v for k, v in key.items()),
            BUCKETS.c.version == VERSION,
            BUCKETS.c.label >= closed[0],
            BUCKETS.c.label <= closed[-1],
        )
    )
    wanted = set(closed)
    return {label: [_thaw(r) for r in rows] for label, rows in found if label in wanted}


def _freeze(row: dict) -> dict:
    return {**row, "bucket": row["bucket"].isoformat()}


def _thaw(row: dict) -> dict:
    return {**row, "bucket": dt.datetime.fromisoformat(row["bucket"])}


def rows(
    conn: Connection,
    report: str,
    fn: Callable[[Connection, Period, str | None], list[dict]],
    period: Period,
    outlet_id: str | None,
    keep: Engine,
    now: dt.datetime,
) -> list[dict]:
    """The report's rows over the period: kept buckets read, the others computed (and the closed
    ones among them kept, through `keep`, in a transaction of their own)."""
    key = _key(report, outlet_id, period)
    every = labels(period)
    closed = [label for label in every if _closed(period, label, report, now)]
    kept = _kept(conn, key, closed)
    out = [row for label in every for row in kept.get(label, [])]
    fresh: dict[str, list[dict]] = {}
    for run in _runs(every, kept):
        start = max(period.start, period.bucket_start(run[0]))
        end = min(period.end, period.bucket_end(run[-1]))
        computed = fn(conn, Period(start, end, period.by, period.tz), outlet_id)
        out.extend(computed)
        for row in computed:
            fresh.setdefault(row["label"], []).append(row)
    new = [label for label in closed if label not in kept]
    if new:
        _keep(keep, key, {label: fresh.get(label, []) for label in new}, now)
    return out


def _runs(every: list[str], kept: dict) -> list[list[str]]:
    """The buckets not kept, adjacent ones together: one query each."""
    runs: list[list[str]] = []
    for i, label in enumerate(every):
        if label in kept:
            continue
        if runs and every[i - 1] == runs[-1][-1]:
            runs[-1].append(label)
        else:
            runs.append([label])
    return runs


def _keep(engine: Engine, key: dict, by_label: dict[str, list[dict]], now: dt.datetime) -> None:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = [
        {**key, "label": label, "version": VERSION, "rows": [_freeze(r) for r in found], "computed_at": now}
        for label, found in by_label.items()
    ]
    with engine.begin() as conn:
        for i in range(0, len(values), 500):
            conn.execute(insert(BUCKETS).values(values[i : i + 500]).on_conflict_do_nothing())
