"""Gifts and the bonus-gift chain across outlets (seeds 002 and 004).

A gift item (a drink, a slide ride) is its own ledger of whole units, "GIFT:<item>"; a card gets a
wallet on it on first use. Units come to a card as dated lots: granted by a chain rule (after N
activities at outlets of a kind within one visit), chosen with points (seed 002: a points level lets
the visitor choose a gift and pay for it with points), or handed out manually. Units leave it when
they are redeemed (at a till, in a basket, at a machine: the oldest valid lot first), reset at the
site's exit, or expire (an item's `valid_days`, seed 001: a voucher's validity is set
electronically; `expire` books them out). They are bound to the card (not transferable, seed 001)
and move only with it when it is replaced or linked (`move_lots`).

Obligations (seed 004), booked as transfers on the money ledger of the item (e.g. CHF) between
each outlet's obligation account and the settlement node, at the unit value fixed at the grant:
  * grant:      granting outlet → settlement node   (the outlet owes the node)
  * redemption: settlement node → redeeming outlet  (the node owes the outlet)
  * a refunded basket reverses its redemption: redeeming outlet → settlement node.
A negative obligation-account balance is what the outlet owes, a positive one what it is owed; the
settlement report is a query over these transfers (`settlement`).

Exit reset (seed 004: "unused gifts and bonuses cannot be taken away. At the exit from the water
park, they are reset"), per site (`SiteGiftSettings`): the open units of lots granted at the site are
booked out to "gifts expired" (lots are kept, a move records the reset) and the visit ends, so the
chain rules count afresh on the next visit; if the site says so, the card's unused bonus points
earned at the site's outlets are booked out too ("points reset"; bought points stay).

DECISION on the obligations of an unredeemed gift: the seed names exactly two moments — the
outlet's obligation arises when the gift is charged to the customer, the node's when it is written
off for the customer — and a reset is neither, so the granting outlet's obligation stands ("kept",
the default): the settlement node moves the value from its clearing account to its "unredeemed
gifts" account, where it stays as the node's. A site may choose "released" instead: the node gives
the value back to the granting outlet. Either way the node's clearing account nets to zero for
every gift once it is redeemed or reset.

Who grants: a chain-rule gift is charged by the outlet whose activity completes the rule; a gift
chosen with points by the outlet where it is chosen. An expired gift's obligation is settled like
an unredeemed one at its granting site's exit.

Activities: a chain rule counts the activities `count_activity` is told of (a till calling
POST /cards/{uid}/activities; a machine batch's delivered taps all at once, `count_activities`)
within the card's open visit of the site; a visit opens with the first activity and ends at the
exit. A paid basket is not an activity by itself.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, select

from hub.core.clock import utcnow
from hub.core.errors import GiftError
from hub.core.raw import Raw
from hub.gifts.accounts import (ISSUED, check_currency, gift_account, node_account, obligation_account,
                                sink_account)
from hub.gifts.items import get_item
from hub.ledger import Book, new_id
from hub.tables.gifts import GiftHold, GiftLot, GiftLotMove
from hub.wallets.cards import get_card

LOTS = GiftLot.__table__
MOVES = GiftLotMove.__table__
HOLDS = GiftHold.__table__

_TAKE = {"hold": -1, "redeem": -1, "expire": -1, "move": -1, "release": 1, "return": 1, "delivered": 0}


# -- lots ----------------------------------------------------------------------------------------------

_TAKE_SQL = "UPDATE gift_lots SET remaining = remaining + ? WHERE id = ?"
_MOVE_SQL = ("INSERT INTO gift_lot_moves (lot_id, ref, kind, units, outlet_id, created_at) "
             "VALUES (?,?,?,?,?,?)")


def record_move(conn: Connection, lot_id: str, ref: str, kind: str, units: int, outlet_id=None,
                raw: Raw | None = None) -> None:
    raw = raw or Raw(conn)
    if _TAKE[kind]:
        raw.many(_TAKE_SQL, [(_TAKE[kind] * units, lot_id)])
    raw.many(_MOVE_SQL, [(lot_id, ref, kind, units, outlet_id, raw.when(utcnow()))])


def open_lots(conn: Connection, uid: str, item_id: str | None = None,
              valid_at: dt.datetime | None = None) -> list[dict]:
    """The card's lots with units left, oldest first (the order they are redeemed in); with
    valid_at, only those not expired then."""
    query = select(LOTS).where(LOTS.c.card_uid == uid, LOTS.c.remaining > 0)
    if item_id is not None:
        query = query.where(LOTS.c.item_id == item_id)
    if valid_at is not None:
        query = query.where(LOTS.c.expires_at.is_(None) | (LOTS.c.expires_at > valid_at))
    return [dict(r) for r in conn.execute(query.order_by(LOTS.c.created_at, LOTS.c.id)).mappings()]


def take_oldest(conn: Connection, uid: str, item_id: str, units: int, ref: str, kind: str,
                outlet_id: str) -> list[tuple[dict, int]]:
    """Take units from the oldest valid lots (all or none); returns (lot, units) pairs."""
    lots = open_lots(conn, uid, item_id, utcnow())
    have = sum(l["remaining"] for l in lots)
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


def grant(conn: Connection, book: Book, uid: str, item: dict, units: int, outlet: dict, key: str,
          reason: str, *, source: str, rule_id: int | None = None, visit_id: str | None = None,
          now: dt.datetime | None = None) -> dict:
    """Book `units` of the gift to the card as one lot (valid for the item's valid_days from now),
    and the granting outlet's obligation."""
    now = now or utcnow()
    check_currency(item, outlet)
    account = gift_account(conn, uid, item, book=book)
    book.transfer(sink_account(conn, book, item, ISSUED), account, units, code="gift_granted",
                  reason=reason, key=key)
    if item["value"]:
        node = node_account(conn, item["currency"], book=book)
        book.transfer(obligation_account(conn, outlet, book), node, item["value"] * units,
                      code="gift_grant_obligation",
                      reason=f"{outlet['id']} owes {units} x {item['id']}: {reason}", key=key + "/obligation")
    lot = {"id": new_id(), "card_uid": uid, "item_id": item["id"], "account_id": account, "units": units,
           "remaining": units, "value": item["value"], "granted_by": outlet["id"],
           "site_id": outlet["site_id"], "source": source, "rule_id": rule_id, "visit_id": visit_id,
           "source_key": key, "reason": reason, "created_at": utcnow(),
           "expires_at": None if item["valid_days"] is None else now + dt.timedelta(days=item["valid_days"])}
    raw = book.raw
    raw.many(f"INSERT INTO gift_lots ({', '.join(lot)}) VALUES ({raw.marks(len(lot))})",
             [tuple(raw.when(v) if isinstance(v, dt.datetime) else v for v in lot.values())])
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
        conn.execute(LOTS.insert().values(**{
            **lot, "id": new_id(), "card_uid": new_uid, "account_id": gift_account(conn, new_uid, item),
            "units": lot["remaining"], "source_key": f"{ref}/{lot['id']}",
            "reason": f"moved from card {old_uid}: {lot['reason']}", "created_at": utcnow()}))
        moved[item["id"]] = moved.get(item["id"], 0) + lot["remaining"]
    for item_id, units in sorted(moved.items()):
        item = get_item(conn, item_id)
        book.transfer(gift_account(conn, old_uid, item), gift_account(conn, new_uid, item), units,
                      code="gifts_moved", reason=f"card {old_uid} replaced by {new_uid}",
                      key=f"{ref}/{item_id}")
    return sum(moved.values())


def book_redemption_obligations(conn: Connection, book: Book, item: dict, outlet: dict,
                                taken: list[tuple[dict, int]], key: str, reason: str) -> int:
    """Settlement node → redeeming outlet, at each lot's value; returns the total."""
    total = sum(lot["value"] * n for lot, n in taken)
    if total:
        node = node_account(conn, item["currency"], book=book)
        book.transfer(node, obligation_account(conn, outlet, book), total, code="gift_redeem_obligation",
                      reason=f"node owes {outlet['id']} for {item['id']}: {reason}", key=key + "/obligation")
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
    uid, now = get_card(conn, uid)["uid"], utcnow()
    lots = open_lots(conn, uid)
    held = dict(conn.execute(select(HOLDS.c.item_id, func.count()).where(
        HOLDS.c.card_uid == uid, HOLDS.c.status == "pending").group_by(HOLDS.c.item_id)).all())
    items = dict.fromkeys(held, 0)
    for lot in lots:
        valid = lot["expires_at"] is None or now < lot["expires_at"]
        items[lot["item_id"]] = items.get(lot["item_id"], 0) + (lot["remaining"] if valid else 0)
    return {"uid": uid, "items": [{"item_id": k, "units": v, "held": held.get(k, 0)}
                                  for k, v in sorted(items.items())],
            "lots": lots}
