"""The double-entry ledger: `Book` (transfers and holds of one transaction, one balance update
per touched account) and the accounts it moves money between."""

from __future__ import annotations

from hub.core.errors import InsufficientFunds, LedgerError, LedgerMismatch
from hub.ledger.accounts import (
    ACCOUNTS,
    TRANSFERS,
    balance_from_log,
    create_account,
    create_accounts,
    ledger_totals,
    net_flow,
    system_account,
)
from hub.ledger.book import AccountState, Book, new_id

__all__ = [
    "ACCOUNTS",
    "TRANSFERS",
    "AccountState",
    "Book",
    "InsufficientFunds",
    "LedgerError",
    "LedgerMismatch",
    "balance_from_log",
    "create_account",
    "create_accounts",
    "ledger_totals",
    "net_flow",
    "new_id",
    "system_account",
]
