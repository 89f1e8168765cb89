"""Accounts: made once (a wallet, a machine, the cash desk), and the sums that prove the ledger
balances."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from hub.core.clock import utcnow
from hub.core.errors import LedgerError
from hub.core.raw import Raw
from hub.tables.ledger import Account, Transfer

ACCOUNTS = Account.__table__
TRANSFERS = Transfer.__table__


def create_account(
    conn: Connection, ledger: str, kind: str, name: str, allow_negative: bool = False, credit_limit: int = 0
) -> int:
    if credit_limit < 0:
        raise LedgerError("a credit limit is not negative")
    result = conn.execute(
        ACCOUNTS.insert().values(
            ledger=ledger,
            kind=kind,
            name=name,
            allow_negative=allow_negative,
            credit_limit=credit_limit,
            debits_posted=0,
            credits_posted=0,
            debits_pending=0,
            credits_pending=0,
            created_at=utcnow(),
        )
    )
    return result.inserted_primary_key[0]


def create_accounts(raw: Raw, ledger: str, kind: str, names: list[str], now: datetime) -> dict[str, int]:
    """Several new accounts (not negative, no credit limit) in one statement: name -> id. For the
    booking path, where a batch may make many at once (a season's first points of many cards)."""
    if not names:
        return {}
    rows = ",".join(["(?, ?, ?, ?, 0, 0, 0, 0, 0, ?)"] * len(names))
    params = [v for name in names for v in (ledger, kind, name, False, raw.when(now))]
    return {
        name: account_id
        for account_id, name in raw.rows(
            "INSERT INTO accounts (ledger, kind, name, allow_negative, credit_limit, debits_posted,"
            " credits_posted, debits_pending, credits_pending, created_at) VALUES "
            f"{rows} RETURNING id, name",
            params,
        )
    }


def system_account(conn: Connection, ledger: str, kind: str, name: str) -> int:
    """The one account of a kind and name on a ledger (e.g. the cash desk), made on first use."""
    found = conn.execute(
        select(ACCOUNTS.c.id).where(
            ACCOUNTS.c.ledger == ledger,
            ACCOUNTS.c.kind == kind,
            ACCOUNTS.c.name == name,
        )
    ).scalar()
    return found or create_account(conn, ledger, kind, name, allow_negative=True)


def ledger_totals(conn: Connection) -> dict[str, dict[str, int]]:
    """Per ledger: the sums of posted and pending balances (both must be zero),
    and the same sums recomputed from the transfer log."""
    totals: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        select(
            ACCOUNTS.c.ledger,
            func.sum(ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted),
            func.sum(ACCOUNTS.c.credits_pending - ACCOUNTS.c.debits_pending),
        ).group_by(ACCOUNTS.c.ledger)
    )
    for ledger, posted, pending in rows:
        totals[ledger] = {"posted": int(posted or 0), "pending": int(pending or 0)}
    return totals


def net_flow(conn: Connection, account_id: int, *where) -> int:
    """What the transfers matching `where` brought into the account: its credits less its debits."""

    def total(side) -> int:
        query = select(func.coalesce(func.sum(TRANSFERS.c.amount), 0)).where(side == account_id, *where)
        return int(conn.execute(query).scalar())

    return total(TRANSFERS.c.credit_account_id) - total(TRANSFERS.c.debit_account_id)


def balance_from_log(conn: Connection, account_id: int) -> int:
    """An account's posted balance recomputed from its transfers."""
    return net_flow(conn, account_id, TRANSFERS.c.flags.in_(("posted", "post")))
