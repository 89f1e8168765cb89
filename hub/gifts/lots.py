"""Gift lots: the dated units a card holds of a gift item and the moves that record every change to
them. A lot is granted (with the granting outlet's obligation), taken from oldest first (with the
settlement node's obligation to the redeeming outlet), moved to a replacing card; `card_gifts` is
what a card holds, `redeemable_at` where an item may be redeemed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, select

from hub.core.clock import utcnow
from hub.core.errors import GiftError
from hub.core.raw import Raw
from hub.gifts.accounts import (
    ISSUED,
    check_currency,
    gift_account,
    node_account,
    obligation_account,
    sink_account,
)
from hub.gifts.items import get_item
from hub.ledger import Book, new_id
from hub.tables.gifts import GiftHold, GiftLot, GiftLotMove
from hub.wallets.cards import get_card

LOTS = GiftLot.__table__
MOVES = GiftLotMove.__table__
HOLDS = GiftHold.__table__

_TAKE = {"hold": -1, "redeem": -1, "expire": -1, "move": -1, "release": 1, "return": 1, "delivered": 0}
_TAKE_SQL = "UPDATE gift_lots SET remaining = remaining + ? WHERE id = ?"
_MOVE_SQL = (
    "INSERT INTO gift_lot_moves (lot_id, ref, kind, units, outlet_id, created_at) VALUES (?,?,?,?,?,?)"
)


def record_move(
    conn: Connection, lot_id: str, ref: str, kind: str, units: int, outlet_id=None, raw: Raw | None = None
) -> None:
    raw = raw or Raw(conn)
    if _TAKE[kind]:
        raw.many(_TAKE_SQL, [(_TAKE[kind] * units, lot_id)])
    raw.many(_MOVE_SQL, [(lot_id, ref, kind, units, outlet_id, raw.when(utcnow()))])


def open_lots(
    conn: Connection, uid: str, item_id: str | None = None, valid_at: dt.datetime | None = None
) -> list[dict]:
    """The card's lots with units left, oldest first (the order they are redeemed in); with
    valid_at, only those not expired then."""
    query = select(LOTS).where(LOTS.c.card_uid == uid, LOTS.c.remaining > 0)
    if item_id is not None:
        query = query.where(LOTS.c.item_id == item_id)
    if valid_at is not None:
        query = query.where(LOTS.c.expires_at.is_(None) | (LOTS.c.expires_at > valid_at))
    return [dict(r) for r in conn.execute(query.order_by(LOTS.c.created_at, LOTS.c.id)).mappings()]


def take_oldest(
    conn: Connection, uid: str, item_id: str, units: int, ref: str, kind: str, outlet_id: str
) -> list[tuple[dict, int]]:
    """Take units from the oldest valid lots (all or none); returns (lot, units) pairs."""
    lots = open_lots(conn, uid, item_id, utcnow())
    have = sum(lot["remaining"] for lot in lots)
    if have < units:
        raise GiftError(f"card {uid} holds {have} valid unit(s) of gift {item_id}, needs {units}")
    taken = []
    for lot in lots:
        if units == 0:
            break
        n = min(units, lot["remaining"])
        record_move(conn, lot["id"], ref, kind, n, outlet_id)
        taken.append((lot, n))
        units -= n
    return taken


def grant(
    conn: Connection,
    book: Book,
    uid: str,
    item: dict,
    units: int,
    outlet: dict,
    key: str,
    reason: str,
    *,
    source: str,
    rule_id: int | None = None,
    visit_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Book `units` of the gift to the card as one lot (valid for the item's valid_days from now),
    and the granting outlet's obligation."""
    now = now or utcnow()
    check_currency(item, outlet)
    account = gift_account(conn, uid, item, book=book)
    book.transfer(
        sink_account(conn, book, item, ISSUED), account, units, code="gift_granted", reason=reason, key=key
    )
    if item["value"]:
        node = node_account(conn, item["currency"], book=book)
        book.transfer(
            obligation_account(conn, outlet, book),
            node,
            item["value"] * units,
            code="gift_grant_obligation",
            reason=f"{outlet['id']} owes {units} x {item['id']}: {reason}",
            key=key + "/obligation",
        )
    lot = {
        "id": new_id(),
        "card_uid": uid,
        "item_id": item["id"],
        "account_id": account,
        "units": units,
        "remaining": units,
        "value": item["value"],
        "granted_by": outlet["id"],
        "site_id": outlet["site_id"],
        "source": source,
        "rule_id": rule_id,
        "visit_id": visit_id,
        "source_key": key,
        "reason": reason,
        "created_at": utcnow(),
        "expires_at": None if item["valid_days"] is None else now + dt.timedelta(days=item["valid_days"]),
    }
    raw = book.raw
    raw.many(
        f"INSERT INTO gift_lots ({', '.join(lot)}) VALUES ({raw.marks(len(lot))})",
        [tuple(raw.when(v) if isinstance(v, dt.datetime) else v for v in lot.values())],
    )
    return lot


def move_lots(conn: Connection, book: Book, old_uid: str, new_uid: str, ref: str) -> int:
    """A replaced (or linked) card's open gift lots move to the new card, each keeping its value,
    granting outlet and site, so obligations and exit resets are unchanged; one transfer per item
    between the two gift wallets. Units held by a machine stay with the old card until reported.
    Returns the units moved."""
    moved: dict[str, int] = {}
    for lot in open_lots(conn, old_uid):
        item = get_item(conn, lot["item_id"])
        record_move(conn, lot["id"], ref, "move", lot["remaining"])
        conn.execute(
            LOTS.insert().values(
                **{
                    **lot,
                    "id": new_id(),
                    "card_uid": new_uid,
                    "account_id": gift_account(conn, new_uid, item),
                    "units": lot["remaining"],
                    "source_key": f"{ref}/{lot['id']}",
                    "reason": f"moved from card {old_uid}: {lot['reason']}",
                    "created_at": utcnow(),
                }
            )
        )
        moved[item["id"]] = moved.get(item["id"], 0) + lot["remaining"]
    for item_id, units in sorted(moved.items()):
        item = get_item(conn, item_id)
        book.transfer(
            gift_account(conn, old_uid, item),
            gift_account(conn, new_uid, item),
            units,
            code="gifts_moved",
            reason=f"card {old_uid} replaced by {new_uid}",
            key=f"{ref}/{item_id}",
        )
    return sum(moved.values())


def book_redemption_obligations(
    conn: Connection,
    book: Book,
    item: dict,
    outlet: dict,
    taken: list[tuple[dict, int]],
    key: str,
    reason: str,
) -> int:
    """Settlement node → redeeming outlet, at each lot's value; returns the total."""
    total = sum(lot["value"] * n for lot, n in taken)
    if total:
        node = node_account(conn, item["currency"], book=book)
        book.transfer(
            node,
            obligation_account(conn, outlet, book),
            total,
            code="gift_redeem_obligation",
            reason=f"node owes {outlet['id']} for {item['id']}: {reason}",
            key=key + "/obligation",
        )
    return total


def redeemable_at(item: dict, outlet: dict) -> bool:
    """Whether the item may be redeemed at the outlet (no kinds and no outlets listed: anywhere)."""
    if outlet["ledger"] != item["currency"]:
        return False
    if not item["redeem_kinds"] and not item["redeem_outlets"]:
        return True
    return outlet["kind"] in item["redeem_kinds"] or outlet["id"] in item["redeem_outlets"]


def card_gifts(conn: Connection, uid: str) -> dict:
    """The card's gift units per item (valid now) and its open lots (expired ones until the next
    expiry run books them out)."""
    uid, now = get_card(conn, uid).uid, utcnow()
    lots = open_lots(conn, uid)
    held = dict(
        conn.execute(
            select(HOLDS.c.item_id, func.count())
            .where(HOLDS.c.card_uid == uid, HOLDS.c.status == "pending")
            .group_by(HOLDS.c.item_id)
        ).all()
    )
    items = dict.fromkeys(held, 0)
    for lot in lots:
        valid = lot["expires_at"] is None or now < lot["expires_at"]
        items[lot["item_id"]] = items.get(lot["item_id"], 0) + (lot["remaining"] if valid else 0)
    return {
        "uid": uid,
        "items": [{"item_id": k, "units": v, "held": held.get(k, 0)} for k, v in sorted(items.items())],
        "lots": lots,
    }
