"""Sites (a park) and their outlets (a bar, a shop, a slide, a partner business on the visitor's
route), and the outlets' counters (a till, a payment terminal, a kiosk). Every outlet has its own
revenue account on the currency ledger; a basket paid there credits it. An outlet is also the "store" of the bonus rules (seed 003): rules, the bonus-system
switch and the holiday calendar are per outlet; the time zone is its site's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, select

from hub.core.clock import utcnow
from hub.core.errors import Conflict, Invalid, NotFound
from hub.ledger import create_account
from hub.tables.outlets import Counter, Holiday, Outlet, Site

SITES = Site.__table__
OUTLETS = Outlet.__table__
HOLIDAYS = Holiday.__table__
COUNTERS = Counter.__table__
COUNTER_KINDS = ("till", "terminal", "kiosk")


def create_site(conn: Connection, site_id: str, name: str = "", tz: str = "Europe/Zurich") -> dict:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(tz)
    except Exception as exc:
        raise Invalid(f"unknown time zone {tz!r}") from exc
    if conn.execute(select(SITES.c.id).where(SITES.c.id == site_id)).first():
        raise Conflict(f"site {site_id} exists")
    conn.execute(SITES.insert().values(id=site_id, name=name or site_id, tz=tz, created_at=utcnow()))
    return get_site(conn, site_id)


def get_site(conn: Connection, site_id: str) -> dict:
    row = (
        conn.execute(select(SITES.c.id, SITES.c.name, SITES.c.tz).where(SITES.c.id == site_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no site {site_id}")
    return dict(row)


def list_sites(conn: Connection) -> list[dict]:
    return [
        dict(r)
        for r in conn.execute(select(SITES.c.id, SITES.c.name, SITES.c.tz).order_by(SITES.c.id)).mappings()
    ]


def create_outlet(
    conn: Connection, ledger: str, outlet_id: str, site_id: str, name: str = "", kind: str = "shop"
) -> dict:
    get_site(conn, site_id)
    if conn.execute(select(OUTLETS.c.id).where(OUTLETS.c.id == outlet_id)).first():
        raise Conflict(f"outlet {outlet_id} exists")
    # Revenue accounts are credited only; allow_negative keeps the booking path from checking them.
    account = create_account(conn, ledger, "revenue", f"outlet {outlet_id}", allow_negative=True)
    conn.execute(
        OUTLETS.insert().values(
            id=outlet_id,
            site_id=site_id,
            name=name or outlet_id,
            kind=kind,
            ledger=ledger,
            revenue_account_id=account,
            created_at=utcnow(),
        )
    )
    return get_outlet(conn, outlet_id)


def _outlet_query():
    return select(
        OUTLETS.c.id,
        OUTLETS.c.site_id,
        OUTLETS.c.name,
        OUTLETS.c.kind,
        OUTLETS.c.ledger,
        OUTLETS.c.revenue_account_id,
        SITES.c.tz,
    ).join(SITES, SITES.c.id == OUTLETS.c.site_id)


def get_outlet(conn: Connection, outlet_id: str) -> dict:
    row = conn.execute(_outlet_query().where(OUTLETS.c.id == outlet_id)).mappings().first()
    if row is None:
        raise NotFound(f"no outlet {outlet_id}")
    return dict(row)


def list_outlets(conn: Connection, site_id: str | None = None) -> list[dict]:
    query = _outlet_query().order_by(OUTLETS.c.id)
    if site_id is not None:
        query = query.where(OUTLETS.c.site_id == site_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def check_outlets(conn: Connection, outlet_ids, what: str) -> None:
    """Invalid (naming them) if any of the outlet ids a setting names does not exist: a typo
    would otherwise switch a rule or a store off without a word."""
    wanted = set(outlet_ids)
    known = (
        set(conn.execute(select(OUTLETS.c.id).where(OUTLETS.c.id.in_(wanted))).scalars()) if wanted else set()
    )
    if wanted - known:
        raise Invalid(f"{what}: no outlet {', '.join(sorted(wanted - known))}")


def set_holidays(conn: Connection, outlet_id: str, days: list[dt.date]) -> list[dt.date]:
    get_outlet(conn, outlet_id)
    conn.execute(delete(HOLIDAYS).where(HOLIDAYS.c.outlet_id == outlet_id))
    if days:
        conn.execute(HOLIDAYS.insert(), [{"outlet_id": outlet_id, "day": d} for d in sorted(set(days))])
    return holidays(conn, outlet_id)


def holidays(conn: Connection, outlet_id: str) -> list[dt.date]:
    return list(
        conn.execute(
            select(HOLIDAYS.c.day).where(HOLIDAYS.c.outlet_id == outlet_id).order_by(HOLIDAYS.c.day)
        ).scalars()
    )


def create_counter(
    conn: Connection, outlet_id: str, counter_id: str, name: str = "", kind: str = "till"
) -> dict:
    """A counter of an outlet: a cash register names it to identify itself and its baskets."""
    if kind not in COUNTER_KINDS:
        raise Invalid(f"kind must be one of {COUNTER_KINDS}")
    get_outlet(conn, outlet_id)
    if conn.execute(select(COUNTERS.c.id).where(COUNTERS.c.id == counter_id)).first():
        raise Conflict(f"counter {counter_id} exists")
    conn.execute(
        COUNTERS.insert().values(
            id=counter_id,
            outlet_id=outlet_id,
            name=name or counter_id,
            kind=kind,
            active=True,
            created_at=utcnow(),
        )
    )
    return get_counter(conn, counter_id)


def _counter_query():
    return select(
        COUNTERS.c.id,
        COUNTERS.c.outlet_id,
        OUTLETS.c.site_id,
        COUNTERS.c.name,
        COUNTERS.c.kind,
        COUNTERS.c.active,
    ).join(OUTLETS, OUTLETS.c.id == COUNTERS.c.outlet_id)


def get_counter(conn: Connection, counter_id: str) -> dict:
    row = conn.execute(_counter_query().where(COUNTERS.c.id == counter_id)).mappings().first()
    if row is None:
        raise NotFound(f"no counter {counter_id}")
    return dict(row)


def all_counters(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(_counter_query()).mappings()]


def all_holidays(conn: Connection) -> dict[str, frozenset[dt.date]]:
    """Every outlet's holidays (outlets without any left out)."""
    days: dict[str, set[dt.date]] = {}
    for outlet_id, day in conn.execute(select(HOLIDAYS.c.outlet_id, HOLIDAYS.c.day)):
        days.setdefault(outlet_id, set()).add(day)
    return {o: frozenset(d) for o, d in days.items()}


def list_counters(conn: Connection, outlet_id: str) -> list[dict]:
    get_outlet(conn, outlet_id)
    return [
        dict(r)
        for r in conn.execute(
            _counter_query().where(COUNTERS.c.outlet_id == outlet_id).order_by(COUNTERS.c.id)
        ).mappings()
    ]


def set_counter_active(conn: Connection, counter_id: str, active: bool) -> dict:
    get_counter(conn, counter_id)
    conn.execute(COUNTERS.update().where(COUNTERS.c.id == counter_id).values(active=active))
    return get_counter(conn, counter_id)


def check_counter(conn: Connection, counter_id: str | None, outlet_id: str) -> None:
    """A basket may name the counter it is paid at: an active counter of that outlet."""
    if counter_id is None:
        return
    counter = get_counter(conn, counter_id)
    if counter["outlet_id"] != outlet_id:
        raise Conflict(f"counter {counter_id} belongs to outlet {counter['outlet_id']}, not {outlet_id}")
    if not counter["active"]:
        raise Conflict(f"counter {counter_id} is switched off")
