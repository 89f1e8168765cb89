"""A lost card replaced: blocked, and its balance, points, gifts and discounts moved to a new card."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from hub import gifts
from hub.core.clock import utcnow
from hub.core.errors import Conflict
from hub.ledger import Book
from hub.loyalty import discounts, points
from hub.tables.cards import CardLink
from hub.wallets.cards import (
    CARDS,
    CardRef,
    canonical_uid,
    card_view,
    get_card,
    insert_card,
    issue_card,
    new_card_uid,
    set_status,
)
from hub.wallets.cash_desk import settled_card
from hub.wallets.moves import move_balance

LINKS = CardLink.__table__


def replace(conn: Connection, uid: str, new_uid: str | None = None, label: str = "") -> dict:
    """Block a lost card and move its balance and points to a new card of the same medium,
    kind and holder; both keep their history. Each points lot keeps its availability and
    expiry; the card's own discounts go along. A linked RFID card's replacement is linked
    to the same wallet (nothing moves); a digital card's linked cards follow its wallet."""
    card, view = settled_card(conn, uid)
    old_uid = card.card_uid
    if card.status != "active":
        raise Conflict(f"card {uid} is {card.status}")
    if card.medium == "digital" and new_uid:
        raise Conflict("a digital card's replacement gets a token the hub makes")
    if card.linked_to:
        return _replace_linked(conn, card, new_uid, label)
    new = issue_card(
        conn,
        view["ledger"],
        new_uid,
        label or card.label,
        medium=card.medium,
        kind=card.kind,
        holder_name=card.holder_name,
        holder_email=card.holder_email,
        credit_limit=view["credit_limit"],
    )
    new_account = get_card(conn, new["uid"]).account_id
    set_status(conn, old_uid, "blocked")
    book = Book(conn)
    book.load(sorted((card.account_id, new_account)))
    move_balance(
        conn,
        book,
        card.account_id,
        new_account,
        view["available"],
        "card_replaced",
        f"moved from lost card {old_uid} to {new['uid']}",
        f"replace/{old_uid}",
    )
    points.move_lots(conn, book, old_uid, new["uid"], ref=f"replace/{old_uid}/points")
    gifts.move_lots(conn, book, old_uid, new["uid"], ref=f"replace/{old_uid}/gifts")
    discounts.pass_on(conn, old_uid, new["uid"])
    conn.execute(
        update(CARDS).where(CARDS.c.linked_to == old_uid).values(linked_to=new["uid"], account_id=new_account)
    )
    book.flush()
    return {"old": card_view(conn, old_uid), "new": card_view(conn, new["uid"])}


def _replace_linked(conn: Connection, card: CardRef, new_uid: str | None, label: str) -> dict:
    new_uid = canonical_uid(new_uid or new_card_uid())
    if conn.execute(select(CARDS.c.uid).where(CARDS.c.uid == new_uid)).first():
        raise Conflict(f"card {new_uid} exists")
    insert_card(
        conn,
        new_uid,
        card.account_id,
        label=label or card.label,
        medium=card.medium,
        kind=card.kind,
        holder_name=card.holder_name,
        holder_email=card.holder_email,
        linked_to=card.linked_to,
    )
    conn.execute(
        LINKS.insert().values(
            card_uid=new_uid, wallet_uid=card.linked_to, previous_account_id=None, linked_at=utcnow()
        )
    )
    set_status(conn, card.card_uid, "blocked")
    return {"old": card_view(conn, card.card_uid), "new": card_view(conn, new_uid)}
