"""Limits that stop a stolen key or a careless hand from draining the park: a rate per key,
ceilings per operator or key per day, and a cashier's refund limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from hub.access import audit
from hub.access.callers import SITES, Caller
from hub.access.roles import DEFAULT_REFUND_LIMIT
from hub.core.clock import utcnow
from hub.core.errors import Forbidden, TooMany
from hub.tables.access import ApiKeyRate

log = logging.getLogger("tapgift.limits")

RATES = ApiKeyRate.__table__
SHARE_EVERY_S = 1.0
# A hub whose counts are older than this has stopped (or cannot reach the database): its counts
# no longer hold the key back. Its rows are deleted by the others after FORGET_HUB_AFTER.
HUB_SILENT_AFTER = dt.timedelta(seconds=5)
FORGET_HUB_AFTER = dt.timedelta(minutes=2)


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
    """Requests per API key in the last minute (a sliding window). Each hub process counts its
    own; share(), every SHARE_EVERY_S (share_forever), writes its counts to the database and takes
    the other hubs' counts, which check() adds to its own. A key's rate so holds across hubs,
    give or take what the others took in the last second."""

    def __init__(self, clock=time.monotonic, hub_id: str | None = None):
        self._seen: dict[str, deque[float]] = {}
        self._others: dict[str, int] = {}  # key id -> the other hubs' requests in their last minute
        self._lock = threading.Lock()
        self._clock = clock
        self.hub_id = hub_id or uuid.uuid4().hex[:16]
        self._stored = False  # whether this hub has rows in the table

    def check(self, name: str, per_minute: int) -> None:
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(name, deque())
            _forget(seen, now)
            if len(seen) + self._others.get(name, 0) >= per_minute:
                # Known here: when this hub's oldest request leaves the window. Another hub's
                # oldest is its own clock's: a second, then ask again.
                wait = int(seen[0] + 60 - now) + 1 if seen else 1
                raise TooMany(f"more than {per_minute} requests a minute", wait)
            seen.append(now)

    def elsewhere(self, name: str) -> int:
        """The other hubs' requests of this key in their last minute, as last shared."""
        with self._lock:
            return self._others.get(name, 0)

    def counts(self) -> dict[str, int]:
        """This hub's requests in the last minute, per key that made any."""
        now = self._clock()
        with self._lock:
            for name, seen in list(self._seen.items()):
                _forget(seen, now)
                if not seen:
                    del self._seen[name]
            return {name: len(seen) for name, seen in self._seen.items()}

    def share(self, engine: Engine, now: dt.datetime) -> None:
        """Store this hub's counts, forget stopped hubs' and take the others' (a thread's work)."""
        mine = self.counts()
        with engine.begin() as conn:
            if mine or self._stored:
                conn.execute(RATES.delete().where(RATES.c.hub == self.hub_id))
                conn.execute(RATES.delete().where(RATES.c.counted_at < now - FORGET_HUB_AFTER))
                if mine:
                    rows = [
                        {"hub": self.hub_id, "key_id": k, "requests": n, "counted_at": now}
                        for k, n in mine.items()
                    ]
                    conn.execute(RATES.insert(), rows)
                self._stored = bool(mine)
            others = conn.execute(
                select(RATES.c.key_id, func.sum(RATES.c.requests))
                .where(RATES.c.hub != self.hub_id, RATES.c.counted_at >= now - HUB_SILENT_AFTER)
                .group_by(RATES.c.key_id)
            ).all()
        with self._lock:
            self._others = {key_id: int(n) for key_id, n in others}

    async def share_forever(self, engine: Engine) -> None:
        while True:
            try:
                await asyncio.to_thread(self.share, engine, utcnow())
            except Exception as exc:  # the database away: each hub goes on with its own counts
                log.warning("sharing the API keys' request counts failed: %s", exc)
            await asyncio.sleep(SHARE_EVERY_S)


def _forget(seen: deque[float], now: float) -> None:
    while seen and seen[0] <= now - 60:
        seen.popleft()
