"""Cards and their wallets: issue, top up (with bonus), block, replace a lost card,
refund, read balance and history."""
from __future__ import annotations

import base64
import secrets

from sqlalchemy import Connection, func, or_, select, update

from hub import promotions
from hub.card_tables import CardLink
from hub.ledger import ACCOUNTS, TRANSFERS, Book, create_account, system_account
from hub.models import Card, utcnow

CARDS = Card.__table__
LINKS = CardLink.__table__
CASH_DESK = "cash desk"
MEDIA = ("rfid", "digital")
KINDS = ("value", "debit", "employee")  # stored balance, paid later, employee consumption
SETTLEMENT_CODE = "debit_settlement"


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


def new_card_uid() -> str:
    """A random 7-byte UID, the size of an NTAG/DESFire UID, for cards made by the hub."""
    return secrets.token_hex(7).upper()


def new_digital_uid() -> str:
    """A digital card's uid: 120 random bits (unguessable, so the QR code is the credential),
    upper-case base32 behind "QR-", within the protocol's card alphabet (messages.check_card)."""
    return "QR-" + base64.b32encode(secrets.token_bytes(15)).decode()


def issue_card(conn: Connection, ledger: str, uid: str | None = None, label: str = "", *,
               medium: str = "rfid", kind: str = "value", holder_name: str = "",
               holder_email: str = "", credit_limit: int = 0) -> dict:
    """A card with an empty wallet of its own. A debit card's wallet may go below zero down
    to minus its credit limit; a digital card's uid is always made here."""
    if medium not in MEDIA or kind not in KINDS:
        raise ValueError(f"medium must be one of {MEDIA}, kind one of {KINDS}")
    if (kind == "debit") != (credit_limit > 0):
        raise ValueError("a debit card needs a credit limit above 0; other cards have none")
    if medium == "digital" and uid:
        raise ValueError("a digital card's uid is a token the hub makes")
    uid = (uid or (new_digital_uid() if medium == "digital" else new_card_uid())).upper()
    if conn.execute(select(CARDS.c.uid).where(CARDS.c.uid == uid)).first():
        raise Conflict(f"card {uid} exists")
    account_id = create_account(conn, ledger, "wallet", f"card {uid}", credit_limit=credit_limit)
    _insert_card(conn, uid, account_id, label=label, medium=medium, kind=kind,
                 holder_name=holder_name, holder_email=holder_email)
    return card_view(conn, uid)


def _insert_card(conn: Connection, uid: str, account_id: int, **columns) -> None:
    conn.execute(CARDS.insert().values(uid=uid, account_id=account_id, status="active",
                                       created_at=utcnow(), **columns))


def get_card(conn: Connection, uid: str) -> dict:
    """The card presented — its own row, status and `card_uid` — and the wallet it uses:
    `uid` names that wallet, i.e. the card itself or, for an RFID card linked to a digital
    wallet, the digital card. Points, discounts and baskets are kept under `uid`, so a
    linked card and its digital card share them as they share `account_id`."""
    row = conn.execute(select(CARDS).where(CARDS.c.uid == uid.upper())).mappings().first()
    if row is None:
        raise NotFound(f"no card {uid}")
    return {**row, "card_uid": row["uid"], "uid": row["linked_to"] or row["uid"]}


def own_card(conn: Connection, uid: str) -> dict:
    """The card's own row: `uid` is the card presented, not the wallet it uses."""
    card = get_card(conn, uid)
    return {**card, "uid": card["card_uid"]}


def card_view(conn: Connection, uid: str) -> dict:
    card = own_card(conn, uid)
    acc = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == card["account_id"])).mappings().one()
    posted = acc["credits_posted"] - acc["debits_posted"]
    available = posted - acc["debits_pending"]
    return {
        "uid": card["uid"], "status": card["status"], "label": card["label"],
        "ledger": acc["ledger"], "balance": posted, "held": acc["debits_pending"],
        "available": available, "medium": card["medium"], "kind": card["kind"],
        "holder_name": card["holder_name"], "holder_email": card["holder_email"],
        "personalised": bool(card["holder_name"]), "linked_to": card["linked_to"],
        "credit_limit": acc["credit_limit"], "spendable": available + acc["credit_limit"],
        "created_at": card["created_at"],
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
    if card["kind"] == "debit":
        raise Conflict(f"card {uid} is a debit card, paid later: settle what it owes instead")
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


def settle(conn: Connection, uid: str, key: str, amount: int | None = None) -> dict:
    """The holder of a debit card pays at the cash desk what the card owes (all of it unless
    `amount` says less); a debit card holds no credit, so never more."""
    card, view = _settled(conn, uid)
    if card["kind"] != "debit":
        raise Conflict(f"card {uid} is a {card['kind']} card; only a debit card is settled")
    done = _repeat(conn, key, card["account_id"], amount)
    if done is not None:
        return {"settled": done["amount"], "repeated": True, **view}
    owed = max(0, -view["available"])
    amount = owed if amount is None else amount
    if not 0 < amount <= owed:
        raise Conflict(f"card {uid} owes {owed}; a settlement pays between 1 and that")
    book = Book(conn)
    cash = system_account(conn, _ledger(conn, card["account_id"]), "cash", CASH_DESK)
    book.transfer(cash, card["account_id"], amount, code=SETTLEMENT_CODE,
                  reason=f"debit card settled: {amount} of {owed} owed", key=key)
    book.flush()
    return {"settled": amount, "repeated": False, **card_view(conn, uid)}


def refund(conn: Connection, uid: str, key: str) -> dict:
    """Pay back the card's own money at the cash desk; its unspent bonus lapses. A debit
    card that owes money is settled instead: `refunded` is then negative, what was paid in."""
    card, view = _settled(conn, uid)
    done = _repeat(conn, key, card["account_id"], None)
    if done is not None:
        sign = -1 if done["code"] == SETTLEMENT_CODE else 1
        return {"refunded": sign * done["amount"], "repeated": True, **view}
    if view["available"] < 0:
        settled = settle(conn, uid, key)
        return {"refunded": -settled["settled"], "bonus_lapsed": 0, "repeated": False,
                **card_view(conn, uid)}
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


def move_balance(conn: Connection, book: Book, source: int, target: int, available: int,
                 code: str, reason: str, ref: str) -> None:
    """Move a settled wallet's whole balance to another wallet, and take away its credit
    limit. Bonus credit moves as bonus, so a later refund still tells it apart; what a
    debit card owes moves as a debt (target → source)."""
    if available < 0:
        book.transfer(target, source, -available, code=code, reason=reason, key=f"{ref}/debt")
    bonus = unspent_bonus(conn, source, available)
    for amount, what in ((available - bonus, code), (bonus, promotions.BONUS_CODE)):
        if amount > 0:
            book.transfer(source, target, amount, code=what, reason=reason, key=f"{ref}/{what}")
    conn.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == source).values(credit_limit=0))


def replace(conn: Connection, uid: str, new_uid: str | None = None, label: str = "") -> dict:
    """Block a lost card and move its balance and points to a new card of the same medium,
    kind and holder; both keep their history. Each points lot keeps its availability and
    expiry; the card's own discounts go along. A linked RFID card's replacement is linked
    to the same wallet (nothing moves); a digital card's linked cards follow its wallet."""
    card, view = _settled(conn, uid)
    old_uid = card["card_uid"]
    if card["status"] != "active":
        raise Conflict(f"card {uid} is {card['status']}")
    if card["medium"] == "digital" and new_uid:
        raise Conflict("a digital card's replacement gets a token the hub makes")
    if card["linked_to"]:
        return _replace_linked(conn, card, new_uid, label)
    new = issue_card(conn, view["ledger"], new_uid, label or card["label"], medium=card["medium"],
                     kind=card["kind"], holder_name=card["holder_name"],
                     holder_email=card["holder_email"], credit_limit=view["credit_limit"])
    new_account = get_card(conn, new["uid"])["account_id"]
    set_status(conn, old_uid, "blocked")
    book = Book(conn)
    book.load(sorted((card["account_id"], new_account)))
    move_balance(conn, book, card["account_id"], new_account, view["available"], "card_replaced",
                 f"moved from lost card {old_uid} to {new['uid']}", f"replace/{old_uid}")
    from hub import discounts, gifts, points  # they build on cards: imported here, not at the top

    points.move_lots(conn, book, old_uid, new["uid"], ref=f"replace/{old_uid}/points")
    gifts.move_lots(conn, book, old_uid, new["uid"], ref=f"replace/{old_uid}/gifts")
    discounts.pass_on(conn, old_uid, new["uid"])
    conn.execute(update(CARDS).where(CARDS.c.linked_to == old_uid).values(
        linked_to=new["uid"], account_id=new_account))
    book.flush()
    return {"old": card_view(conn, old_uid), "new": card_view(conn, new["uid"])}


def _replace_linked(conn: Connection, card: dict, new_uid: str | None, label: str) -> dict:
    new_uid = (new_uid or new_card_uid()).upper()
    if conn.execute(select(CARDS.c.uid).where(CARDS.c.uid == new_uid)).first():
        raise Conflict(f"card {new_uid} exists")
    _insert_card(conn, new_uid, card["account_id"], label=label or card["label"],
                 medium=card["medium"], kind=card["kind"], holder_name=card["holder_name"],
                 holder_email=card["holder_email"], linked_to=card["linked_to"])
    conn.execute(LINKS.insert().values(card_uid=new_uid, wallet_uid=card["linked_to"],
                                       previous_account_id=None, linked_at=utcnow()))
    set_status(conn, card["card_uid"], "blocked")
    return {"old": card_view(conn, card["card_uid"]), "new": card_view(conn, new_uid)}


def _accounts_of(conn: Connection, card: dict) -> set[int]:
    """The wallet a card uses now and the one it had before it was linked."""
    before = conn.execute(select(LINKS.c.previous_account_id).where(
        LINKS.c.card_uid == card["card_uid"])).scalar()
    return {card["account_id"]} | ({before} if before else set())


def history(conn: Connection, uid: str, limit: int = 100) -> list[dict]:
    """The card's wallet's transfers, newest first; a linked card's include those of its
    wallet before the link (the move between its two wallets changes nothing: amount 0)."""
    accounts = _accounts_of(conn, get_card(conn, uid))
    rows = conn.execute(select(TRANSFERS).where(
        or_(TRANSFERS.c.debit_account_id.in_(accounts), TRANSFERS.c.credit_account_id.in_(accounts)),
    ).order_by(TRANSFERS.c.created_at.desc(), TRANSFERS.c.id).limit(limit)).mappings()
    return [{
        "id": r["id"], "at": r["created_at"], "code": r["code"], "reason": r["reason"],
        "kind": r["flags"], "pending_id": r["pending_id"],
        "amount": _signed(r, accounts),
    } for r in rows]


def _signed(transfer, accounts: set[int]) -> int:
    into, out_of = transfer["credit_account_id"] in accounts, transfer["debit_account_id"] in accounts
    return 0 if into and out_of else transfer["amount"] if into else -transfer["amount"]
