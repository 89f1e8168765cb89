"""The transfers a period's statement replays, read without walking the whole ledger:

  1. the transfers booked in the period;
  2. those booked earlier that count in it: booked inside the run of closed periods that reaches
     the period's start, after those closed (corrections), or recorded there with a later time;
  3. the whole history (to the period's end) of every card wallet they touch — a spend today may
     use a top-up of last month — and of the wallets money moved between with those.

Only posted transfers on the ledger that touch a card's wallet or an outlet's gift-obligation
account are read, each with the time a closed period recorded it at (if one did)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select

from hub.ledger import ACCOUNTS, TRANSFERS
from hub.settlement.attribution import OBLIGATION, POSTED, WALLET, Booked
from hub.settlement.periods import MEMBERS

CHUNK = 500  # wallets per query


def _query(ledger: str, until: dt.datetime):
    debit, credit = ACCOUNTS.alias("d"), ACCOUNTS.alias("c")
    kinds = (WALLET, OBLIGATION)
    return (
        select(
            TRANSFERS.c.id,
            TRANSFERS.c.idempotency_key,
            TRANSFERS.c.debit_account_id,
            TRANSFERS.c.credit_account_id,
            debit.c.kind,
            credit.c.kind,
            TRANSFERS.c.amount,
            TRANSFERS.c.code,
            TRANSFERS.c.created_at,
            MEMBERS.c.effective_at,
        )
        .join(debit, debit.c.id == TRANSFERS.c.debit_account_id)
        .join(credit, credit.c.id == TRANSFERS.c.credit_account_id)
        .outerjoin(MEMBERS, MEMBERS.c.transfer_id == TRANSFERS.c.id)
        .where(
            TRANSFERS.c.ledger == ledger,
            TRANSFERS.c.flags.in_(POSTED),
            TRANSFERS.c.created_at < until,
            or_(debit.c.kind.in_(kinds), credit.c.kind.in_(kinds)),
        )
    )


def run_start(closed: list[dict], since: dt.datetime) -> dt.datetime | None:
    """The start of the run of closed periods (one after the other, no gap) that reaches `since`
    (ends at or after it, starts before it); None: no such run."""
    start = end = None
    for period in closed:  # earliest first, never overlapping
        if end is not None and period["starts_at"] == end:
            end = period["ends_at"]
        else:
            start, end = period["starts_at"], period["ends_at"]
        if start < since <= end:
            return start
        if start >= since:
            break
    return None


def load(
    conn: Connection, ledger: str, since: dt.datetime, until: dt.datetime, closed: list[dict]
) -> list[tuple[Booked, dt.datetime | None]]:
    """(transfer, the time a closed period recorded it at or None) for every transfer the
    statement of [since, until) replays."""
    base = _query(ledger, until)
    found: dict[str, tuple[Booked, dt.datetime | None]] = {}

    def read(query) -> None:
        for row in conn.execute(query):
            if row[0] not in found:
                found[row[0]] = (Booked(*row[:-1]), row[-1])

    read(base.where(TRANSFERS.c.created_at >= since))
    start = run_start(closed, since)
    if start is not None:
        late = or_(MEMBERS.c.transfer_id.is_(None), MEMBERS.c.effective_at >= since)
        read(base.where(TRANSFERS.c.created_at >= start, TRANSFERS.c.created_at < since, late))
    done: set[int] = set()
    todo = _wallets(found.values()) - done
    while todo:
        batch = sorted(todo)
        for i in range(0, len(batch), CHUNK):
            chunk = batch[i : i + CHUNK]
            touching = or_(TRANSFERS.c.debit_account_id.in_(chunk), TRANSFERS.c.credit_account_id.in_(chunk))
            read(base.where(TRANSFERS.c.created_at < since, touching))  # the period's own are read
        done |= todo
        todo = _wallets(found.values()) - done
    return list(found.values())


def _wallets(rows) -> set[int]:
    out = set()
    for b, _ in rows:
        if b.debit_kind == WALLET:
            out.add(b.debit)
        if b.credit_kind == WALLET:
            out.add(b.credit)
    return out
