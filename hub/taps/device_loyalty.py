"""Devices in the loyalty engine: a controller's tap is priced, discounted, earns points and gifts or
redeems a gift like a one-line basket at the device's outlet — inside the one batched authorisation
of hub.taps.authorize (one transaction per batch).

A device with a row in device_loyalty sells one catalogue article at one outlet:
  * price: the device's unit price less the card's discount for that article (hub.loyalty.discounts). The
    discount is rounded on the unit price, so that the hold keeps the net unit price and a partial
    delivery posts exactly delivered × that price (a basket rounds once per line instead);
  * gift: a device with a gift item and a card holding that gift holds one unit of the gift instead
    of money (the grant: one unit, amount 0); the report settles it — redeemed, or given back when
    nothing was delivered;
  * points: earned on what was delivered, at the report, through the bonus rules (order-in channel
    "machine", order-out "counter": handed out on the spot), as dated lots with the rule's reason.
    As in hub.sales.baskets, a tap at 100 % discount earns nothing; neither does a gift;
  * activity: a delivered tap counts one activity at the outlet (hub.gifts), which may grant a
    chain gift; a delivered exit through a turnstile (tap "dir": "exit") resets the site's unused
    gifts instead (at the passage, not the tap: a turnstile not passed takes nothing away).
A device without settings is priced as before and touches none of this.

Hot path: machine settings, their articles, the outlets (time zone, holidays), the rule book, the
gift items and chain rules (hub.gifts.Chain) and which outlets an active chain rule counts at are
cached per database for TTL seconds (`forget()` drops them at once after a change made here, and a
gift item or chain rule changed in this process through hub.gifts is seen at once; one made by
another process applies to devices within TTL, on PostgreSQL within VERSION_CHECK_S). Per batch, with one query each: the cards' owners
and discounts, the batch's machine holds and gift holds, the gift wallets (locked) and open gift
lots of the cards at gift-handing devices, the point wallets; the batch's activities are counted together
(hub.gifts.count_activities) before its ledger is flushed, and before an exit in the batch so the
order holds. Only exits go through hub.gifts one at a time. CHOICE: activities are counted only at
outlets some active chain rule counts (activity reports count a card's first use from them).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, delete, select

from hub import gifts
from hub.core.clock import utcnow
from hub.core.errors import NotFound
from hub.ledger import ACCOUNTS, Book, new_id, system_account
from hub.loyalty import catalogue, discounts, outlets, points
from hub.loyalty import point_rules as br
from hub.tables.devices import Device
from hub.tables.gifts import GiftItem
from hub.tables.taps import DeviceLoyalty, DeviceLoyaltyHold
from protocol import topics

TTL = 30.0
CHANNEL_IN = br.ChannelIn.MACHINE
CHANNEL_OUT = br.ChannelOut.COUNTER

SETTINGS = DeviceLoyalty.__table__
LOYALTY_HOLDS = DeviceLoyaltyHold.__table__
DEVICES = Device.__table__
GIFT_ITEMS = GiftItem.__table__

_NO_DISCOUNT = {"group": None, "rates": [], "group_rates": []}
_HOLD_COLUMNS = tuple(c.name for c in LOYALTY_HOLDS.columns)
_LOT_COLUMNS = (
    "id",
    "card_uid",
    "account_id",
    "points",
    "remaining",
    "available_at",
    "expires_at",
    "source_key",
    "reason",
    "rule_id",
    "basket_id",
    "created_at",
)


# -- settings ----------------------------------------------------------------------------------------


def set_settings(
    conn: Connection, device_id: str, outlet_id: str, article_id: str, gift_item: str | None
) -> dict:
    if conn.execute(select(DEVICES.c.id).where(DEVICES.c.id == device_id)).first() is None:
        raise NotFound(f"no device {device_id}")
    outlets.get_outlet(conn, outlet_id)
    catalogue.articles_by_id(conn, [article_id])
    if (
        gift_item is not None
        and conn.execute(select(GIFT_ITEMS.c.id).where(GIFT_ITEMS.c.id == gift_item)).first() is None
    ):
        raise NotFound(f"no gift item {gift_item}")
    conn.execute(delete(SETTINGS).where(SETTINGS.c.device_id == device_id))
    conn.execute(
        SETTINGS.insert().values(
            device_id=device_id,
            outlet_id=outlet_id,
            article_id=article_id,
            gift_item=gift_item,
            updated_at=utcnow(),
        )
    )
    system_account(conn, points.LEDGER, "points", points.ISSUED)  # made here, cached for taps
    forget()
    return get_settings(conn, device_id)


def get_settings(conn: Connection, device_id: str) -> dict:
    row = conn.execute(select(SETTINGS).where(SETTINGS.c.device_id == device_id)).mappings().first()
    if row is None:
        raise NotFound(f"device {device_id} has no loyalty settings")
    return dict(row)


def clear_settings(conn: Connection, device_id: str) -> None:
    get_settings(conn, device_id)
    conn.execute(delete(SETTINGS).where(SETTINGS.c.device_id == device_id))
    forget()


# -- what is cached ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Static:
    devices: dict[str, dict]  # device id -> its loyalty settings with "article"
    articles: dict[str, dict]
    outlets: dict[str, dict]  # with "holidays" (a frozenset)
    rules: br.RuleBook
    counting: frozenset[str]  # outlets where an active chain rule counts activities
    points_issued: int | None  # the PTS account points come from, once it exists
    chain: gifts.Chain


# On PostgreSQL, where several hub processes share one database, the cache is also checked
# against the tables it is made of at most every VERSION_CHECK_S: each table's row count and
# newest row version (xmin, which every insert and update renews), so a change made by another
# hub reaches this one's machines within that, not within TTL.
VERSION_CHECK_S = 0.5


def _static_tables() -> tuple:
    return (
        SETTINGS,
        catalogue.ARTICLES,
        outlets.OUTLETS,
        outlets.HOLIDAYS,
        gifts.items.ITEMS,
        gifts.items.RULES,
        points.RULES,
        points.TARGETS,
        points.SETTINGS,
    )


def _version(conn: Connection) -> str | None:
    if conn.dialect.name != "postgresql":
        return None  # one process per SQLite file in production: TTL and forget() suffice
    parts = ", ".join(
        f"(SELECT count(*) || '.' || coalesce(max(xmin::text::bigint), 0) FROM {t.name})"
        for t in _static_tables()
    )
    return conn.exec_driver_sql(f"SELECT concat_ws(',', {parts})").scalar()


# database URL -> (loaded at, generation, Static, version, version checked at)
_cache: dict[str, tuple[float, int, Static, str | None, float]] = {}
_cache_lock = threading.Lock()


def forget() -> None:
    with _cache_lock:
        _cache.clear()


def static(conn: Connection) -> Static:
    key = str(conn.engine.url)
    hit = _cache.get(key)
    now, generation = time.monotonic(), gifts.generation()
    if hit is not None and now - hit[0] < TTL and hit[1] == generation:
        if hit[3] is None or now - hit[4] < VERSION_CHECK_S:
            return hit[2]
        version = _version(conn)
        if version == hit[3]:
            with _cache_lock:
                _cache[key] = (*hit[:4], now)
            return hit[2]
    version = _version(conn)
    loaded = _load_static(conn)
    with _cache_lock:
        _cache[key] = (now, generation, loaded, version, now)
    return loaded


def _load_static(conn: Connection) -> Static:
    settings = [dict(r) for r in conn.execute(select(SETTINGS)).mappings()]
    articles = catalogue.articles_by_id(conn, {s["article_id"] for s in settings}) if settings else {}
    days: dict[str, set] = {}
    for outlet_id, day in conn.execute(select(outlets.HOLIDAYS.c.outlet_id, outlets.HOLIDAYS.c.day)):
        days.setdefault(outlet_id, set()).add(day)
    outlet_rows = {
        o["id"]: {**o, "holidays": frozenset(days.get(o["id"], ()))} for o in outlets.list_outlets(conn)
    }
    devices = {s["device_id"]: {**s, "article": articles[s["article_id"]]} for s in settings}
    chain = gifts.Chain(outlet_rows, gifts.active_rules(conn), {i["id"]: i for i in gifts.list_items(conn)})
    counting = frozenset(
        o["id"]
        for o in outlet_rows.values()
        if any(gifts.counts_at(r, o) for r in chain.rules.get(o["site_id"], ()))
    )
    issued = conn.execute(
        select(ACCOUNTS.c.id).where(
            ACCOUNTS.c.ledger == points.LEDGER, ACCOUNTS.c.kind == "points", ACCOUNTS.c.name == points.ISSUED
        )
    ).scalar()
    return Static(devices, articles, outlet_rows, points.rule_book(conn)[0], counting, issued, chain)


# -- one batch ---------------------------------------------------------------------------------------


class Batch:
    """The loyalty side of one authorisation batch (hub.taps.authorize._Run): `price` at a tap,
    `report` at a delivery report, `write` before the batch's ledger is flushed."""

    def __init__(self, book: Book, batch: list, now: datetime):
        self.book, self.conn, self.raw, self.now = book, book.conn, book.raw, now
        self.static = static(self.conn)
        self.new_holds: dict[str, dict] = {}
        self.lots: list[tuple] = []
        self.activities: list[tuple[str, str, str]] = []
        taps = [i for i in batch if i.kind == topics.TAP and i.device.id in self.static.devices]
        self.owners, self.active = self._load_owners({i.body["card"] for i in taps})
        self.profiles = self._load_profiles(set(self.owners.values()))
        self.holds = self._load_holds(
            {i.body["hold"] for i in batch if i.kind == topics.REPORT and "hold" in i.body}
        )
        # Locks in the order every transaction takes them: money wallets (hub.taps.authorize), the
        # cards counting activities (hub.gifts.count_activities), then gift wallets.
        gifts.lock_cards(
            self.raw,
            {
                f["card_uid"]
                for f in self.holds.values()
                if f["outlet_id"] in self.static.counting and not f["exit"]
            },
        )
        self.gift_holds = gifts.load_gift_holds(
            self.raw, [h for h, f in self.holds.items() if f["gift_item"]]
        )
        gift_taps = {
            (self.owner(i.body["card"]), self.static.devices[i.device.id]["gift_item"])
            for i in taps
            if i.body.get("dir") != "exit"
        }
        self.gift_lots = self._load_gift_lots({pair for pair in gift_taps if pair[1]})

    def _in(self, values) -> tuple[str, list]:
        values = list(values)
        return f"({self.raw.marks(len(values))})", values

    def _load_owners(self, uids: set[str]) -> tuple[dict[str, str], set[str]]:
        """Each card -> the card whose wallet, discounts, points and gifts it uses (a linked RFID
        card uses its digital card's, hub/cards/links.py); and which of those are active."""
        if not uids:
            return {}, set()
        marks, params = self._in(uids)
        rows = self.raw.rows(
            "SELECT c.uid, o.uid, o.status FROM cards c JOIN cards o ON o.uid = COALESCE(c.linked_to, c.uid) "
            f"WHERE c.uid IN {marks}",
            params,
        )
        return {uid: owner for uid, owner, _ in rows}, {owner for _, owner, s in rows if s == "active"}

    def owner(self, uid: str) -> str:
        return self.owners.get(uid, uid)

    def _load_profiles(self, uids: set[str]) -> dict[str, dict]:
        if not uids:
            return {}
        marks, params = self._in(uids)
        groups = dict(
            self.raw.rows(
                f"SELECT card_uid, group_id FROM card_discount_groups WHERE card_uid IN {marks}", params
            )
        )
        profiles = {uid: {"group": groups.get(uid), "rates": [], "group_rates": []} for uid in uids}
        group_marks, group_ids = self._in(set(groups.values()) or {""})
        rows = self.raw.rows(
            "SELECT owner, owner_id, scope, target, percent FROM discount_rates "
            f"WHERE (owner = 'card' AND owner_id IN {marks}) "
            f"OR (owner = 'group' AND owner_id IN {group_marks})",
            params + group_ids,
        )
        group_rates: dict[str, list] = {}
        for owner, owner_id, scope, target, percent in rows:
            rate = {"scope": scope, "target": target, "percent": Decimal(percent)}
            (profiles[owner_id]["rates"] if owner == "card" else group_rates.setdefault(owner_id, [])).append(
                rate
            )
        for profile in profiles.values():
            profile["group_rates"] = group_rates.get(profile["group"], [])
        return profiles

    def _load_gift_lots(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], list[dict]]:
        """The valid open lots of these (card, gift item) pairs, oldest first, read after their gift
        wallets are locked (what hub.gifts.hold_unit needs)."""
        if not wanted:
            return {}
        cards, uids = self._in({uid for uid, _ in wanted})
        items, item_ids = self._in({item for _, item in wanted})
        wallets = self.raw.rows(
            f"SELECT account_id FROM gift_accounts WHERE card_uid IN {cards} AND item_id IN {items}",
            uids + item_ids,
        )
        if not wallets:
            return {}
        self.book.load([w for (w,) in wallets], lock=True)
        rows = self.raw.rows(
            "SELECT card_uid, item_id, id, account_id, remaining FROM gift_lots "
            f"WHERE card_uid IN {cards} AND item_id IN {items} AND remaining > 0 "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id",
            uids + item_ids + [self.raw.when(utcnow())],
        )
        lots: dict[tuple[str, str], list[dict]] = {}
        for uid, item_id, lot_id, account_id, remaining in rows:
            if (uid, item_id) in wanted:
                lots.setdefault((uid, item_id), []).append(
                    {"id": lot_id, "account_id": account_id, "remaining": remaining}
                )
        return lots

    def _load_holds(self, hold_ids: set[str]) -> dict[str, dict]:
        if not hold_ids:
            return {}
        marks, params = self._in(hold_ids)
        rows = self.raw.rows(
            f"SELECT {', '.join(_HOLD_COLUMNS)} FROM device_loyalty_holds WHERE hold_id IN {marks}", params
        )
        return {r[0]: dict(zip(_HOLD_COLUMNS, r, strict=True)) for r in rows}

    # -- at the tap

    def price(self, item, hold_id: str) -> tuple[int, int]:
        """(units, unit price) of a tap: the card's discount applied, or (1, 0) when a gift
        is held instead of money. Remembers the hold's loyalty facts for its report."""
        body, device = item.body, item.device
        settings = self.static.devices.get(device.id)
        if settings is None:
            return body["units"], device.unit_price
        outlet = self.static.outlets[settings["outlet_id"]]
        uid, leaving = self.owner(body["card"]), body.get("dir") == "exit"
        facts = {
            "hold_id": hold_id,
            "card_uid": uid,
            "outlet_id": outlet["id"],
            "site_id": outlet["site_id"],
            "article_id": settings["article_id"],
            "gross_unit_price": device.unit_price,
            "discount_percent": "0",
            "gift_item": None,
            "exit": leaving,
        }
        item_id = settings["gift_item"]
        lots, gift = self.gift_lots.get((uid, item_id)), self.static.chain.items.get(item_id)
        if (
            lots
            and gift
            and not leaving
            and uid in self.active
            and gifts.hold_unit(
                self.conn, self.book, uid, gift, outlet, lots, hold_id, f"{device.id}/{body['id']}/gift"
            )
        ):
            self.new_holds[hold_id] = {**facts, "gift_item": item_id}
            return 1, 0
        percent, _ = discounts.percent_for(self.profiles.get(uid, _NO_DISCOUNT), settings["article"])
        self.new_holds[hold_id] = {**facts, "discount_percent": str(percent)}
        return body["units"], device.unit_price - discounts.line_discount(device.unit_price, percent)

    def refused(self, hold_id: str) -> None:
        """The tap was denied after `price` (not enough money): nothing to remember."""
        self.new_holds.pop(hold_id, None)

    # -- at the report

    def report(self, item, hold: dict, delivered: int) -> None:
        facts = self.holds.get(hold["id"])
        if facts is None:
            return
        key = f"{item.device.id}/{item.body['id']}"
        if facts["gift_item"]:
            self._settle_gift(hold["id"], delivered > 0, key + "/gift")
        if not delivered:
            return
        if facts["exit"]:
            self._leave(facts, key + "/exit")
            return
        if not facts["gift_item"]:
            self._earn(facts, hold, delivered, item.device.id)
        if facts["outlet_id"] in self.static.counting:
            self.activities.append((facts["card_uid"], facts["outlet_id"], key + "/activity"))

    def _settle_gift(self, hold_id: str, delivered: bool, key: str) -> None:
        gift_hold, chain = self.gift_holds.get(hold_id), self.static.chain
        if gift_hold is None:
            raise NotFound(f"no gift hold {hold_id}")
        item, outlet = chain.items.get(gift_hold["item_id"]), chain.outlets.get(gift_hold["outlet_id"])
        if item is None or outlet is None:  # made after the cache was filled
            gifts.settle_gift(self.conn, self.book, hold_id, delivered, key)
        else:
            gifts.settle_hold(self.conn, self.book, gift_hold, item, outlet, delivered, key)

    def _count(self) -> None:
        """Count the activities reported so far (before an exit, and before the ledger is flushed)."""
        if self.activities:
            gifts.count_activities(self.conn, self.book, self.activities, self.now, self.static.chain)
            self.activities = []

    def _leave(self, facts: dict, key: str) -> None:
        self._count()
        uid = facts["card_uid"]
        gifts.reset_at_exit(self.conn, uid, facts["site_id"], self.now, key, book=self.book)
        # The exit took units off the card's lots: later taps of this batch read them afresh.
        self.gift_lots.update(self._load_gift_lots({p for p in self.gift_lots if p[0] == uid}))

    def _earn(self, facts: dict, hold: dict, delivered: int, device_id: str) -> None:
        if Decimal(facts["discount_percent"]) == 100:
            return
        outlet = self.static.outlets.get(facts["outlet_id"])
        article = (
            self.static.articles.get(facts["article_id"])
            or catalogue.articles_by_id(self.conn, [facts["article_id"]])[facts["article_id"]]
        )
        gross, net = facts["gross_unit_price"], hold["unit_price"]
        basket = br.Basket(
            lines=(
                br.BasketLine(
                    "1", article["id"], delivered, gross, product_group_id=article["product_group_id"]
                ),
            ),
            voucher_discount=delivered * (gross - net),
        )
        awards = self.static.rules.awards_for_order(
            basket,
            store=outlet["id"],
            channel_in=CHANNEL_IN,
            channel_out=CHANNEL_OUT,
            at=self.now,
            tz=outlet["tz"],
            holidays=outlet["holidays"],
            ref=f"machine/{hold['id']}",
        )
        for award in awards:
            reason = f"{award.reason} ({delivered} delivered at {device_id}, hold {hold['id']})"
            self.lots.append((facts["card_uid"], award, reason, hold["id"]))

    # -- before the batch's ledger is flushed

    def write(self) -> None:
        self._count()
        if self.new_holds:
            self.raw.many(
                f"INSERT INTO device_loyalty_holds ({', '.join(_HOLD_COLUMNS)}) "
                f"VALUES ({self.raw.marks(len(_HOLD_COLUMNS))})",
                [tuple(h[c] for c in _HOLD_COLUMNS) for h in self.new_holds.values()],
            )
        if self.lots:
            self._issue_lots()

    def _issue_lots(self) -> None:
        marks, uids = self._in({lot[0] for lot in self.lots})
        accounts = dict(
            self.raw.rows(f"SELECT card_uid, account_id FROM point_accounts WHERE card_uid IN {marks}", uids)
        )
        accounts.update(points.new_point_accounts(self.raw, sorted(set(uids) - accounts.keys()), self.now))
        issued = self.static.points_issued or system_account(
            self.conn, points.LEDGER, "points", points.ISSUED
        )
        # Points only arrive in these wallets here: read without a lock, updated by deltas.
        self.book.load([issued, *accounts.values()], lock=False)
        when, rows = self.raw.when, []
        for uid, award, reason, hold_id in self.lots:
            self.book.transfer(
                issued, accounts[uid], award.points, code="points_earned", reason=reason, key=award.key
            )
            rows.append(
                (
                    new_id(),
                    uid,
                    accounts[uid],
                    award.points,
                    award.points,
                    when(award.available_at),
                    None if award.expires_at is None else when(award.expires_at),
                    award.key,
                    reason,
                    award.rule_id,
                    hold_id,
                    when(self.now),
                )
            )
        self.raw.many(
            f"INSERT INTO point_lots ({', '.join(_LOT_COLUMNS)}) "
            f"VALUES ({self.raw.marks(len(_LOT_COLUMNS))})",
            rows,
        )


def release_expired(book: Book, hold_ids: list[str]) -> None:
    """Holds voided because their device never reported: their gifts go back to the cards."""
    raw = book.raw
    rows = (
        raw.rows(
            f"SELECT hold_id FROM device_loyalty_holds WHERE gift_item IS NOT NULL "
            f"AND hold_id IN ({raw.marks(len(hold_ids))})",
            hold_ids,
        )
        if hold_ids
        else []
    )
    for (hold_id,) in rows:
        gifts.settle_gift(book.conn, book, hold_id, False, f"expire/{hold_id}/gift")
