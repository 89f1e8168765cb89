"""Controllers' health telemetry rolled up per UTC hour (hub.tables.reports.DeviceHealthHour), for
the machines report's uptime and faults; written with the latest health (management.store_reports).

Each report (every `health_s`, 60 s by default) says how long the board has been up. The time
since the previous report counts as up, unless the board rebooted in between (its uptime is less
than before): then only its uptime counts, and the reboot is counted — as a fault when the
watchdog reset it or the app died with a traceback. That time is spread over the hours it lies in
(at most a day back). Reconnects and reader resets are counters since boot: their increase counts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func

from hub.tables.reports import DeviceHealthHour

HOURS = DeviceHealthHour.__table__
MAX_BACK = dt.timedelta(days=1)
FAULT_CAUSES = ("watchdog",)


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def roll_up(conn: Connection, device_id: str, at: dt.datetime, body: dict, previous: dict | None) -> None:
    """Add one health report (`body`, received `at`) to its device's hours; `previous`: the
    latest health stored before it (None: the first)."""
    uptime = dt.timedelta(seconds=max(0, int(body.get("uptime_seconds") or 0)))
    rebooted = previous is not None and uptime.total_seconds() < previous["uptime_seconds"]
    if previous is None or rebooted:
        up = uptime
    else:
        up = min(uptime, at - previous["received_at"])
    up = max(dt.timedelta(0), min(up, MAX_BACK))
    crashed = bool(body.get("last_traceback")) and body.get("last_traceback") != (previous or {}).get(
        "last_traceback"
    )
    fault = rebooted and (body.get("reset_cause") in FAULT_CAUSES or crashed)

    def grew(name: str) -> int:
        now = int(body.get(name) or 0)
        before = 0 if previous is None or rebooted else int(previous.get(name) or 0)
        return max(0, now - before)

    this_hour = _hour(at)
    _add(
        conn,
        device_id,
        this_hour,
        at,
        samples=1,
        reboots=int(rebooted),
        faults=int(fault),
        reconnects=grew("reconnects"),
        reader_resets=grew("reader_resets"),
        up=0,
    )
    start, hour = at - up, this_hour
    while hour + dt.timedelta(hours=1) > start:
        part = (min(at, hour + dt.timedelta(hours=1)) - max(start, hour)).total_seconds()
        if part > 0:
            _add(conn, device_id, hour, at, up=int(part))
        hour -= dt.timedelta(hours=1)


def _add(
    conn: Connection, device_id: str, hour: dt.datetime, at: dt.datetime, up: int, **counts: int
) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        cap = func.least
    else:
        from sqlalchemy.dialects.sqlite import insert

        cap = func.min
    values = {"samples": 0, "reboots": 0, "faults": 0, "reconnects": 0, "reader_resets": 0, **counts}
    stmt = insert(HOURS).values(
        device_id=device_id, hour=hour, up_seconds=min(up, 3600), last_at=at, **values
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[HOURS.c.device_id, HOURS.c.hour],
            set_={
                **{k: HOURS.c[k] + stmt.excluded[k] for k in values},
                "up_seconds": cap(3600, HOURS.c.up_seconds + stmt.excluded.up_seconds),
                "last_at": stmt.excluded.last_at,
            },
        )
    )
