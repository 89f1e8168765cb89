"""Gifts at a till and in a basket: the gifts a card may choose with its points and the choice
(seed 002), units handed out by hand, redemption at a till or in a basket, giving them back when a
basket is refunded, and the basket lines gift vouchers cover."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, select

from hub.core.clock import utcnow
from hub.core.errors import Conflict, GiftError, Invalid
from hub.gifts.accounts import REDEEMED, gift_account, node_account, obligation_account, sink_account
from hub.gifts.items import get_item, list_items
from hub.gifts.lots import (
    LOTS,
    MOVES,
    book_redemption_obligations,
    grant,
    open_lots,
    record_move,
    redeemable_at,
    take_oldest,
)
from hub.ledger import TRANSFERS, Book
from hub.loyalty import outlets, points
from hub.wallets.cards import canonical_uid, get_card


def choices(conn: Connection, uid: str, now: dt.datetime) -> list[dict]:
    """The gifts the card may choose with its points now (its available points reach the level)."""
    available = points.summary(conn, uid, now)["available"]
    return [
        i
        for i in list_items(conn)
        if i["points_price"] is not None and available >= max(i["points_price"], i["points_level"] or 0)
    ]


def choose_with_points(
    conn: Connection, uid: str, item_id: str, outlet_id: str, key: str, now: dt.datetime
) -> dict:
    """The visitor chooses a gift and pays for it with points (seed 002); the outlet grants it.
    Once per key: a repeat returns the lot with repeated=true."""
    done = conn.execute(select(LOTS).where(LOTS.c.source_key == key)).mappings().first()
    if done is not None:
        return {**dict(done), "points": get_item(conn, done["item_id"])["points_price"], "repeated": True}
    card, item = get_card(conn, uid), get_item(conn, item_id)
    outlet = outlets.get_outlet(conn, outlet_id)
    if item["points_price"] is None:
        raise Invalid(f"gift {item_id} cannot be chosen with points")
    level = item["points_level"] or 0
    available = points.summary(conn, card.uid, now)["available"]
    if available < level:
        raise GiftError(f"gift {item_id} needs a level of {level} points, card {card.uid} has {available}")
    book = Book(conn)
    reason = f"{item_id} chosen with {item['points_price']} points at {outlet_id}"
    if item["points_price"]:
        points.redeem(conn, book, card.uid, item["points_price"], key, key + "/points", reason, now)
    lot = grant(conn, book, card.uid, item, 1, outlet, key, reason, source="points", now=now)
    book.flush()
    return {**lot, "points": item["points_price"], "repeated": False}


def give(
    conn: Connection,
    uid: str,
    item_id: str,
    units: int,
    outlet_id: str,
    key: str,
    reason: str,
    now: dt.datetime | None = None,
) -> dict:
    """Hand out gift units manually at an outlet (the outlet grants them). Once per key."""
    done = conn.execute(select(LOTS).where(LOTS.c.source_key == key)).mappings().first()
    if done is not None:
        return {**dict(done), "repeated": True}
    card, item = get_card(conn, uid), get_item(conn, item_id)
    book = Book(conn)
    lot = grant(
        conn,
        book,
        card.uid,
        item,
        units,
        outlets.get_outlet(conn, outlet_id),
        key,
        reason or f"{units} x {item_id} given at {outlet_id}",
        source="manual",
        now=now,
    )
    book.flush()
    return {**lot, "repeated": False}


def redeem(
    conn: Connection,
    book: Book,
    uid: str,
    item_id: str,
    units: int,
    outlet_id: str,
    ref: str,
    key: str,
    reason: str,
) -> dict:
    """Redeem units at once (a till hands the gift over, a basket voucher): the card's oldest lots
    give them, the settlement node owes the outlet their value. GiftError if the card lacks them or
    the gift is not redeemable there. The caller flushes the book."""
    card, item = get_card(conn, uid), get_item(conn, item_id)
    outlet = outlets.get_outlet(conn, outlet_id)
    if card.status != "active":
        raise Conflict(f"card {card.uid} is {card.status}")
    if not redeemable_at(item, outlet):
        raise GiftError(f"gift {item_id} is not redeemable at {outlet_id}")
    account = gift_account(conn, card.uid, item, create=False)
    if account is None or book.account(account).available < units:
        raise GiftError(f"card {card.uid} does not hold {units} x {item_id}")
    taken = take_oldest(conn, card.uid, item_id, units, ref, "redeem", outlet_id)
    book.transfer(
        account,
        sink_account(conn, book, item, REDEEMED),
        units,
        code="gift_redeemed",
        reason=f"{units} x {item_id} at {outlet_id}: {reason}",
        key=key,
    )
    value = book_redemption_obligations(conn, book, item, outlet, taken, key, reason)
    return {"uid": card.uid, "item_id": item_id, "units": units, "outlet_id": outlet_id, "value": value}


def redeem_at_till(conn: Connection, uid: str, item_id: str, units: int, outlet_id: str, key: str) -> dict:
    """REST redemption at an outlet's till. Once per key: a repeat answers repeated=true."""
    if conn.execute(select(TRANSFERS.c.id).where(TRANSFERS.c.idempotency_key == key)).first():
        taken = conn.execute(
            select(func.coalesce(func.sum(MOVES.c.units), 0)).where(
                MOVES.c.ref == key, MOVES.c.kind == "redeem"
            )
        ).scalar()
        return {
            "uid": canonical_uid(uid),
            "item_id": item_id,
            "units": int(taken),
            "outlet_id": outlet_id,
            "value": _obligation_of(conn, key),
            "repeated": True,
        }
    book = Book(conn)
    out = redeem(conn, book, uid, item_id, units, outlet_id, key, key, f"redeemed at the till of {outlet_id}")
    book.flush()
    return {**out, "repeated": False}


def _obligation_of(conn: Connection, key: str) -> int:
    return int(
        conn.execute(
            select(func.coalesce(func.sum(TRANSFERS.c.amount), 0)).where(
                TRANSFERS.c.idempotency_key == key + "/obligation"
            )
        ).scalar()
    )


def give_back(conn: Connection, book: Book, uid: str, ref: str, outlet_id: str, key: str, reason: str) -> int:
    """Undo the redemptions of `ref` (a refunded basket): the units go back into the lots they came
    from and the outlet's redemption obligation is reversed. Returns the units given back."""
    rows = conn.execute(
        select(MOVES.c.lot_id, MOVES.c.units).where(MOVES.c.ref == ref, MOVES.c.kind == "redeem")
    ).all()
    by_item: dict[str, list] = {}
    for lot_id, n in rows:
        lot = dict(conn.execute(select(LOTS).where(LOTS.c.id == lot_id)).mappings().one())
        record_move(conn, lot_id, ref, "return", n, outlet_id)
        by_item.setdefault(lot["item_id"], []).append((lot, n))
    outlet = outlets.get_outlet(conn, outlet_id) if rows else None
    for item_id, taken in sorted(by_item.items()):
        item = get_item(conn, item_id)
        units, value = sum(n for _, n in taken), sum(lot["value"] * n for lot, n in taken)
        book.transfer(
            sink_account(conn, book, item, REDEEMED),
            taken[0][0]["account_id"],
            units,
            code="gift_returned",
            reason=reason,
            key=f"{key}/{item_id}",
        )
        if value:
            node = node_account(conn, item["currency"], book=book)
            book.transfer(
                obligation_account(conn, outlet, book),
                node,
                value,
                code="gift_redeem_reversed",
                reason=reason,
                key=f"{key}/{item_id}/obligation",
            )
    return sum(n for _, n in rows)


def cover_lines(conn: Connection, uid: str, outlet: dict, lines: list[dict], vouchers: list[dict]) -> int:
    """Mark basket lines paid by gift vouchers (seed 001: a voucher for an article): each voucher
    {line_id, item_id} covers its whole line (quantity units of the gift, the line's net price).
    The gift must be a voucher for the line's article, redeemable at the outlet and held by the card
    in that number. Returns the value covered; books nothing."""
    by_id = {line["line_id"]: line for line in lines}
    need: dict[str, int] = {}
    for v in vouchers:
        line = by_id.get(str(v["line_id"]))
        if line is None:
            raise Invalid(f"voucher for an unknown line {v['line_id']}")
        if "voucher_item" in line:
            raise Invalid(f"line {line['line_id']} carries two vouchers")
        item = get_item(conn, v["item_id"])
        if item["article_id"] != line["article_id"] or line["kind"] == "component":
            raise Invalid(f"gift {item['id']} is no voucher for line {line['line_id']}")
        if not redeemable_at(item, outlet):
            raise GiftError(f"gift {item['id']} is not redeemable at {outlet['id']}")
        line.update(
            voucher_item=item["id"],
            voucher_type=item["voucher_type"],
            voucher_units=line["quantity"],
            covered=line["net"],
        )
        need[item["id"]] = need.get(item["id"], 0) + line["quantity"]
    for item_id, n in need.items():
        have = units_available(conn, uid, item_id)
        if have < n:
            raise GiftError(f"card {uid} holds {have} x {item_id}, the basket uses {n}")
    return sum(line.get("covered", 0) for line in lines)


def units_available(conn: Connection, uid: str, item_id: str) -> int:
    return sum(lot["remaining"] for lot in open_lots(conn, uid, item_id, utcnow()))
