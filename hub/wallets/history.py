"""A card's history: everything that happened to it, newest first, as a cashier or the console
reads it.

Where it comes from:
  * the transfers of the card's accounts — its wallet (and, for an RFID card linked to a digital
    wallet, its wallet before the link), its points wallet and its gift wallets, each under its
    own uid and, when linked, the digital card's: top-ups, refunds, sales, settlements, points
    earned, bought, spent, returned, clawed back, expired or reset at an exit, gifts received,
    redeemed at a till, given back, expired or reset at an exit, and moves to another card;
  * the holds of its wallet: one entry per tap at a machine, whatever it cost — a tap at no charge
    (a free machine, an employee's 100 % discount, a gift held instead of money) books no money
    but is a tap all the same — with what became of its hold (pending, posted, voided, expired).
    The transfers of a hold (tap_hold, tap_delivered, hold_expired, and a gift's gift_hold,
    gift_delivered, gift_not_delivered) are folded into that one entry;
  * offline vends the wallet paid nothing of (its offline_vend transfer lists one it paid).

Each entry has a `kind` (KINDS; "other" for a code not listed here), the booking `code` it came from, a `reason`, and signed figures
as the card sees them: `amount` (money in minor units: the sum over a history is what its
balance gained), `points`, and `gift_units` of `gift_item`. A tap says what it held (`held`, a
positive amount), its `units`, `unit_price` and `status`; its `amount` is what was posted, 0
while it is pending. Where the hub knows them an entry names its device, outlet, counter,
basket, rule and request; `id` is the transfer's id (a tap: its hold's id, which is also its
pending transfer's). Pages: entries are ordered by (at, id), newest first; an entry's `cursor`
given as `before` continues after it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, String, and_, false, func, literal, or_, select

from hub.core.errors import Invalid
from hub.ledger import TRANSFERS
from hub.tables.cards import Card, CardLink
from hub.tables.gifts import GiftAccount, GiftHold, GiftLot
from hub.tables.loyalty import PointAccount, PointLot
from hub.tables.sales import Basket
from hub.tables.taps import DeviceLoyaltyHold, DeviceRequest, Hold, KioskTopUp, OfflineVend
from hub.wallets.cards import CardRef, get_card

CARDS = Card.__table__
LINKS = CardLink.__table__
HOLDS = Hold.__table__
REQUESTS = DeviceRequest.__table__
LOYALTY_HOLDS = DeviceLoyaltyHold.__table__
GIFT_HOLDS = GiftHold.__table__
OFFLINE_VENDS = OfflineVend.__table__
KIOSK_TOPUPS = KioskTopUp.__table__
POINT_ACCOUNTS = PointAccount.__table__
POINT_LOTS = PointLot.__table__
GIFT_ACCOUNTS = GiftAccount.__table__
GIFT_LOTS = GiftLot.__table__
BASKETS = Basket.__table__

# The kind of entry each booking code makes (a code not listed: "other").
_KIND_OF_CODE = {
    "topup": "topup",
    "kiosk_topup": "topup",
    "topup_bonus": "topup_bonus",
    "refund": "refund",
    "bonus_forfeit": "bonus_forfeit",
    "sale": "sale",
    "points_purchase": "sale",
    "sale_refund": "sale_refund",
    "debit_settlement": "settlement",
    "offline_vend": "offline_vend",
    "card_linked": "balance_moved",
    "card_replaced": "balance_moved",
    "points_earned": "points_earned",
    "points_bought": "points_bought",
    "points_redeemed": "points_spent",
    "points_returned": "points_returned",
    "points_clawback": "points_clawback",
    "points_expired": "points_expired",
    "points_reset": "points_reset",
    "points_moved": "points_moved",
    "gift_granted": "gift_received",
    "gift_redeemed": "gift_redeemed",
    "gift_returned": "gift_returned",
    "gift_expired": "gift_expired",
    "gift_reset": "gift_reset",
    "gifts_moved": "gifts_moved",
}
TAP = "tap"
OFFLINE_VEND = "offline_vend"
# Every kind of entry, in the order the API documents them.
MONEY_KINDS = (
    TAP,
    OFFLINE_VEND,
    "topup",
    "topup_bonus",
    "refund",
    "bonus_forfeit",
    "sale",
    "sale_refund",
    "settlement",
    "balance_moved",
)
POINTS_KINDS = (
    "points_earned",
    "points_bought",
    "points_spent",
    "points_returned",
    "points_clawback",
    "points_expired",
    "points_reset",
    "points_moved",
)
GIFT_KINDS = ("gift_received", "gift_redeemed", "gift_returned", "gift_expired", "gift_reset", "gifts_moved")
OTHER = "other"  # a booking code this module does not know yet: its code says what it is
KINDS = MONEY_KINDS + POINTS_KINDS + GIFT_KINDS + (OTHER,)
# The transfers of a machine's hold: the tap's entry tells them.
_HOLD_CODES = (
    "tap_hold",
    "tap_delivered",
    "hold_expired",
    "gift_hold",
    "gift_delivered",
    "gift_not_delivered",
)
# A wallet's whole balance moved to another card (hub.wallets.moves): its bonus part too.
_MOVE_PREFIXES = ("replace/", "link/")


def kind_of(code: str, key: str = "") -> str:
    if key.startswith(_MOVE_PREFIXES) and code == "topup_bonus":
        return "balance_moved"
    return _KIND_OF_CODE.get(code, OTHER)


class _Accounts:
    """The accounts whose transfers make a card's history, and which asset each one holds."""

    def __init__(self, conn: Connection, card: CardRef):
        uids = {card.card_uid, card.uid}
        self.uids = uids | set(conn.execute(select(CARDS.c.uid).where(CARDS.c.linked_to.in_(uids))).scalars())
        before = conn.execute(
            select(LINKS.c.previous_account_id).where(LINKS.c.card_uid == card.card_uid)
        ).scalar()
        self.money = {card.account_id} | ({before} if before else set())
        self.points = set(
            conn.execute(
                select(POINT_ACCOUNTS.c.account_id).where(
                    POINT_ACCOUNTS.c.card_uid.in_({card.card_uid, card.uid})
                )
            ).scalars()
        )
        self.gift_items = dict(
            conn.execute(
                select(GIFT_ACCOUNTS.c.account_id, GIFT_ACCOUNTS.c.item_id).where(
                    GIFT_ACCOUNTS.c.card_uid.in_({card.card_uid, card.uid})
                )
            ).all()
        )
        self.all = self.money | self.points | set(self.gift_items)


# -- pages -------------------------------------------------------------------------------------------


def cursor_of(at: datetime, entry_id: str) -> str:
    """An entry's place in the history, as `before` takes it back (opaque to callers)."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{entry_id}".encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, entry_id = text.split("|", 1)
        moment = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Invalid(f"{cursor!r} is not a history cursor (an entry's cursor)") from exc
    if moment.tzinfo is None or not entry_id:
        raise Invalid(f"{cursor!r} is not a history cursor (an entry's cursor)")
    return moment, entry_id


def _window(at, entry_id, since: datetime | None, until: datetime | None, before) -> list:
    """The conditions on (at, id) for one page: in [since, until), and after the cursor."""
    conditions = []
    if since is not None:
        conditions.append(at >= since)
    if until is not None:
        conditions.append(at < until)
    if before is not None:
        moment, last = before
        conditions.append(or_(at < moment, and_(at == moment, entry_id < last)))
    return conditions


# -- the history -------------------------------------------------------------------------------------


def history(
    conn: Connection,
    uid: str,
    limit: int = 100,
    *,
    kinds: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: str | None = None,
) -> list[dict]:
    """Up to `limit` entries of the card's history, newest first: of the given kinds (all when
    None), at or after `since`, before `until`, and after the entry whose cursor is `before`."""
    card = get_card(conn, uid)
    wanted = set(KINDS if kinds is None else kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise Invalid(f"no history kind {sorted(unknown)}; kinds: {', '.join(KINDS)}")
    accounts = _Accounts(conn, card)
    page = (since, until, parse_cursor(before) if before else None)
    entries = _transfers(conn, accounts, wanted, limit, page)
    if TAP in wanted:
        entries += _taps(conn, accounts, limit, page)
    if OFFLINE_VEND in wanted:
        entries += _unpaid_offline_vends(conn, accounts, limit, page)
    entries.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
    entries = entries[:limit]
    _name_places(conn, accounts, entries)
    for entry in entries:
        entry["cursor"] = cursor_of(entry["at"], entry["id"])
    return entries


def _entry(**fields) -> dict:
    return {
        "pending_id": None,
        "amount": 0,
        "points": None,
        "gift_item": None,
        "gift_units": None,
        "status": None,
        "held": None,
        "units": None,
        "unit_price": None,
        "discount_percent": None,
        "resolved_at": None,
        "card_uid": None,
        "device_id": None,
        "request_id": None,
        "outlet_id": None,
        "counter_id": None,
        "article_id": None,
        "basket_id": None,
        "rule_id": None,
        "transfer_id": None,
        **fields,
    }


def _transfers(conn: Connection, accounts: _Accounts, wanted: set[str], limit: int, page) -> list[dict]:
    t = TRANSFERS.c
    if wanted == set(KINDS):
        which = []
    else:
        codes = [code for code, kind in _KIND_OF_CODE.items() if kind in wanted]
        if "balance_moved" in wanted and "topup_bonus" not in codes:
            codes.append("topup_bonus")  # a moved bonus (kind_of): sorted out below
        if not codes and OTHER not in wanted:
            return []
        which = [or_(t.code.in_(codes), t.code.not_in(list(_KIND_OF_CODE)) if OTHER in wanted else false())]
    rows = conn.execute(
        select(TRANSFERS)
        .where(
            or_(t.debit_account_id.in_(accounts.all), t.credit_account_id.in_(accounts.all)),
            t.code.not_in(_HOLD_CODES),
            *which,
            *_window(t.created_at, t.id, *page),
        )
        .order_by(t.created_at.desc(), t.id.desc())
        .limit(limit)
    ).mappings()
    entries = []
    for r in rows:
        kind = kind_of(r["code"], r["idempotency_key"])
        if kind not in wanted:
            continue
        entry = _entry(
            id=r["id"],
            at=r["created_at"],
            kind=kind,
            code=r["code"],
            reason=r["reason"],
            pending_id=r["pending_id"],
            transfer_id=r["id"],
            key=r["idempotency_key"],
        )
        into, out_of = r["credit_account_id"] in accounts.all, r["debit_account_id"] in accounts.all
        signed = 0 if into and out_of else r["amount"] if into else -r["amount"]
        account = r["credit_account_id"] if into else r["debit_account_id"]
        if account in accounts.points:
            entry["points"] = signed
        elif account in accounts.gift_items:
            entry["gift_item"], entry["gift_units"] = accounts.gift_items[account], signed
        else:
            entry["amount"] = signed
        entries.append(entry)
    return entries


def _taps(conn: Connection, accounts: _Accounts, limit: int, page) -> list[dict]:
    """One entry per hold of the card's wallet: a tap, whatever it cost."""
    h, r, lh, g = HOLDS.c, REQUESTS.c, LOYALTY_HOLDS.c, GIFT_HOLDS.c
    pending = TRANSFERS.alias("pending")
    # The tap's time: when the hub answered it (its pending transfer's, if that answer is gone).
    at = func.coalesce(r.created_at, pending.c.created_at, h.expires_at)
    rows = conn.execute(
        select(
            HOLDS,
            at.label("at"),
            lh.outlet_id,
            lh.article_id,
            lh.discount_percent,
            lh.gift_item,
            lh.exit,
            g.status.label("gift_status"),
        )
        .select_from(
            HOLDS.outerjoin(REQUESTS, and_(r.device_id == h.device_id, r.request_id == h.request_id))
            .outerjoin(pending, pending.c.id == h.id)
            .outerjoin(LOYALTY_HOLDS, lh.hold_id == h.id)
            .outerjoin(GIFT_HOLDS, g.id == h.id)
        )
        .where(h.wallet_account_id.in_(accounts.money), *_window(at, h.id, *page))
        .order_by(at.desc(), h.id.desc())
        .limit(limit)
    ).mappings()
    return [_tap_entry(row) for row in rows]


def _tap_entry(row) -> dict:
    status, gift = row["status"], row["gift_item"]
    what = f"1 x gift {gift}" if gift else f"{row['units']} x {row['unit_price']}"
    where = f" at {row['device_id']}" + (", exit" if row["exit"] else "")
    released = row["amount"] - row["posted"]
    outcome = {
        "pending": "waiting for the machine's report",
        "posted": "delivered"
        + (f", {row['posted']} paid" if row["posted"] else "")
        + (f", {released} released" if released else ""),
        "voided": "nothing delivered" + (f", {released} released" if released else ""),
        "expired": "no report in time" + (f", {released} released" if released else ""),
    }.get(status, status)
    return _entry(
        id=row["id"],
        at=row["at"],
        kind=TAP,
        code=TAP,
        reason=f"{what}{where}: {outcome}",
        amount=-row["posted"],
        held=row["amount"],
        status=status,
        units=row["units"],
        unit_price=row["unit_price"],
        discount_percent=row["discount_percent"],
        gift_item=gift,
        gift_units=(-1 if row["gift_status"] == "posted" else 0) if gift else None,
        resolved_at=row["resolved_at"],
        card_uid=row["card_uid"],
        device_id=row["device_id"],
        request_id=row["request_id"],
        outlet_id=row["outlet_id"],
        article_id=row["article_id"],
        transfer_id=row["id"] if row["amount"] or gift else None,
    )


def _unpaid_offline_vends(conn: Connection, accounts: _Accounts, limit: int, page) -> list[dict]:
    """Offline vends of the card's credentials its wallet paid nothing of (the site's loss
    account paid them): no transfer of the wallet tells them."""
    v = OFFLINE_VENDS.c
    entry_id = literal("offline/", String) + v.device_id + "/" + v.event_id
    rows = conn.execute(
        select(OFFLINE_VENDS, entry_id.label("entry_id"))
        .where(v.card_uid.in_(accounts.uids), v.posted == 0, *_window(v.booked_at, entry_id, *page))
        .order_by(v.booked_at.desc(), entry_id.desc())
        .limit(limit)
    ).mappings()
    return [
        _entry(
            id=row["entry_id"],
            at=row["booked_at"],
            kind=OFFLINE_VEND,
            code=OFFLINE_VEND,
            reason=f"offline vend {row['event_id']}: {row['units']} x {row['unit_price']} at "
            f"{row['device_id']}, not paid by the card: {row['overspend']}",
            units=row["units"],
            unit_price=row["unit_price"],
            card_uid=row["card_uid"],
            device_id=row["device_id"],
            request_id=row["request_id"],
        )
        for row in rows
    ]


# -- where it happened -------------------------------------------------------------------------------


def _prefixes(key: str) -> list[str]:
    """A transfer's key's leading parts, longest first: a basket's transfers are keyed under the
    basket's key ("<basket key>/pay", "<basket key>/refund/points-returned", …)."""
    return [key.rsplit("/", n)[0] for n in range(1, key.count("/") + 1)]


def _name_places(conn: Connection, accounts: _Accounts, entries: list[dict]) -> None:
    """Name the device, outlet, counter, basket and rule of the page's transfers where the hub
    keeps them: kiosk top-ups and offline vends (their device), baskets (outlet and counter),
    points and gifts granted (their lot: rule, basket or machine hold, granting outlet)."""
    transfers = [e for e in entries if "key" in e]
    if not transfers:
        return
    keys = {e["key"] for e in transfers}
    kiosk = dict(
        conn.execute(
            select(KIOSK_TOPUPS.c.transfer_id, KIOSK_TOPUPS.c.device_id).where(
                KIOSK_TOPUPS.c.card_uid.in_(accounts.uids),
                KIOSK_TOPUPS.c.transfer_id.in_({e["id"] for e in transfers}),
            )
        ).all()
    )
    lots = {
        row["source_key"]: dict(row, granted_by=None)
        for row in conn.execute(
            select(POINT_LOTS.c.source_key, POINT_LOTS.c.rule_id, POINT_LOTS.c.basket_id).where(
                POINT_LOTS.c.source_key.in_(keys)
            )
        ).mappings()
    }
    lots.update(
        (row["source_key"], dict(row, basket_id=None))
        for row in conn.execute(
            select(GIFT_LOTS.c.source_key, GIFT_LOTS.c.rule_id, GIFT_LOTS.c.granted_by).where(
                GIFT_LOTS.c.source_key.in_(keys)
            )
        ).mappings()
    )
    # A machine's points lot names its hold as its basket.
    sources = {lot["basket_id"] for lot in lots.values() if lot["basket_id"]}
    baskets = [
        dict(row)
        for row in conn.execute(
            select(BASKETS.c.idempotency_key, BASKETS.c.id, BASKETS.c.outlet_id, BASKETS.c.request).where(
                or_(
                    BASKETS.c.idempotency_key.in_({p for key in keys for p in _prefixes(key)}),
                    BASKETS.c.id.in_(sources),
                )
            )
        ).mappings()
    ]
    by_key, by_id = {b["idempotency_key"]: b for b in baskets}, {b["id"]: b for b in baskets}
    machine = {
        row["id"]: row
        for row in conn.execute(
            select(HOLDS.c.id, HOLDS.c.device_id, LOYALTY_HOLDS.c.outlet_id)
            .outerjoin(LOYALTY_HOLDS, LOYALTY_HOLDS.c.hold_id == HOLDS.c.id)
            .where(HOLDS.c.id.in_(sources - set(by_id)))
        ).mappings()
    }
    for entry in transfers:
        key = entry.pop("key")
        basket = next((by_key[p] for p in _prefixes(key) if p in by_key), None)
        if entry["id"] in kiosk:
            entry["device_id"] = kiosk[entry["id"]]
        elif key.startswith("offline/"):  # hub.taps.offline_vends: offline/<device>/<event>
            entry["device_id"] = key.split("/")[1]
        lot = lots.get(key)
        if lot is not None:
            entry["rule_id"], entry["outlet_id"] = lot["rule_id"], lot["granted_by"]
            basket = by_id.get(lot["basket_id"], basket)
            if lot["basket_id"] in machine:
                hold = machine[lot["basket_id"]]
                entry["device_id"], entry["outlet_id"] = hold["device_id"], hold["outlet_id"]
        if basket is not None:
            entry["basket_id"], entry["outlet_id"] = basket["id"], basket["outlet_id"]
            entry["counter_id"] = (basket["request"] or {}).get("counter_id")
