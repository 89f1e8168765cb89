"""Card kinds (seed 002): value, debit and employee cards, personalised or anonymous. An employee
card joins a discount group (employee consumption)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from hub.core.errors import Invalid, NotFound
from hub.loyalty import discounts
from hub.wallets.cards import CARDS, canonical_uid, card_view, get_card, issue_card

EMPLOYEE_GROUP = "employee"


def issue(
    conn: Connection,
    ledger: str,
    medium: str,
    uid: str | None = None,
    *,
    label: str = "",
    kind: str = "value",
    holder_name: str = "",
    holder_email: str = "",
    credit_limit: int = 0,
    discount_group: str | None = None,
) -> dict:
    """Issue a card of a kind. An employee card joins the discount group given, by default
    "employee" — made on first use as a general 100 % (seed 002: employee consumption)."""
    if kind == "employee" and discount_group is None:
        discount_group = EMPLOYEE_GROUP
        _employee_group(conn)
    if discount_group is not None:
        discounts.get_group(conn, discount_group)  # NotFound before anything is issued
    card = issue_card(
        conn,
        ledger,
        uid,
        label,
        medium=medium,
        kind=kind,
        holder_name=holder_name,
        holder_email=holder_email,
        credit_limit=credit_limit,
    )
    if discount_group is not None:
        discounts.set_card_discounts(conn, card["uid"], discount_group, [])
    return details(conn, card["uid"])


def _employee_group(conn: Connection) -> None:
    try:
        discounts.get_group(conn, EMPLOYEE_GROUP)
    except NotFound:
        discounts.create_group(
            conn, EMPLOYEE_GROUP, "employee consumption", [{"scope": "general", "target": "", "percent": 100}]
        )


def details(conn: Connection, uid: str) -> dict:
    """The card's view with its discount group and, for a digital card, the RFID cards linked to it."""
    view = card_view(conn, uid)
    linked = (
        conn.execute(select(CARDS.c.uid).where(CARDS.c.linked_to == view["uid"]).order_by(CARDS.c.uid))
        .scalars()
        .all()
    )
    return {
        **view,
        "discount_group": discounts.card_discounts(conn, uid)["group"],
        "linked_cards": list(linked),
    }


def set_holder(conn: Connection, uid: str, name: str, email: str) -> dict:
    """Personalise a card (a holder's name) or make it anonymous again (an empty name)."""
    if email and not name:
        raise Invalid("an anonymous card has no holder's e-mail")
    get_card(conn, uid)
    conn.execute(
        update(CARDS).where(CARDS.c.uid == canonical_uid(uid)).values(holder_name=name, holder_email=email)
    )
    return details(conn, uid)
