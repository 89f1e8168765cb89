"""The seed's guard against abuse, made visible: per outlet, what it gave as gifts and how much of
that other outlets handed over. The top-up bonus side (`bonus_given`,
`bonus_redeemed_elsewhere`) comes from the allocation of cards' money
(hub.settlement.allocation); the gift side is read here from the gift lots' moves, since a
redemption's obligation transfer does not name the lots (and so the granting outlets) it took.
Informational: the nets are settled by the obligation transfers themselves."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from hub.tables.gifts import GiftItem, GiftLot, GiftLotMove

ITEMS, LOTS, MOVES = GiftItem.__table__, GiftLot.__table__, GiftLotMove.__table__

# What a move does to the units handed over: taken at a till or in a basket, delivered by a
# machine; given back when a basket is refunded.
HANDED_OVER = {"redeem": 1, "delivered": 1, "return": -1}


def gifts_redeemed_elsewhere(
    conn: Connection, ledger: str, since: dt.datetime, until: dt.datetime
) -> dict[str, dict]:
    """Per granting outlet: the value of its gifts handed over at other outlets in [since, until),
    with the lot moves behind it."""
    query = (
        select(MOVES.c.id, MOVES.c.kind, MOVES.c.units, LOTS.c.value, LOTS.c.granted_by)
        .join(LOTS, LOTS.c.id == MOVES.c.lot_id)
        .join(ITEMS, ITEMS.c.id == LOTS.c.item_id)
        .where(
            ITEMS.c.currency == ledger,
            MOVES.c.kind.in_(tuple(HANDED_OVER)),
            MOVES.c.outlet_id.is_not(None),
            MOVES.c.outlet_id != LOTS.c.granted_by,
            MOVES.c.created_at >= since,
            MOVES.c.created_at < until,
        )
        .order_by(MOVES.c.id)
    )
    found: dict[str, dict] = {}
    for move_id, kind, units, value, outlet in conn.execute(query):
        figure = found.setdefault(outlet, {"amount": 0, "lot_moves": []})
        figure["amount"] += HANDED_OVER[kind] * units * value
        figure["lot_moves"].append(move_id)
    return found
