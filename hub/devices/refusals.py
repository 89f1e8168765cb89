"""Messages the hub refused, per device and reason, for operators (not only a log line).

The MQTT bridge counts refusals in memory (`Tally`), bounded so that a flood of made-up
device names cannot grow it without end, and adds the counts to the table every few seconds
(`store`): one upsert per (device, reason), whatever the flood's rate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from hub.tables.devices import Device, DeviceRefusal
from hub.tables.taps import DeviceRequestConflict

REFUSALS = DeviceRefusal.__table__
CONFLICTS = DeviceRequestConflict.__table__
DEVICES = Device.__table__
MAX_KEYS = 1000  # distinct (site, device, reason) between two flushes; more are lumped together
UNKNOWN = "?"  # a topic that names no device


@dataclass
class Seen:
    count: int
    detail: str
    first_at: dt.datetime
    last_at: dt.datetime


class Tally:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], Seen] = {}

    def add(self, site: str, device_id: str, reason: str, detail: str, now: dt.datetime) -> None:
        key = (site[:40], device_id[:40], reason[:60])
        if key not in self.counts and len(self.counts) >= MAX_KEYS:
            key = (UNKNOWN, UNKNOWN, "too_many_sources")
        seen = self.counts.get(key)
        if seen is None:
            self.counts[key] = Seen(1, detail[:200], now, now)
        else:
            seen.count += 1
            seen.detail, seen.last_at = detail[:200], now

    def take(self) -> dict[tuple[str, str, str], Seen]:
        counts, self.counts = self.counts, {}
        return counts


def store(engine: Engine, counts: dict[tuple[str, str, str], Seen]) -> None:
    """Add the counts; run again once if another hub inserted one of the rows meanwhile."""
    for attempt in (1, 2):
        try:
            with engine.begin() as conn:
                for (site, device_id, reason), seen in counts.items():
                    _add(conn, site, device_id, reason, seen)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def _add(conn: Connection, site: str, device_id: str, reason: str, seen: Seen) -> None:
    where = (REFUSALS.c.site == site, REFUSALS.c.device_id == device_id, REFUSALS.c.reason == reason)
    changed = conn.execute(
        update(REFUSALS)
        .where(*where)
        .values(count=REFUSALS.c.count + seen.count, detail=seen.detail, last_at=seen.last_at)
    ).rowcount
    if not changed:
        conn.execute(
            REFUSALS.insert().values(
                site=site,
                device_id=device_id,
                reason=reason,
                count=seen.count,
                detail=seen.detail,
                first_at=seen.first_at,
                last_at=seen.last_at,
            )
        )


def listing(conn: Connection, device_id: str | None = None, site: str | None = None) -> list[dict]:
    """The bridge's refusals and the requests the hub refused as id_reused (a known request id
    with another body: a replaced board, an erased flash, a forgery), newest first."""
    query = select(REFUSALS)
    if device_id is not None:
        query = query.where(REFUSALS.c.device_id == device_id)
    if site is not None:
        query = query.where(REFUSALS.c.site == site)
    found = [dict(r) for r in conn.execute(query).mappings()] + _reused_ids(conn, device_id, site)
    return sorted(found, key=lambda r: r["last_at"], reverse=True)


def _reused_ids(conn: Connection, device_id: str | None, site: str | None) -> list[dict]:
    query = (
        select(
            DEVICES.c.site,
            CONFLICTS.c.device_id,
            func.count().label("count"),
            func.min(CONFLICTS.c.created_at).label("first_at"),
            func.max(CONFLICTS.c.created_at).label("last_at"),
            func.max(CONFLICTS.c.request_id).label("request_id"),
        )
        .join(DEVICES, DEVICES.c.id == CONFLICTS.c.device_id)
        .group_by(DEVICES.c.site, CONFLICTS.c.device_id)
    )
    if device_id is not None:
        query = query.where(CONFLICTS.c.device_id == device_id)
    if site is not None:
        query = query.where(DEVICES.c.site == site)
    return [
        {
            "site": r.site,
            "device_id": r.device_id,
            "reason": "id_reused",
            "count": r.count,
            "detail": f"a request id used before for another request, e.g. {r.request_id}",
            "first_at": _aware(r.first_at),
            "last_at": _aware(r.last_at),
        }
        for r in conn.execute(query)
    ]


def _aware(moment: dt.datetime) -> dt.datetime:
    """An aggregate comes back without the column's type on SQLite: naive, in UTC."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
