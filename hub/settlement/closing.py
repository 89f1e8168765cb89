"""Closing a period: its statement is computed once, stored with the transfers that count in
it, and never changes; closed periods of a ledger never overlap. Whatever is booked later
with a time inside it counts in the next open period (hub.settlement.periods)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from hub.core.errors import Conflict, Invalid, NotFound
from hub.settlement import periods, statement
from hub.settlement.periods import MEMBERS, PERIODS

_CLOSE_LOCK = 0x7A5E771E  # one close at a time across hub processes (PostgreSQL)


def close(
    conn: Connection, ledger: str, since: dt.datetime, until: dt.datetime, now: dt.datetime, closed_by: str
) -> dict:
    """Close [since, until) of the ledger: it must have ended and overlap no closed period."""
    periods.check_range(since, until)
    if until > now:
        raise Invalid(f"the period has not ended yet: it runs to {until.isoformat()}")
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_CLOSE_LOCK})")
    clash = periods.overlapping(conn, ledger, since, until)
    if clash:
        raise Conflict(f"the period overlaps the closed period {clash[0]}: closed periods never overlap")
    done = statement.replay(conn, ledger, since, until)
    period_id = conn.execute(
        PERIODS.insert().values(
            ledger=ledger, starts_at=since, ends_at=until, closed_by=closed_by, closed_at=now, statement={}
        )
    ).inserted_primary_key[0]
    frozen = {
        **done.statement,
        "period": {"id": period_id, "closed_at": now.isoformat(), "closed_by": closed_by},
    }
    conn.execute(PERIODS.update().where(PERIODS.c.id == period_id).values(statement=frozen))
    rows = [{"transfer_id": t, "period_id": period_id, "effective_at": at} for t, at in done.members.items()]
    if rows:
        conn.execute(MEMBERS.insert(), rows)
    return frozen


def summary(statement: dict) -> dict:
    """A closed statement without the transfers behind its figures: what the audit log keeps of a
    close (the statement itself is stored with the period)."""
    return {
        "period": statement["period"],
        "ledger": statement["ledger"],
        "since": statement["since"],
        "until": statement["until"],
        "nets": {p["outlet_id"]: p["net"] for p in statement["outlets"]},
        "payments": statement["payments"],
        "corrections": len(statement["corrections"]),
    }


def close_summarised(conn: Connection, *args) -> dict:
    """`close`, answering its `summary`."""
    return summary(close(conn, *args))


def stored(conn: Connection, period_id: int) -> dict:
    """A closed period's statement as it was at the close."""
    found = conn.execute(select(PERIODS.c.statement).where(PERIODS.c.id == period_id)).scalar()
    if found is None:
        raise NotFound(f"no closed period {period_id}")
    return found


def list_closed(conn: Connection, ledger: str) -> list[dict]:
    query = select(
        PERIODS.c.id,
        PERIODS.c.ledger,
        PERIODS.c.starts_at,
        PERIODS.c.ends_at,
        PERIODS.c.closed_at,
        PERIODS.c.closed_by,
    ).where(PERIODS.c.ledger == ledger)
    return [dict(r) for r in conn.execute(query.order_by(PERIODS.c.starts_at)).mappings()]
