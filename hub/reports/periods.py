"""A report's period and its buckets (hours, days or months in the site's time zone), and the SQL
that puts a row's time into its bucket on SQLite and PostgreSQL.

PostgreSQL converts with `AT TIME ZONE` itself. SQLite knows no zones: the period is cut into
spans of one UTC offset (a daylight-saving change starts a new span, found here with zoneinfo), a
span table `seg(lo, hi, m)` is joined on the time, and strftime shifts each row by its span's
offset. Both give the local bucket of every row, so distinct counts (cards per day) stay exact
across a change. Offsets that are not whole hours (e.g. +05:30) bucket hours by their local start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.core.errors import Invalid

UTC = dt.UTC
BY = ("hour", "day", "month")
MAX_BUCKETS = 10_000  # a season by hour is ~3,000; 100 years by hour is refused
_SQLITE_FORMAT = {"hour": "%Y-%m-%d %H", "day": "%Y-%m-%d", "month": "%Y-%m"}
_PG_FORMAT = {"hour": "YYYY-MM-DD HH24", "day": "YYYY-MM-DD", "month": "YYYY-MM"}
_LABEL_FORMAT = {"hour": "%Y-%m-%d %H", "day": "%Y-%m-%d", "month": "%Y-%m"}


@dataclass(frozen=True)
class Period:
    """[start, end) in aware UTC, bucketed `by` hour, day or month in the time zone `tz`."""

    start: dt.datetime
    end: dt.datetime
    by: str = "day"
    tz: str = "UTC"

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise Invalid("a report's from and to carry a time zone")
        if self.by not in BY:
            raise Invalid(f"by is one of {', '.join(BY)}, not {self.by!r}")
        if self.start >= self.end:
            raise Invalid("a report's from is before its to")
        zone(self.tz)
        span_hours = (self.end - self.start).total_seconds() / 3600
        per_bucket = {"hour": 1, "day": 24, "month": 24 * 28}[self.by]
        if span_hours / per_bucket > MAX_BUCKETS:
            raise Invalid(
                f"{span_hours / per_bucket:,.0f} buckets of one {self.by} are too many (at most "
                f"{MAX_BUCKETS:,}): choose a shorter period or a larger bucket"
            )

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    def bucket_start(self, label: str) -> dt.datetime:
        """The aware UTC start of the local bucket a label names."""
        fmt = _LABEL_FORMAT[self.by]
        local = dt.datetime.strptime(label, fmt).replace(tzinfo=self.zone)
        return local.astimezone(UTC)

    def bucket_end(self, label: str) -> dt.datetime:
        fmt = _LABEL_FORMAT[self.by]
        local = dt.datetime.strptime(label, fmt)
        if self.by == "hour":
            nxt = local + dt.timedelta(hours=1)
        elif self.by == "day":
            nxt = local + dt.timedelta(days=1)
        else:
            nxt = (local.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return nxt.replace(tzinfo=self.zone).astimezone(UTC)

    def bucket_seconds(self, label: str) -> float:
        """How much of the bucket lies inside the period, in seconds."""
        lo = max(self.start, self.bucket_start(label))
        hi = min(self.end, self.bucket_end(label))
        return max(0.0, (hi - lo).total_seconds())


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except Exception as exc:
        raise Invalid(f"unknown time zone {tz!r}") from exc


def local_day_start(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone(tz)).astimezone(UTC)


def offset_spans(start: dt.datetime, end: dt.datetime, tz: str) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """[start, end) cut where the zone's UTC offset changes: (lo, hi, offset seconds)."""
    z = zone(tz)

    def off(t: dt.datetime) -> int:
        return int(t.astimezone(z).utcoffset().total_seconds())

    spans, lo, cur, t = [], start, off(start), start
    while t < end:
        step = min(end, t + dt.timedelta(days=1))
        if off(step) != cur:  # the change lies in (t, step]: bisect to the microsecond
            a, b = t, step
            while b - a > dt.timedelta(microseconds=1):
                mid = a + (b - a) / 2
                a, b = (mid, b) if off(mid) == cur else (a, mid)
            spans.append((lo, b, cur))
            lo, cur, step = b, off(b), b
        t = step
    spans.append((lo, end, cur))
    return [s for s in spans if s[0] < s[1]]


class Buckets:
    """The SQL of one period on one database: `cte` goes first in the statement (SQLite's offset
    spans), `frame(col)` gives the join and condition that keep a row of the period, and
    `label(col)` its bucket as text ("2026-07-01 14", "2026-07-01", "2026-07")."""

    def __init__(self, period: Period, dialect: str):
        self.period = period
        self.pg = dialect == "postgresql"
        self.params = {"lo": self.when(period.start), "hi": self.when(period.end)}
        self._tz = period.tz.replace(
            "'", ""
        )  # a zoneinfo name (checked), inlined: GROUP BY needs one expression

    def when(self, moment: dt.datetime):
        """A UTC time as the column stores it (SQLite: SQLAlchemy's text format)."""
        if self.pg:
            return moment
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    @property
    def cte(self) -> str:
        if self.pg:
            return ""
        spans = offset_spans(self.period.start, self.period.end, self.period.tz)
        rows = ", ".join(
            f"('{self.when(lo)}', '{self.when(hi)}', '{off:+d} seconds')" for lo, hi, off in spans
        )
        return f"WITH seg(lo, hi, m) AS (VALUES {rows}) "

    def frame(self, col: str, alias: str = "seg") -> tuple[str, str]:
        """(join, where) keeping the rows whose `col` lies in the period."""
        where = f"{col} >= :lo AND {col} < :hi"
        if self.pg:
            return "", where
        return f" JOIN seg {alias} ON {col} >= {alias}.lo AND {col} < {alias}.hi", where

    def label(self, col: str, alias: str = "seg") -> str:
        if self.pg:
            return f"to_char({col} AT TIME ZONE '{self._tz}', '{_PG_FORMAT[self.period.by]}')"
        return f"strftime('{_SQLITE_FORMAT[self.period.by]}', {col}, {alias}.m)"

    def json_text(self, col: str, key: str) -> str:
        """A JSON column's member as text (keys are ours, never a caller's)."""
        if self.pg:
            return f"({col}->>'{key}')"
        return f"json_extract({col}, '$.{key}')"

    def json_int(self, col: str, key: str) -> str:
        if self.pg:
            return f"COALESCE(({col}->>'{key}')::bigint, 0)"
        return f"COALESCE(CAST(json_extract({col}, '$.{key}') AS INTEGER), 0)"

    def json_true(self, col: str, key: str) -> str:
        if self.pg:
            return f"COALESCE(({col}->>'{key}') = 'true', false)"
        return f"COALESCE(json_extract({col}, '$.{key}') = 1, 0)"
