"""Cards and their wallets: issue, top up, block, read balance and history."""
from __future__ import annotations

import secrets

from sqlalchemy import Connection, or_, select, update

from hub.ledger import ACCOUNTS, TRANSFERS, Book, create_account, system_account
from hub.models import Card, utcnow

CARDS = Card.__table__
CASH_DESK = "cash desk"


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


def new_card_uid() -> str:
    """A random 7-byte UID, the size of an NTAG/DESFire UID, for cards made by the hub."""
    return secrets.token_hex(7).upper()


def issue_card(conn: Connection, ledger: str, uid: str | None = None, label: str = "") -> dict:
    uid = (uid or new_card_uid()).upper()
    if conn.execute(select(CARDS.c.uid).where(CARDS.c.uid == uid)).first():
        raise Conflict(f"card {uid} exists")
    account_id = create_account(conn, ledger, "wallet", f"card {uid}")
    conn.execute(CARDS.insert().values(uid=uid, account_id=account_id, status="active",
                                       label=label, created_at=utcnow()))
    return card_view(conn, uid)


def get_card(conn: Connection, uid: str) -> dict:
    row = conn.execute(select(CARDS).where(CARDS.c.uid == uid.upper())).mappings().first()
    if row is None:
        raise NotFound(f"no card {uid}")
    return dict(row)


def card_view(conn: Connection, uid: str) -> dict:
    card = get_card(conn, uid)
    acc = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == card["account_id"])).mappings().one()
    posted = acc["credits_posted"] - acc["debits_posted"]
    return {
        "uid": card["uid"], "status": card["status"], "label": card["label"],
        "ledger": acc["ledger"], "balance": posted, "held": acc["debits_pending"],
        "available": posted - acc["debits_pending"],
    }


def set_status(conn: Connection, uid: str, status: str) -> dict:
    get_card(conn, uid)
    conn.execute(update(CARDS).where(CARDS.c.uid == uid.upper()).values(status=status))
    return card_view(conn, uid)


def top_up(conn: Connection, uid: str, amount: int, key: str, reason: str = "") -> dict:
    """Credit a wallet from the cash desk. A repeated key books nothing new."""
    card = get_card(conn, uid)
    ledger = conn.execute(select(ACCOUNTS.c.ledger).where(ACCOUNTS.c.id == card["account_id"])).scalar()
    done = conn.execute(select(TRANSFERS).where(TRANSFERS.c.idempotency_key == key)).mappings().first()
    if done is not None:
        if done["credit_account_id"] != card["account_id"] or done["amount"] != amount:
            raise Conflict(f"idempotency key {key} was used for another top-up")
        return {"transfer": done["id"], "repeated": True, **card_view(conn, uid)}
    book = Book(conn)
    cash = system_account(conn, ledger, "cash", CASH_DESK)
    tid = book.transfer(cash, card["account_id"], amount, code="topup",
                        reason=reason or "top-up at the cash desk", key=key)
    book.flush()
    return {"transfer": tid, "repeated": False, **card_view(conn, uid)}


def history(conn: Connection, uid: str, limit: int = 100) -> list[dict]:
    card = get_card(conn, uid)
    acc = card["account_id"]
    rows = conn.execute(select(TRANSFERS).where(
        or_(TRANSFERS.c.debit_account_id == acc, TRANSFERS.c.credit_account_id == acc),
    ).order_by(TRANSFERS.c.created_at.desc(), TRANSFERS.c.id).limit(limit)).mappings()
    return [{
        "id": r["id"], "at": r["created_at"], "code": r["code"], "reason": r["reason"],
        "kind": r["flags"], "pending_id": r["pending_id"],
        "amount": r["amount"] if r["credit_account_id"] == acc else -r["amount"],
    } for r in rows]
