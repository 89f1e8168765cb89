"""The double-entry ledger.

A `Book` collects the transfers of one database transaction and writes them
with one balance update per touched account (no hot row is updated once per
booking). Wallets are locked (PostgreSQL: SELECT ... FOR UPDATE, in id order)
and checked before money leaves them; accounts that may go negative (machines,
cash desks) are never locked for a check, only updated by deltas at the end.
A wallet with a credit limit (a debit card, paid later) may go below zero down
to minus its limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from hub.core.clock import utcnow
from hub.core.errors import InsufficientFunds, LedgerError, LedgerMismatch
from hub.core.raw import Raw
from hub.ledger import bulk
from hub.ledger.accounts import ACCOUNTS, TRANSFERS

_BALANCE_COLUMNS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def new_id() -> str:
    """uuid.uuid4().hex, without building a UUID object (a batch makes one per transfer)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


@dataclass
class AccountState:
    id: int
    ledger: str
    allow_negative: bool
    credit_limit: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    delta: dict = field(default_factory=lambda: dict.fromkeys(_BALANCE_COLUMNS, 0))

    @property
    def available(self) -> int:
        """What may still be spent: posted balance less pending holds."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def spendable(self) -> int:
        """What may still leave the account: available plus its credit limit."""
        return self.available + self.credit_limit

    def add(self, column: str, amount: int) -> None:
        setattr(self, column, getattr(self, column) + amount)
        self.delta[column] += amount


_ACCOUNT_COLUMNS = "id, ledger, allow_negative, credit_limit, " + ", ".join(_BALANCE_COLUMNS)
_TRANSFER_COLUMNS = (
    "id",
    "idempotency_key",
    "ledger",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "flags",
    "pending_id",
    "code",
    "reason",
    "created_at",
)


class Book:
    def __init__(self, conn: Connection, now: datetime | None = None):
        """now: one moment for every transfer of this Book (a batch of taps), else each its own."""
        self.conn = conn
        self.raw = Raw(conn)
        self._stamp = None if now is None else self.raw.when(now)
        self.accounts: dict[int, AccountState] = {}
        self._rows: list[tuple] = []

    def load(self, ids, lock: bool = True) -> None:
        """Read accounts not read yet; lock=True for those money may leave. Only accounts
        that cannot go negative are locked: an outlet's revenue or the points issued is
        credited by every sale, and a lock on it held from the first transfer to the commit
        would queue every concurrent sale behind it (DESIGN 11)."""
        missing = sorted(set(ids) - self.accounts.keys())
        if not missing:
            return
        marks = self.raw.marks(len(missing))
        if lock and self.raw.pg:
            rows = self.raw.rows(
                f"WITH w AS (SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id IN ({marks})"
                " AND NOT allow_negative ORDER BY id FOR UPDATE)"
                f" SELECT * FROM w UNION ALL SELECT {_ACCOUNT_COLUMNS} FROM accounts"
                f" WHERE id IN ({marks}) AND allow_negative",
                missing + missing,
            )
        else:
            rows = self.raw.rows(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id IN ({marks}) ORDER BY id", missing
            )
        for row in rows:
            self.accounts[row[0]] = AccountState(row[0], row[1], bool(row[2]), *row[3:])

    def account(self, account_id: int) -> AccountState:
        if account_id not in self.accounts:
            self.load([account_id], lock=True)
        if account_id not in self.accounts:
            raise LedgerError(f"no account {account_id}")
        return self.accounts[account_id]

    def transfer(
        self,
        debit: int,
        credit: int,
        amount: int,
        code: str,
        reason: str,
        key: str,
        pending: bool = False,
        transfer_id: str | None = None,
    ) -> str:
        """Move amount from debit to credit (as a hold if pending); returns the transfer id."""
        if amount <= 0:
            raise LedgerError("amount must be positive")
        src, dst = self._pair(debit, credit)
        if not src.allow_negative and src.spendable < amount:
            limit = f" and a credit limit of {src.credit_limit}" if src.credit_limit else ""
            raise InsufficientFunds(f"account {debit} has {src.available}{limit}, needs {amount}")
        kind = "pending" if pending else "posted"
        src.add("debits_" + kind, amount)
        dst.add("credits_" + kind, amount)
        return self._record(src, debit, credit, amount, kind, code, reason, key, None, transfer_id)

    def resolve(
        self, pending_id: str, debit: int, credit: int, held: int, post: int, code: str, reason: str, key: str
    ) -> None:
        """Post `post` of a hold of `held` and void the rest, each as its own transfer."""
        if not 0 <= post <= held:
            raise LedgerError("can post only between 0 and the held amount")
        src, dst = self._pair(debit, credit)
        src.add("debits_pending", -held)
        dst.add("credits_pending", -held)
        if post:
            src.add("debits_posted", post)
            dst.add("credits_posted", post)
            self._record(src, debit, credit, post, "post", code, reason, key + "/post", pending_id)
        if held - post:
            self._record(src, debit, credit, held - post, "void", code, reason, key + "/void", pending_id)

    def _pair(self, debit: int, credit: int) -> tuple[AccountState, AccountState]:
        if debit == credit:
            raise LedgerError("debit and credit account are the same")
        src, dst = self.account(debit), self.account(credit)
        if src.ledger != dst.ledger:
            raise LedgerMismatch(f"{src.ledger} -> {dst.ledger}")
        return src, dst

    def _record(
        self, src, debit, credit, amount, flags, code, reason, key, pending_id, transfer_id=None
    ) -> str:
        tid = transfer_id or new_id()
        self._rows.append(
            (
                tid,
                key,
                src.ledger,
                debit,
                credit,
                amount,
                flags,
                pending_id,
                code,
                reason,
                self._stamp or self.raw.when(utcnow()),
            )
        )
        return tid

    def flush(self) -> None:
        """Write the transfers and one delta update per touched account (hub.ledger.bulk: on
        PostgreSQL one statement each)."""
        bulk.insert(self.raw, TRANSFERS, _TRANSFER_COLUMNS, self._rows)
        self._rows = []
        changed = [a for a in self.accounts.values() if any(a.delta.values())]
        # Wallets first, then the rest, each in id order: every transaction
        # takes row locks in the same order, so hub processes never deadlock.
        changed.sort(key=lambda a: (a.allow_negative, a.id))
        if self.raw.pg and changed:
            # One UPDATE for all of them locks in no set order: lock first, in that order
            # (a row this transaction locked already costs nothing more). The lock an UPDATE
            # takes, not FOR UPDATE: that one also waits for the key-share locks the transfers
            # just inserted took on the same accounts in other transactions, which wait for
            # ours: a deadlock between any two sales at one outlet.
            self.raw.run(
                f"SELECT id FROM accounts WHERE id IN ({self.raw.marks(len(changed))})"
                " ORDER BY allow_negative, id FOR NO KEY UPDATE",
                [a.id for a in changed],
            )
        bulk.update(
            self.raw,
            ACCOUNTS,
            "id",
            _BALANCE_COLUMNS,
            [tuple(acc.delta[c] for c in _BALANCE_COLUMNS) + (acc.id,) for acc in changed],
            add=True,
        )
        for acc in changed:
            acc.delta = dict.fromkeys(_BALANCE_COLUMNS, 0)
