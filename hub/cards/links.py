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

from sqlalchemy import Connection, update

from hub import gifts
from hub.cards.kinds import details
from hub.core.clock import utcnow
from hub.core.errors import Conflict
from hub.ledger import Book
from hub.loyalty import discounts, points
from hub.tables.cards import CardLink
from hub.wallets.cards import CARDS, CardRef, card_view, own_card
from hub.wallets.moves import move_balance

LINKS = CardLink.__table__


def link(conn: Connection, uid: str, wallet_uid: str) -> dict:
    """Link an RFID card to a digital card's wallet (see the module's docstring)."""
    card, wallet = own_card(conn, uid), own_card(conn, wallet_uid)
    _check_link(card, wallet)
    card_state, wallet_state = card_view(conn, card.uid), card_view(conn, wallet.uid)
    for state in (card_state, wallet_state):
        if state["held"]:
            raise Conflict(
                f"card {state['uid']} has {state['held']} held for taps not reported yet; try again"
            )
    book = Book(conn)
    book.load(sorted((card.account_id, wallet.account_id)))
    ref = f"link/{card.uid}"
    move_balance(
        conn,
        book,
        card.account_id,
        wallet.account_id,
        card_state["available"],
        "card_linked",
        f"card {card.uid} linked to the digital wallet {wallet.uid}",
        ref,
    )
    points_moved = points.move_lots(conn, book, card.uid, wallet.uid, ref=f"{ref}/points")
    gifts.move_lots(conn, book, card.uid, wallet.uid, ref=f"{ref}/gifts")
    discounts.pass_on(conn, card.uid, wallet.uid)
    conn.execute(
        update(CARDS)
        .where(CARDS.c.uid == card.uid)
        .values(account_id=wallet.account_id, linked_to=wallet.uid)
    )
    conn.execute(
        LINKS.insert().values(
            card_uid=card.uid,
            wallet_uid=wallet.uid,
            previous_account_id=card.account_id,
            moved=card_state["available"],
            points_moved=points_moved,
            linked_at=utcnow(),
        )
    )
    book.flush()
    return {
        "card": details(conn, card.uid),
        "wallet": details(conn, wallet.uid),
        "moved": card_state["available"],
        "points_moved": points_moved,
    }


def _check_link(card: CardRef, wallet: CardRef) -> None:
    if card.medium != "rfid":
        raise Conflict(
            f"card {card.uid} is a digital card: only an RFID card is linked to a "
            "digital wallet, never the other way round"
        )
    if wallet.medium != "digital":
        raise Conflict(
            f"card {wallet.uid} is an RFID card: an RFID card is linked to a digital card's wallet"
        )
    if card.linked_to:
        raise Conflict(f"card {card.uid} is linked to {card.linked_to} already")
    if wallet.created_at < card.created_at:
        raise Conflict(
            f"the digital card {wallet.uid} was created before the RFID card "
            f"{card.uid}: a later link is not possible (seed 002)"
        )
    for c in (card, wallet):
        if c.status != "active":
            raise Conflict(f"card {c.uid} is {c.status}")
    if card.kind != wallet.kind:
        raise Conflict(
            f"card {card.uid} is a {card.kind} card, {wallet.uid} a "
            f"{wallet.kind} card: only cards of one kind share a wallet"
        )
