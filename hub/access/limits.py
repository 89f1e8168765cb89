"""Limits that stop a stolen key or a careless hand from draining the park: a rate per key,
ceilings per operator or key per day, and a cashier's refund limit."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from hub.access import audit
from hub.access.callers import SITES, Caller
from hub.access.roles import DEFAULT_REFUND_LIMIT
from hub.core.errors import Forbidden, TooMany


@dataclass(frozen=True)
class Ceilings:
    """Per operator or key of the desk roles, per day (the day of the caller's site, in its time
    zone; UTC for a caller bound to no site), minor units; None: no ceiling.
    Admins and managers answer for the park and have none (Settings: TAPGIFT_TOPUP_CEILING…)."""

    topup_per_day: int | None = 2_000_000
    refund_per_day: int | None = 500_000
    refund_limit: int = DEFAULT_REFUND_LIMIT  # per refund, without money.refund_over_limit
    roles: frozenset[str] = frozenset({"cashier", "kiosk"})


def check_money(
    conn: Connection, caller: Caller, action: str, amount: int, limits: Ceilings, now: dt.datetime
) -> None:
    """Refuse a booking that takes the caller over a limit; called in the booking's own
    transaction after it is written, so that the refusal rolls it back. The booking is already
    in the audit log, so what was moved today includes it."""
    if amount <= 0:
        return
    if action == "refund" and amount > limits.refund_limit and not caller.may("money.refund_over_limit"):
        raise Forbidden(
            f"a refund of {amount} is over your limit of {limits.refund_limit}: a manager books it"
        )
    ceiling = {"top_up": limits.topup_per_day, "refund": limits.refund_per_day}.get(action)
    if (
        ceiling is not None
        and caller.role in limits.roles
        and audit.moved_since(conn, caller.name, action, local_midnight(conn, caller, now)) > ceiling
    ):
        raise Forbidden(f"{action} would take you over your daily ceiling of {ceiling}")


def local_midnight(conn: Connection, caller: Caller, now: dt.datetime) -> dt.datetime:
    """The start of today where the caller works: their site's midnight, as a UTC time."""
    site = caller.home_site_clause()  # an outlet's site in the same query
    tz_name = (
        conn.execute(select(SITES.c.tz).where(SITES.c.id == site)).scalar() if site is not None else None
    )
    local = now.astimezone(ZoneInfo(tz_name)) if tz_name else now.astimezone(dt.UTC)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


class RateLimiter:
    """Requests per caller in the last minute, in this hub process (each hub counts its own)."""

    def __init__(self, clock=time.monotonic):
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def check(self, name: str, per_minute: int) -> None:
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(name, deque())
            while seen and seen[0] <= now - 60:
                seen.popleft()
            if len(seen) >= per_minute:
                raise TooMany(f"more than {per_minute} requests a minute", int(seen[0] + 60 - now) + 1)
            seen.append(now)
