"""Cards as the hub keeps them: the credential (an RFID card or a digital card's token) and the
wallet a tap with it debits. Issue, look up, block and unblock."""

from __future__ import annotations

import base64
import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from hub.core.clock import utcnow
from hub.core.errors import Conflict, Invalid, NotFound
from hub.ledger import ACCOUNTS, create_account
from hub.tables.cards import Card

CARDS = Card.__table__
MEDIA = ("rfid", "digital")
KINDS = ("value", "debit", "employee")  # stored balance, paid later, employee consumption


@dataclass(frozen=True, slots=True)
class CardRef:
    """A card as presented, and the wallet it uses. `card_uid` is the card presented; `uid` names
    the card whose wallet, points, discounts and gifts it uses: itself or, for an RFID card linked
    to a digital wallet, the digital card. `account_id` is that wallet."""

    card_uid: str
    uid: str
    account_id: int
    status: str
    label: str
    medium: str
    kind: str
    holder_name: str
    holder_email: str
    linked_to: str | None
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.status == "active"


def canonical_uid(uid: str) -> str:
    """A card's uid as the hub stores and compares it, whichever way it came (REST or MQTT): upper
    case. An RFID UID is hex, which readers and people write in either case (our firmware sends
    upper case: firmware/readers/base.py); a digital card's token is upper-case base32 behind
    "QR-" (new_digital_uid). So case never tells two cards apart, and the protocol's card alphabet
    (protocol.messages.check_card) is ASCII, where upper() changes nothing but the case. Called
    where a uid enters the hub: the REST field type (hub.api.fields.CardUid), a device's request
    (hub.taps.authorize.Incoming), and here on issue and look-up."""
    return uid.upper()


def new_card_uid() -> str:
    """A random 7-byte UID, the size of an NTAG/DESFire UID, for cards made by the hub."""
    return secrets.token_hex(7).upper()


def new_digital_uid() -> str:
    """A digital card's uid: 120 random bits (unguessable, so the QR code is the credential),
    upper-case base32 behind "QR-", within the protocol's card alphabet (messages.check_card)."""
    return "QR-" + base64.b32encode(secrets.token_bytes(15)).decode()


def issue_card(
    conn: Connection,
    ledger: str,
    uid: str | None = None,
    label: str = "",
    *,
    medium: str = "rfid",
    kind: str = "value",
    holder_name: str = "",
    holder_email: str = "",
    credit_limit: int = 0,
) -> dict:
    """A card with an empty wallet of its own. A debit card's wallet may go below zero down
    to minus its credit limit; a digital card's uid is always made here."""
    if medium not in MEDIA or kind not in KINDS:
        raise Invalid(f"medium must be one of {MEDIA}, kind one of {KINDS}")
    if (kind == "debit") != (credit_limit > 0):
        raise Invalid("a debit card needs a credit limit above 0; other cards have none")
    if medium == "digital" and uid:
        raise Invalid("a digital card's uid is a token the hub makes")
    uid = canonical_uid(uid or (new_digital_uid() if medium == "digital" else new_card_uid()))
    if conn.execute(select(CARDS.c.uid).where(CARDS.c.uid == uid)).first():
        raise Conflict(f"card {uid} exists")
    account_id = create_account(conn, ledger, "wallet", f"card {uid}", credit_limit=credit_limit)
    insert_card(
        conn,
        uid,
        account_id,
        label=label,
        medium=medium,
        kind=kind,
        holder_name=holder_name,
        holder_email=holder_email,
    )
    return card_view(conn, uid)


def insert_card(conn: Connection, uid: str, account_id: int, **columns) -> None:
    conn.execute(
        CARDS.insert().values(uid=uid, account_id=account_id, status="active", created_at=utcnow(), **columns)
    )


def get_card(conn: Connection, uid: str) -> CardRef:
    """The card presented and the wallet it uses. Points, discounts and baskets are kept under
    `uid`, so a linked card and its digital card share them as they share `account_id`."""
    row = conn.execute(select(CARDS).where(CARDS.c.uid == canonical_uid(uid))).mappings().first()
    if row is None:
        raise NotFound(f"no card {uid}")
    return card_ref(row)


def card_ref(row) -> CardRef:
    """A CardRef from a row holding the cards table's columns."""
    return CardRef(
        card_uid=row["uid"],
        uid=row["linked_to"] or row["uid"],
        account_id=row["account_id"],
        status=row["status"],
        label=row["label"],
        medium=row["medium"],
        kind=row["kind"],
        holder_name=row["holder_name"],
        holder_email=row["holder_email"],
        linked_to=row["linked_to"],
        created_at=row["created_at"],
    )


def own_card(conn: Connection, uid: str) -> CardRef:
    """The card as its own owner: `uid` is the card presented, not the wallet it uses."""
    card = get_card(conn, uid)
    return dataclasses.replace(card, uid=card.card_uid)


def card_view(conn: Connection, uid: str, card: CardRef | None = None) -> dict:
    """The card and its wallet's balance; `card`: the card `uid` as already read (get_card)."""
    card = own_card(conn, uid) if card is None else dataclasses.replace(card, uid=card.card_uid)
    acc = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == card.account_id)).mappings().one()
    posted = acc["credits_posted"] - acc["debits_posted"]
    available = posted - acc["debits_pending"]
    return {
        "uid": card.uid,
        "status": card.status,
        "label": card.label,
        "ledger": acc["ledger"],
        "balance": posted,
        "held": acc["debits_pending"],
        "available": available,
        "medium": card.medium,
        "kind": card.kind,
        "holder_name": card.holder_name,
        "holder_email": card.holder_email,
        "personalised": bool(card.holder_name),
        "linked_to": card.linked_to,
        "credit_limit": acc["credit_limit"],
        "spendable": available + acc["credit_limit"],
        "created_at": card.created_at,
    }


def set_status(conn: Connection, uid: str, status: str) -> dict:
    get_card(conn, uid)
    conn.execute(update(CARDS).where(CARDS.c.uid == canonical_uid(uid)).values(status=status))
    return card_view(conn, uid)
