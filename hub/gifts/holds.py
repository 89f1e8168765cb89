"""A machine's gift held at a tap: one unit of the card's oldest valid lot held by a pending
transfer, posted when the machine reports it delivered the gift (and the settlement node then owes
the outlet), voided when it did not."""

from __future__ import annotations

from sqlalchemy import Connection, select

from hub.core.clock import utcnow
from hub.core.errors import NotFound
from hub.core.raw import Raw
from hub.gifts.accounts import REDEEMED, gift_account, sink_account
from hub.gifts.items import ITEMS, get_item
from hub.gifts.lots import book_redemption_obligations, open_lots, record_move, redeemable_at
from hub.ledger import Book
from hub.loyalty import outlets
from hub.wallets.cards import get_card

_HOLD_SQL = (
    "INSERT INTO gift_holds (id, card_uid, item_id, lot_id, outlet_id, wallet_account_id, "
    "sink_account_id, status, created_at) VALUES (?,?,?,?,?,?,?,?,?)"
)
_HOLD_COLUMNS = ("id", "item_id", "lot_id", "outlet_id", "wallet_account_id", "sink_account_id", "status")


def hold_gift(
    conn: Connection, book: Book, uid: str, item: str, outlet_id: str, hold_id: str, key: str
) -> bool:
    """Hold one unit of the card's `item` gift for a machine at `outlet_id`.

    If the card is active and has at least one unit redeemable at the outlet, book a PENDING transfer
    of 1 unit (card's gift wallet → "gifts redeemed", transfer id `hold_id`, idempotency key `key`),
    reserve the unit from the card's oldest lot and return True. Otherwise (unknown card, item or
    outlet, blocked card, not redeemable there, no unit left) book nothing and return False.
    Resolve the hold with `settle_gift`. The caller flushes the book."""
    found = conn.execute(select(ITEMS).where(ITEMS.c.id == item)).mappings().first()
    if found is None:
        return False
    try:
        card = get_card(conn, uid)
        outlet = outlets.get_outlet(conn, outlet_id)
    except NotFound:
        return False
    account = gift_account(conn, card.uid, found, create=False, book=book)
    if card.status != "active" or account is None:
        return False
    book.account(account)  # locks the wallet before its lots are read
    return hold_unit(
        conn, book, card.uid, dict(found), outlet, open_lots(conn, card.uid, item, utcnow()), hold_id, key
    )


def hold_unit(
    conn: Connection, book: Book, uid: str, item: dict, outlet: dict, lots: list[dict], hold_id: str, key: str
) -> bool:
    """`hold_gift` with what the caller loaded (a machine's batch loads it for all its taps at once):
    the active card's valid open lots of the item, oldest first, read after its gift wallet was
    locked. The unit held is taken off the first lot with units left, in `lots` too."""
    lot = next((candidate for candidate in lots if candidate["remaining"] > 0), None)
    if lot is None or not redeemable_at(item, outlet) or book.account(lot["account_id"]).available < 1:
        return False
    sink = sink_account(conn, book, item, REDEEMED)
    book.transfer(
        lot["account_id"],
        sink,
        1,
        code="gift_hold",
        reason=f"1 x {item['id']} at {outlet['id']}",
        key=key,
        pending=True,
        transfer_id=hold_id,
    )
    lot["remaining"] -= 1
    raw = book.raw
    record_move(conn, lot["id"], hold_id, "hold", 1, outlet["id"], raw)
    raw.many(
        _HOLD_SQL,
        [
            (
                hold_id,
                uid,
                item["id"],
                lot["id"],
                outlet["id"],
                lot["account_id"],
                sink,
                "pending",
                raw.when(utcnow()),
            )
        ],
    )
    return True


def load_gift_holds(raw: Raw, hold_ids) -> dict[str, dict]:
    """Gift holds by id (locked), each with the value per unit of the lot it holds from."""
    hold_ids = sorted(set(hold_ids))
    if not hold_ids:
        return {}
    columns = ", ".join(f"h.{c}" for c in _HOLD_COLUMNS)
    rows = raw.rows(
        f"SELECT {columns}, l.value FROM gift_holds h JOIN gift_lots l ON l.id = h.lot_id "
        f"WHERE h.id IN ({raw.marks(len(hold_ids))}) ORDER BY h.id" + (" FOR UPDATE OF h" if raw.pg else ""),
        hold_ids,
    )
    return {r[0]: dict(zip((*_HOLD_COLUMNS, "value"), r, strict=True)) for r in rows}


def settle_gift(conn: Connection, book: Book, hold_id: str, delivered: bool, key: str) -> None:
    """Resolve a gift hold of `hold_gift` once: post it if the machine delivered the gift, else void
    it (the unit goes back to its lot). On post, book the settlement node's obligation to the
    redeeming outlet at the lot's value. A hold already resolved is left alone; an unknown hold id
    raises NotFound. The caller flushes the book."""
    hold = load_gift_holds(book.raw, [hold_id]).get(hold_id)
    if hold is None:
        raise NotFound(f"no gift hold {hold_id}")
    settle_hold(
        conn,
        book,
        hold,
        get_item(conn, hold["item_id"]),
        outlets.get_outlet(conn, hold["outlet_id"]),
        delivered,
        key,
    )


def settle_hold(
    conn: Connection, book: Book, hold: dict, item: dict, outlet: dict, delivered: bool, key: str
) -> None:
    """`settle_gift` with what the caller loaded: the hold (`load_gift_holds`), its item and outlet."""
    if hold["status"] != "pending":
        return
    hold_id, raw = hold["id"], book.raw
    # a report only releases the wallet's hold: no lock needed, as for money holds
    book.load([hold["wallet_account_id"], hold["sink_account_id"]], lock=False)
    what = f"1 x {hold['item_id']} at {hold['outlet_id']}"
    book.resolve(
        hold_id,
        hold["wallet_account_id"],
        hold["sink_account_id"],
        held=1,
        post=1 if delivered else 0,
        code="gift_delivered" if delivered else "gift_not_delivered",
        reason=what + (" delivered" if delivered else " not delivered"),
        key=key,
    )
    record_move(
        conn, hold["lot_id"], hold_id, "delivered" if delivered else "release", 1, hold["outlet_id"], raw
    )
    if delivered:
        book_redemption_obligations(conn, book, item, outlet, [(hold, 1)], key, f"hold {hold_id}")
    hold["status"] = "posted" if delivered else "voided"
    raw.many(
        "UPDATE gift_holds SET status = ?, resolved_at = ? WHERE id = ?",
        [(hold["status"], raw.when(utcnow()), hold_id)],
    )
