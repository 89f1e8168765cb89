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
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from hub.core.clock import utcnow
from hub.core.errors import GiftError
from hub.core.raw import Raw
from hub.gifts.accounts import (ISSUED, cache_gift_accounts, check_currency, gift_account, node_account,
                                obligation_account, sink_account)
from hub.gifts.items import get_item, list_items, list_rules
from hub.ledger import Book, new_id
from hub.loyalty import outlets
from hub.tables.gifts import Activity, GiftHold, GiftLot, GiftLotMove, Visit
from hub.wallets.cards import get_card

LOTS = GiftLot.__table__
MOVES = GiftLotMove.__table__
HOLDS = GiftHold.__table__
VISITS = Visit.__table__
ACTIVITIES = Activity.__table__

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


# -- activities and the chain rules ---------------------------------------------------------------------

@dataclass(frozen=True)
class Chain:
    """What counting activities needs: outlets by id, the active chain rules by site, gift items by id
    (hub.machine_loyalty keeps one for a while; `generation()` tells when they changed here)."""
    outlets: dict[str, dict]
    rules: dict[str, list[dict]]
    items: dict[str, dict]


def load_chain(conn: Connection, outlet_ids=None) -> Chain:
    """The chain facts for these outlets (NotFound for an unknown one), or for every outlet."""
    rows = (outlets.list_outlets(conn) if outlet_ids is None
            else [outlets.get_outlet(conn, o) for o in sorted(set(outlet_ids))])
    return Chain({o["id"]: o for o in rows}, active_rules(conn), {i["id"]: i for i in list_items(conn)})


def active_rules(conn: Connection) -> dict[str, list[dict]]:
    """The active chain rules by site."""
    rules: dict[str, list[dict]] = {}
    for rule in list_rules(conn):
        if rule["active"]:
            rules.setdefault(rule["site_id"], []).append(rule)
    return rules


def _counts_for(rule: dict, outlet_id: str, outlet_kind: str) -> bool:
    if not rule["outlet_kinds"] and not rule["outlet_ids"]:
        return True
    return outlet_kind in rule["outlet_kinds"] or outlet_id in rule["outlet_ids"]


def counts_at(rule: dict, outlet: dict) -> bool:
    """Whether the chain rule counts activities at the outlet (of its site)."""
    return _counts_for(rule, outlet["id"], outlet["kind"])


def grants_due(rule: dict, count: int) -> int:
    due = count // rule["activities"]
    if not rule["repeat"]:
        due = min(due, 1)
    if rule["max_per_visit"] is not None:
        due = min(due, rule["max_per_visit"])
    return due


def count_activity(conn: Connection, book: Book, uid: str, outlet_id: str, now: dt.datetime,
                   key: str) -> list[dict]:
    """Count one activity (a ride, a visit of the outlet) of the card at the outlet within its
    current visit of the outlet's site, and grant every gift whose chain rule is now met (the
    outlet is the granting one). Once per key: a repeated key counts nothing and returns the grants
    of the first call. A card that is not active counts nothing. The caller flushes the book.
    Returns [{rule_id, item_id, units, value, lot_id, outlet_id}]."""
    card = get_card(conn, uid)
    if card["status"] != "active":
        return []
    return count_activities(conn, book, [(card["uid"], outlet_id, key)], now)[0]


def count_activities(conn: Connection, book: Book, activities: list[tuple[str, str, str]],
                     now: dt.datetime, chain: Chain | None = None) -> list[list[dict]]:
    """`count_activity` for many (card uid, outlet id, key) at once, in their order, with one query
    each for the keys counted before, the cards (locked: one card's activities are counted one
    transaction at a time, so two taps never both complete a rule), their open visits, what those
    visits counted and the gifts they got. `chain` defaults to the facts as they are now."""
    keys = [key for _, _, key in activities]
    done = {k: list(g) for k, g in conn.execute(select(ACTIVITIES.c.key, ACTIVITIES.c.grants).where(
        ACTIVITIES.c.key.in_(sorted(set(keys)))))} if keys else {}
    fresh = [a for a in activities if a[2] not in done]
    if fresh:
        visits = _Visits(conn, book, chain or load_chain(conn, {o for _, o, _ in fresh}),
                         {u for u, _, _ in fresh}, now)
        for uid, outlet_id, key in fresh:
            if key not in done:
                done[key] = visits.count(uid, outlet_id, key)
        visits.write()
    return [done[k] for k in keys]


def lock_cards(raw: Raw, uids) -> dict[str, str]:
    """Lock the cards' rows (PostgreSQL; one card's activities are counted one transaction at a
    time) before their gift wallets; returns their statuses."""
    uids = sorted(set(uids))
    if not uids:
        return {}
    return dict(raw.rows(f"SELECT uid, status FROM cards WHERE uid IN ({raw.marks(len(uids))}) "
                         "ORDER BY uid" + raw.lock(), uids))


class _Visits:
    """The open visits of some cards with what they counted and were granted, counted on in memory
    and written at the end."""

    def __init__(self, conn: Connection, book: Book, chain: Chain, uids: set[str], now: dt.datetime):
        self.conn, self.book, self.chain, self.now = conn, book, chain, now
        raw, uids = book.raw, sorted(uids)
        marks = f"({raw.marks(len(uids))})"
        self.status = lock_cards(raw, uids)
        self.open = {(uid, site): vid for vid, uid, site in raw.rows(
            f"SELECT id, card_uid, site_id FROM gift_visits WHERE card_uid IN {marks} AND ended_at IS NULL",
            uids)}
        cache_gift_accounts(book, uids)
        self.counted: dict[str, dict[tuple, int]] = {}
        self.given: dict[tuple, int] = {}
        vids = list(self.open.values())
        if vids:
            marks = f"({raw.marks(len(vids))})"
            for vid, outlet_id, kind, n in raw.rows(
                    "SELECT visit_id, outlet_id, outlet_kind, COUNT(*) FROM gift_activities "
                    f"WHERE visit_id IN {marks} GROUP BY visit_id, outlet_id, outlet_kind", vids):
                self.counted.setdefault(vid, {})[(outlet_id, kind)] = n
            for vid, rule_id, n in raw.rows(
                    "SELECT visit_id, rule_id, COUNT(*) FROM gift_lots WHERE rule_id IS NOT NULL "
                    f"AND visit_id IN {marks} GROUP BY visit_id, rule_id", vids):
                self.given[(vid, rule_id)] = n
        self.new_visits: list[dict] = []
        self.rows: list[dict] = []

    def count(self, uid: str, outlet_id: str, key: str) -> list[dict]:
        if self.status.get(uid) != "active":
            return []
        outlet = self.chain.outlets[outlet_id]
        visit = self._visit(uid, outlet["site_id"])
        counted = self.counted.setdefault(visit, {})
        place = (outlet["id"], outlet["kind"])
        counted[place] = counted.get(place, 0) + 1
        grants = []
        for rule in self.chain.rules.get(outlet["site_id"], []):
            if _counts_for(rule, *place):
                grants += self._apply(rule, uid, outlet, visit, key)
        self.rows.append({"key": key, "visit_id": visit, "card_uid": uid, "outlet_id": outlet["id"],
                          "outlet_kind": outlet["kind"], "at": self.now, "grants": grants})
        return grants

    def _visit(self, uid: str, site_id: str) -> str:
        if (uid, site_id) not in self.open:
            self.open[(uid, site_id)] = new_id()
            self.new_visits.append({"id": self.open[(uid, site_id)], "card_uid": uid, "site_id": site_id,
                                    "started_at": self.now})
        return self.open[(uid, site_id)]

    def _apply(self, rule: dict, uid: str, outlet: dict, visit: str, key: str) -> list[dict]:
        count = sum(n for place, n in self.counted[visit].items() if _counts_for(rule, *place))
        given = self.given.get((visit, rule["id"]), 0)
        due = grants_due(rule, count)
        item, out = self.chain.items[rule["item_id"]], []
        for n in range(given + 1, due + 1):
            lot = grant(self.conn, self.book, uid, item, rule["units"], outlet, f"{key}/rule/{rule['id']}/{n}",
                        f"{rule['name']}: {rule['activities']} activities at {outlet['site_id']}",
                        source="rule", rule_id=rule["id"], visit_id=visit, now=self.now)
            out.append({"rule_id": rule["id"], "item_id": item["id"], "units": rule["units"],
                        "value": item["value"], "lot_id": lot["id"], "outlet_id": outlet["id"]})
        self.given[(visit, rule["id"])] = max(given, due)
        return out

    def write(self) -> None:
        if self.new_visits:
            self.conn.execute(VISITS.insert(), self.new_visits)
        if self.rows:
            self.conn.execute(ACTIVITIES.insert(), self.rows)
