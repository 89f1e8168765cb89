"""Cards and their wallets: issue, top up (with bonus), block, replace a lost card,
refund, read balance and history."""
from __future__ import annotations

import secrets

from sqlalchemy import Connection, func, or_, select, update

from hub import promotions
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


def _ledger(conn: Connection, account_id: int) -> str:
    return conn.execute(select(ACCOUNTS.c.ledger).where(ACCOUNTS.c.id == account_id)).scalar()


def _repeat(conn: Connection, key: str, account_id: int, amount: int) -> dict | None:
    """The transfer booked earlier under this idempotency key, if any."""
    done = conn.execute(select(TRANSFERS).where(TRANSFERS.c.idempotency_key == key)).mappings().first()
    if done is not None and (account_id not in (done["credit_account_id"], done["debit_account_id"])
                             or (amount is not None and done["amount"] != amount)):
        raise Conflict(f"idempotency key {key} was used for another booking")
    return done


def top_up(conn: Connection, uid: str, amount: int, key: str, reason: str = "") -> dict:
    """Credit a wallet from the cash desk, plus the top-up bonus its tier earns.
    A repeated key books nothing new."""
    card = get_card(conn, uid)
    done = _repeat(conn, key, card["account_id"], amount)
    if done is not None:
        bonus = conn.execute(select(TRANSFERS.c.amount).where(
            TRANSFERS.c.idempotency_key == key + "/bonus")).scalar() or 0
        return {"transfer": done["id"], "bonus": bonus, "repeated": True, **card_view(conn, uid)}
    ledger = _ledger(conn, card["account_id"])
    book = Book(conn)
    cash = system_account(conn, ledger, "cash", CASH_DESK)
    tid = book.transfer(cash, card["account_id"], amount, code="topup",
                        reason=reason or "top-up at the cash desk", key=key)
    bonus = promotions.bonus_for(conn, ledger, amount)
    if bonus:
        source = system_account(conn, ledger, "bonus", promotions.PROMOTIONS)
        book.transfer(source, card["account_id"], bonus, code=promotions.BONUS_CODE,
                      reason=f"top-up bonus on {amount}", key=key + "/bonus")
    book.flush()
    return {"transfer": tid, "bonus": bonus, "repeated": False, **card_view(conn, uid)}


def unspent_bonus(conn: Connection, account_id: int, available: int) -> int:
    """Bonus credit still in the wallet. The visitor's own money counts as spent
    first, so what is left is bonus as far as the bonus credited reaches."""
    codes = (promotions.BONUS_CODE, promotions.FORFEIT_CODE)
    credited = conn.execute(select(func.coalesce(func.sum(TRANSFERS.c.amount), 0)).where(
        TRANSFERS.c.credit_account_id == account_id, TRANSFERS.c.code.in_(codes))).scalar()
    taken = conn.execute(select(func.coalesce(func.sum(TRANSFERS.c.amount), 0)).where(
        TRANSFERS.c.debit_account_id == account_id, TRANSFERS.c.code.in_(codes))).scalar()
    return max(0, min(available, int(credited) - int(taken)))


def _settled(conn: Connection, uid: str) -> tuple[dict, dict]:
    """The card and its view, refused while taps on it wait for their report."""
    card, view = get_card(conn, uid), card_view(conn, uid)
    if view["held"]:
        raise Conflict(f"card {uid} has {view['held']} held for taps not reported yet; try again")
    return card, view


def refund(conn: Connection, uid: str, key: str) -> dict:
    """Pay back the card's own money at the cash desk; its unspent bonus lapses."""
    card, view = _settled(conn, uid)
    done = _repeat(conn, key, card["account_id"], None)
    if done is not None:
        return {"refunded": done["amount"], "repeated": True, **view}
    ledger = _ledger(conn, card["account_id"])
    bonus = unspent_bonus(conn, card["account_id"], view["available"])
    paid_back = view["available"] - bonus
    book = Book(conn)
    if paid_back:
        book.transfer(card["account_id"], system_account(conn, ledger, "cash", CASH_DESK),
                      paid_back, code="refund", reason="balance paid back", key=key)
    if bonus:
        book.transfer(card["account_id"], system_account(conn, ledger, "bonus", promotions.PROMOTIONS),
                      bonus, code=promotions.FORFEIT_CODE, reason="bonus lapses with the refund",
                      key=key + "/bonus")
    book.flush()
    return {"refunded": paid_back, "bonus_lapsed": bonus, "repeated": False,
            **card_view(conn, uid)}


def replace(conn: Connection, uid: str, new_uid: str | None = None, label: str = "") -> dict:
    """Block a lost card and move its balance and points to a new card; both keep their
    history. Bonus credit moves as bonus, so a later refund still tells it apart, and
    each points lot keeps its availability and expiry."""
    card, view = _settled(conn, uid)
    if card["status"] != "active":
        raise Conflict(f"card {uid} is {card['status']}")
    ledger = _ledger(conn, card["account_id"])
    new = issue_card(conn, ledger, new_uid, label or card["label"])
    new_account = get_card(conn, new["uid"])["account_id"]
    set_status(conn, uid, "blocked")
    bonus = unspent_bonus(conn, card["account_id"], view["available"])
    book = Book(conn)
    moves = ((view["available"] - bonus, "card_replaced"), (bonus, promotions.BONUS_CODE))
    for amount, code in moves:
        if amount:
            book.transfer(card["account_id"], new_account, amount, code=code,
                          reason=f"moved from lost card {card['uid']} to {new['uid']}",
                          key=f"replace/{card['uid']}/{code}")
    from hub import points  # points builds on cards: imported here, not at the top

    points.move_lots(conn, book, uid, new["uid"], ref=f"replace/{card['uid']}/points")
    book.flush()
    return {"old": card_view(conn, uid), "new": card_view(conn, new["uid"])}


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
