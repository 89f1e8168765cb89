"""Activities and the bonus-gift chain: a card's visits of a site, the activities counted in them,
and the gifts the site's chain rules grant once met (a machine's batch of taps counted at once)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from hub.core.raw import Raw
from hub.gifts.accounts import cache_gift_accounts
from hub.gifts.items import list_items, list_rules
from hub.gifts.lots import grant
from hub.ledger import Book, new_id
from hub.loyalty import outlets
from hub.tables.gifts import Activity, Visit
from hub.wallets.cards import get_card

VISITS = Visit.__table__
ACTIVITIES = Activity.__table__


@dataclass(frozen=True)
class Chain:
    """What counting activities needs: outlets by id, the active chain rules by site, gift items by id
    (hub.taps.device_loyalty keeps one for a while; `hub.gifts.generation()` tells when they changed in
    this process)."""

    outlets: dict[str, dict]
    rules: dict[str, list[dict]]
    items: dict[str, dict]


def load_chain(conn: Connection, outlet_ids=None) -> Chain:
    """The chain facts for these outlets (NotFound for an unknown one), or for every outlet."""
    rows = (
        outlets.list_outlets(conn)
        if outlet_ids is None
        else [outlets.get_outlet(conn, o) for o in sorted(set(outlet_ids))]
    )
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


def count_activity(
    conn: Connection, book: Book, uid: str, outlet_id: str, now: dt.datetime, key: str
) -> list[dict]:
    """Count one activity (a ride, a visit of the outlet) of the card at the outlet within its
    current visit of the outlet's site, and grant every gift whose chain rule is now met (the
    outlet is the granting one). Once per key: a repeated key counts nothing and returns the grants
    of the first call. A card that is not active counts nothing. The caller flushes the book.
    Returns [{rule_id, item_id, units, value, lot_id, outlet_id}]."""
    card = get_card(conn, uid)
    if card.status != "active":
        return []
    return count_activities(conn, book, [(card.uid, outlet_id, key)], now)[0]


def count_activities(
    conn: Connection,
    book: Book,
    activities: list[tuple[str, str, str]],
    now: dt.datetime,
    chain: Chain | None = None,
) -> list[list[dict]]:
    """`count_activity` for many (card uid, outlet id, key) at once, in their order, with one query
    each for the keys counted before, the cards (locked: one card's activities are counted one
    transaction at a time, so two taps never both complete a rule), their open visits, what those
    visits counted and the gifts they got. `chain` defaults to the facts as they are now."""
    keys = [key for _, _, key in activities]
    done = (
        {
            k: list(g)
            for k, g in conn.execute(
                select(ACTIVITIES.c.key, ACTIVITIES.c.grants).where(ACTIVITIES.c.key.in_(sorted(set(keys))))
            )
        }
        if keys
        else {}
    )
    fresh = [a for a in activities if a[2] not in done]
    if fresh:
        visits = _Visits(
            conn, book, chain or load_chain(conn, {o for _, o, _ in fresh}), {u for u, _, _ in fresh}, now
        )
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
    return dict(
        raw.rows(
            f"SELECT uid, status FROM cards WHERE uid IN ({raw.marks(len(uids))}) ORDER BY uid" + raw.lock(),
            uids,
        )
    )


class _Visits:
    """The open visits of some cards with what they counted and were granted, counted on in memory
    and written at the end."""

    def __init__(self, conn: Connection, book: Book, chain: Chain, uids: set[str], now: dt.datetime):
        self.conn, self.book, self.chain, self.now = conn, book, chain, now
        raw, uids = book.raw, sorted(uids)
        marks = f"({raw.marks(len(uids))})"
        self.status = lock_cards(raw, uids)
        self.open = {
            (uid, site): vid
            for vid, uid, site in raw.rows(
                f"SELECT id, card_uid, site_id FROM gift_visits WHERE card_uid IN {marks} AND ended_at IS NULL",
                uids,
            )
        }
        cache_gift_accounts(book, uids)
        self.counted: dict[str, dict[tuple, int]] = {}
        self.given: dict[tuple, int] = {}
        vids = list(self.open.values())
        if vids:
            marks = f"({raw.marks(len(vids))})"
            for vid, outlet_id, kind, n in raw.rows(
                "SELECT visit_id, outlet_id, outlet_kind, COUNT(*) FROM gift_activities "
                f"WHERE visit_id IN {marks} GROUP BY visit_id, outlet_id, outlet_kind",
                vids,
            ):
                self.counted.setdefault(vid, {})[(outlet_id, kind)] = n
            for vid, rule_id, n in raw.rows(
                "SELECT visit_id, rule_id, COUNT(*) FROM gift_lots WHERE rule_id IS NOT NULL "
                f"AND visit_id IN {marks} GROUP BY visit_id, rule_id",
                vids,
            ):
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
        self.rows.append(
            {
                "key": key,
                "visit_id": visit,
                "card_uid": uid,
                "outlet_id": outlet["id"],
                "outlet_kind": outlet["kind"],
                "at": self.now,
                "grants": grants,
            }
        )
        return grants

    def _visit(self, uid: str, site_id: str) -> str:
        if (uid, site_id) not in self.open:
            self.open[(uid, site_id)] = new_id()
            self.new_visits.append(
                {"id": self.open[(uid, site_id)], "card_uid": uid, "site_id": site_id, "started_at": self.now}
            )
        return self.open[(uid, site_id)]

    def _apply(self, rule: dict, uid: str, outlet: dict, visit: str, key: str) -> list[dict]:
        count = sum(n for place, n in self.counted[visit].items() if _counts_for(rule, *place))
        given = self.given.get((visit, rule["id"]), 0)
        due = grants_due(rule, count)
        item, out = self.chain.items[rule["item_id"]], []
        for n in range(given + 1, due + 1):
            lot = grant(
                self.conn,
                self.book,
                uid,
                item,
                rule["units"],
                outlet,
                f"{key}/rule/{rule['id']}/{n}",
                f"{rule['name']}: {rule['activities']} activities at {outlet['site_id']}",
                source="rule",
                rule_id=rule["id"],
                visit_id=visit,
                now=self.now,
            )
            out.append(
                {
                    "rule_id": rule["id"],
                    "item_id": item["id"],
                    "units": rule["units"],
                    "value": item["value"],
                    "lot_id": lot["id"],
                    "outlet_id": outlet["id"],
                }
            )
        self.given[(visit, rule["id"])] = max(given, due)
        return out

    def write(self) -> None:
        if self.new_visits:
            self.conn.execute(VISITS.insert(), self.new_visits)
        if self.rows:
            self.conn.execute(ACTIVITIES.insert(), self.rows)
