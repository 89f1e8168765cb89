"""Moving a whole wallet to another: a lost card's replacement, an RFID card joining a digital
wallet."""

from __future__ import annotations

from sqlalchemy import Connection, update

from hub.ledger import ACCOUNTS, Book
from hub.wallets import topup_bonus
from hub.wallets.cash_desk import unspent_bonus


def move_balance(
    conn: Connection, book: Book, source: int, target: int, available: int, code: str, reason: str, ref: str
) -> None:
    """Move a settled wallet's whole balance to another wallet, and take away its credit
    limit. Bonus credit moves as bonus, so a later refund still tells it apart; what a
    debit card owes moves as a debt (target → source)."""
    if available < 0:
        book.transfer(target, source, -available, code=code, reason=reason, key=f"{ref}/debt")
    bonus = unspent_bonus(conn, source, available)
    for amount, what in ((available - bonus, code), (bonus, topup_bonus.BONUS_CODE)):
        if amount > 0:
            book.transfer(source, target, amount, code=what, reason=reason, key=f"{ref}/{what}")
    conn.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == source).values(credit_limit=0))
