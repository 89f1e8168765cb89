"""Debit cards (paid later): a card's statement and the cards that owe money."""

from __future__ import annotations

from sqlalchemy import Connection, select

from hub.core.errors import Conflict
from hub.ledger import ACCOUNTS
from hub.wallets.cards import CARDS, card_view
from hub.wallets.cash_desk import SETTLEMENT_CODE
from hub.wallets.history import MONEY_KINDS, history


def statement(conn: Connection, uid: str, limit: int = 1000) -> dict:
    """What a debit card owes and what it was charged since its last settlement."""
    view = card_view(conn, uid)
    if view["kind"] != "debit":
        raise Conflict(f"card {uid} is a {view['kind']} card; only a debit card has a statement")
    entries, settled_at = [], None
    for entry in history(conn, uid, limit, kinds=MONEY_KINDS):  # newest first
        if entry["code"] == SETTLEMENT_CODE:
            settled_at = entry["at"]
            break
        entries.append(entry)
    return {
        "uid": view["uid"],
        "owed": max(0, -view["available"]),
        "held": view["held"],
        "credit_limit": view["credit_limit"],
        "spendable": view["spendable"],
        "last_settlement_at": settled_at,
        "entries": entries,
    }


def owing(conn: Connection) -> list[dict]:
    """Every debit card's wallet that owes money (for invoicing), the largest debt first."""
    balance = ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted
    rows = conn.execute(
        select(
            CARDS.c.uid,
            CARDS.c.medium,
            CARDS.c.label,
            CARDS.c.holder_name,
            CARDS.c.holder_email,
            ACCOUNTS.c.credit_limit,
            (-balance).label("owed"),
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == CARDS.c.account_id)
        .where(CARDS.c.kind == "debit", CARDS.c.linked_to.is_(None), balance < 0)
        .order_by(balance, CARDS.c.uid)
    ).mappings()
    return [_listed(dict(r)) for r in rows]


def masked(token: str) -> str:
    """A digital card's token as a list may show it: its last four characters."""
    return "…" + token[-4:]


def _listed(row: dict) -> dict:
    """A row of the owed list. An RFID card is named by its uid. A digital card's uid is its
    credential (its QR code opens the wallet): it is never listed, only its label, its
    holder and the token's last four characters (the holder shows the card to settle)."""
    medium = row.pop("medium")
    label = row.pop("label")
    if medium == "digital":
        return {**row, "uid": None, "masked_token": masked(row["uid"]), "label": label}
    return row
