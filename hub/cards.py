"""Card types and digital cards (seed 002): value, debit and employee cards, personalised or
anonymous; digital cards shown as a QR code; an RFID card linked to a digital wallet.

Linking (seed 002: "if an RFID card has already been used, it can later be linked to the digital
wallet; balance and points are then synchronised. If a digital card was created first, a later link
with an RFID card is no longer possible"):
  * only an RFID card is linked, only to a digital card, and only if the RFID card is the older one;
    anything else is refused (Conflict), nothing is booked;
  * the RFID card's balance (bonus as bonus, a debit card's debt as debt) and its points lots (each
    with its availability and expiry) move to the digital card; its own wallet keeps its history;
  * from then on the RFID card's row names the digital card's wallet (cards.account_id), so a tap
    with either credential debits the one wallet, and `wallets.get_card` names the digital card as
    the owner of points and discounts;
  * both cards must be of the same kind (a value card joins a value wallet, a debit card a debit
    wallet within the digital card's credit limit);
  * the RFID card's own discounts go to the digital card if that has none.
"""
from __future__ import annotations

import io

import segno
from sqlalchemy import Connection, select, update

from hub import discounts, gifts, points
from hub.ledger import ACCOUNTS, Book
from hub.models import utcnow
from hub.wallets import (CARDS, LINKS, SETTLEMENT_CODE, Conflict, NotFound, card_view, get_card,
                         history, issue_card, move_balance, own_card)

EMPLOYEE_GROUP = "employee"


def issue(conn: Connection, ledger: str, medium: str, uid: str | None = None, *, label: str = "",
          kind: str = "value", holder_name: str = "", holder_email: str = "", credit_limit: int = 0,
          discount_group: str | None = None) -> dict:
    """Issue a card of a kind. An employee card joins the discount group given, by default
    "employee" — made on first use as a general 100 % (seed 002: employee consumption)."""
    if kind == "employee" and discount_group is None:
        discount_group = EMPLOYEE_GROUP
        _employee_group(conn)
    if discount_group is not None:
        discounts.get_group(conn, discount_group)  # NotFound before anything is issued
    card = issue_card(conn, ledger, uid, label, medium=medium, kind=kind, holder_name=holder_name,
                      holder_email=holder_email, credit_limit=credit_limit)
    if discount_group is not None:
        discounts.set_card_discounts(conn, card["uid"], discount_group, [])
    return details(conn, card["uid"])


def _employee_group(conn: Connection) -> None:
    try:
        discounts.get_group(conn, EMPLOYEE_GROUP)
    except NotFound:
        discounts.create_group(conn, EMPLOYEE_GROUP, "employee consumption",
                               [{"scope": "general", "target": "", "percent": 100}])


def details(conn: Connection, uid: str) -> dict:
    """The card's view with its discount group and, for a digital card, the RFID cards linked to it."""
    view = card_view(conn, uid)
    linked = conn.execute(select(CARDS.c.uid).where(CARDS.c.linked_to == view["uid"])
                          .order_by(CARDS.c.uid)).scalars().all()
    return {**view, "discount_group": discounts.card_discounts(conn, uid)["group"],
            "linked_cards": list(linked)}


def set_holder(conn: Connection, uid: str, name: str, email: str) -> dict:
    """Personalise a card (a holder's name) or make it anonymous again (an empty name)."""
    if email and not name:
        raise ValueError("an anonymous card has no holder's e-mail")
    get_card(conn, uid)
    conn.execute(update(CARDS).where(CARDS.c.uid == uid.upper()).values(holder_name=name,
                                                                         holder_email=email))
    return details(conn, uid)


def link(conn: Connection, uid: str, wallet_uid: str) -> dict:
    """Link an RFID card to a digital card's wallet (see the module's docstring)."""
    card, wallet = own_card(conn, uid), own_card(conn, wallet_uid)
    _check_link(card, wallet)
    card_state, wallet_state = card_view(conn, card["uid"]), card_view(conn, wallet["uid"])
    for state in (card_state, wallet_state):
        if state["held"]:
            raise Conflict(f"card {state['uid']} has {state['held']} held for taps not reported yet;"
                           " try again")
    book = Book(conn)
    book.load(sorted((card["account_id"], wallet["account_id"])))
    ref = f"link/{card['uid']}"
    move_balance(conn, book, card["account_id"], wallet["account_id"], card_state["available"],
                 "card_linked", f"card {card['uid']} linked to the digital wallet {wallet['uid']}", ref)
    points_moved = points.move_lots(conn, book, card["uid"], wallet["uid"], ref=f"{ref}/points")
    gifts.move_lots(conn, book, card["uid"], wallet["uid"], ref=f"{ref}/gifts")
    discounts.pass_on(conn, card["uid"], wallet["uid"])
    conn.execute(update(CARDS).where(CARDS.c.uid == card["uid"]).values(
        account_id=wallet["account_id"], linked_to=wallet["uid"]))
    conn.execute(LINKS.insert().values(card_uid=card["uid"], wallet_uid=wallet["uid"],
                                       previous_account_id=card["account_id"],
                                       moved=card_state["available"], points_moved=points_moved,
                                       linked_at=utcnow()))
    book.flush()
    return {"card": details(conn, card["uid"]), "wallet": details(conn, wallet["uid"]),
            "moved": card_state["available"], "points_moved": points_moved}


def _check_link(card: dict, wallet: dict) -> None:
    if card["medium"] != "rfid":
        raise Conflict(f"card {card['uid']} is a digital card: only an RFID card is linked to a "
                       "digital wallet, never the other way round")
    if wallet["medium"] != "digital":
        raise Conflict(f"card {wallet['uid']} is an RFID card: an RFID card is linked to a "
                       "digital card's wallet")
    if card["linked_to"]:
        raise Conflict(f"card {card['uid']} is linked to {card['linked_to']} already")
    if wallet["created_at"] < card["created_at"]:
        raise Conflict(f"the digital card {wallet['uid']} was created before the RFID card "
                       f"{card['uid']}: a later link is not possible (seed 002)")
    for c in (card, wallet):
        if c["status"] != "active":
            raise Conflict(f"card {c['uid']} is {c['status']}")
    if card["kind"] != wallet["kind"]:
        raise Conflict(f"card {card['uid']} is a {card['kind']} card, {wallet['uid']} a "
                       f"{wallet['kind']} card: only cards of one kind share a wallet")


# -- QR codes ----------------------------------------------------------------------------------------

def qr(conn: Connection, uid: str) -> segno.QRCode:
    """The QR code of a digital card: its uid (the token a scanner sends as the card)."""
    card = own_card(conn, uid)
    if card["medium"] != "digital":
        raise Conflict(f"card {card['uid']} is an RFID card; only a digital card has a QR code")
    return segno.make(card["uid"], error="m")


def qr_image(conn: Connection, uid: str, kind: str, scale: int) -> bytes:
    out = io.BytesIO()
    qr(conn, uid).save(out, kind=kind, scale=scale, border=4)
    return out.getvalue()


# -- debit cards --------------------------------------------------------------------------------------

def statement(conn: Connection, uid: str, limit: int = 1000) -> dict:
    """What a debit card owes and what it was charged since its last settlement."""
    view = card_view(conn, uid)
    if view["kind"] != "debit":
        raise Conflict(f"card {uid} is a {view['kind']} card; only a debit card has a statement")
    entries, settled_at = [], None
    for entry in history(conn, uid, limit):  # newest first
        if entry["code"] == SETTLEMENT_CODE:
            settled_at = entry["at"]
            break
        entries.append(entry)
    return {"uid": view["uid"], "owed": max(0, -view["available"]), "held": view["held"],
            "credit_limit": view["credit_limit"], "spendable": view["spendable"],
            "last_settlement_at": settled_at, "entries": entries}


def owing(conn: Connection) -> list[dict]:
    """Every debit card's wallet that owes money (for invoicing), the largest debt first."""
    balance = ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted
    rows = conn.execute(select(CARDS.c.uid, CARDS.c.holder_name, CARDS.c.holder_email,
                               ACCOUNTS.c.credit_limit, (-balance).label("owed"))
                        .join(ACCOUNTS, ACCOUNTS.c.id == CARDS.c.account_id)
                        .where(CARDS.c.kind == "debit", CARDS.c.linked_to.is_(None), balance < 0)
                        .order_by(balance, CARDS.c.uid)).mappings()
    return [dict(r) for r in rows]
