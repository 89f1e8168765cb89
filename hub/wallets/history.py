"""A card's history: its wallet's transfers as the card sees them."""

from __future__ import annotations

from sqlalchemy import Connection, or_, select

from hub.ledger import TRANSFERS
from hub.tables.cards import CardLink
from hub.wallets.cards import CardRef, get_card

LINKS = CardLink.__table__


def _accounts_of(conn: Connection, card: CardRef) -> set[int]:
    """The wallet a card uses now and the one it had before it was linked."""
    before = conn.execute(
        select(LINKS.c.previous_account_id).where(LINKS.c.card_uid == card.card_uid)
    ).scalar()
    return {card.account_id} | ({before} if before else set())


def history(conn: Connection, uid: str, limit: int = 100) -> list[dict]:
    """The card's wallet's transfers, newest first; a linked card's include those of its
    wallet before the link (the move between its two wallets changes nothing: amount 0)."""
    accounts = _accounts_of(conn, get_card(conn, uid))
    rows = conn.execute(
        select(TRANSFERS)
        .where(
            or_(TRANSFERS.c.debit_account_id.in_(accounts), TRANSFERS.c.credit_account_id.in_(accounts)),
        )
        .order_by(TRANSFERS.c.created_at.desc(), TRANSFERS.c.id)
        .limit(limit)
    ).mappings()
    return [
        {
            "id": r["id"],
            "at": r["created_at"],
            "code": r["code"],
            "reason": r["reason"],
            "kind": r["flags"],
            "pending_id": r["pending_id"],
            "amount": _signed(r, accounts),
        }
        for r in rows
    ]


def _signed(transfer, accounts: set[int]) -> int:
    into, out_of = transfer["credit_account_id"] in accounts, transfer["debit_account_id"] in accounts
    return 0 if into and out_of else transfer["amount"] if into else -transfer["amount"]
