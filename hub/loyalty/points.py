"""Bonus points (seed 003) persisted: rules and their targets, the global settings, and the points
themselves as dated lots on the "PTS" ledger.

Every award (or purchase) of points is a lot: card, points, available_at, expires_at, source key and
reason, booked as one transfer "points issued" → the card's PTS wallet. The ledger keeps the card's
total; the lots say which of those points may be spent when:
  * spending takes, among the lots available now (available_at <= now < expires_at), those that
    expire first (never-expiring lots last; then the earliest available, then the oldest);
  * points not yet available cannot be spent;
  * `run_expiry` books what is left of expired lots out to "points expired" — lots are never deleted;
  * every change of a lot's `remaining` is written to `lot_moves` (redeem, return, clawback, expire),
    so a refund can put redeemed points back into the very lots they came from.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, select, update

from hub.core.clock import utcnow
from hub.core.errors import NotFound, PointsError
from hub.core.raw import Raw
from hub.ledger import Book, create_accounts, new_id, system_account
from hub.loyalty import catalogue, outlets
from hub.loyalty import point_rules as br
from hub.tables.loyalty import BonusRule, BonusRuleTarget, BonusSettingsRow, LotMove, PointAccount, PointLot
from hub.wallets.cards import get_card

LEDGER = "PTS"
ISSUED = "points issued"
REDEEMED = "points redeemed"
EXPIRED = "points expired"


RULES = BonusRule.__table__
TARGETS = BonusRuleTarget.__table__
SETTINGS = BonusSettingsRow.__table__
POINT_ACCOUNTS = PointAccount.__table__
LOTS = PointLot.__table__
MOVES = LotMove.__table__


# -- rules and settings ----------------------------------------------------------------------------

_RULE_FIELDS = [c.name for c in RULES.columns if c.name != "id"]


def _to_rule(row: dict, targets: list[dict]) -> br.Rule:
    fields = {k: row[k] for k in _RULE_FIELDS}
    for name in ("stores", "channels_in", "channels_out", "weekdays"):
        fields[name] = frozenset(fields[name])
    return br.Rule(
        id=row["id"],
        targets=tuple(
            br.Target(
                t["target_id"],
                t["points"],
                frozenset(t["exclusive_voucher_types"]),
                t["exclude_menu_contents"],
            )
            for t in targets
        ),
        **fields,
    )


def _row(rule: dict) -> dict:
    row = {k: rule[k] for k in _RULE_FIELDS if k in rule}
    for name in ("stores", "channels_in", "channels_out", "weekdays"):
        if name in row:
            row[name] = sorted(str(v) if name == "stores" else v for v in set(row[name]))
    return row


def create_rule(conn: Connection, rule: dict) -> dict:
    """Store a rule (every field given, as the API model dumps it) after `bonus_rules.Rule`
    accepted it; Invalid otherwise."""
    row, targets = _row(rule), [_target(t) for t in rule.get("targets", [])]
    _to_rule({**row, "id": 0}, targets)  # validates
    outlets.check_outlets(conn, row.get("stores", []), "stores")
    catalogue.check_targets(conn, [t["target_id"] for t in targets], "targets")
    rule_id = conn.execute(RULES.insert().values(**row)).inserted_primary_key[0]
    if targets:
        conn.execute(TARGETS.insert(), [{**t, "rule_id": rule_id} for t in targets])
    return get_rule(conn, rule_id)


def update_rule(conn: Connection, rule_id: int, rule: dict) -> dict:
    """Replace a rule's fields and targets (every field given, as for create_rule); its id stays,
    so lots it awarded still name it."""
    get_rule(conn, rule_id)
    row, targets = _row(rule), [_target(t) for t in rule.get("targets", [])]
    _to_rule({**row, "id": rule_id}, targets)  # validates
    outlets.check_outlets(conn, row.get("stores", []), "stores")
    catalogue.check_targets(conn, [t["target_id"] for t in targets], "targets")
    conn.execute(update(RULES).where(RULES.c.id == rule_id).values(**row))
    conn.execute(delete(TARGETS).where(TARGETS.c.rule_id == rule_id))
    if targets:
        conn.execute(TARGETS.insert(), [{**t, "rule_id": rule_id} for t in targets])
    return get_rule(conn, rule_id)


def delete_rule(conn: Connection, rule_id: int) -> dict:
    """Remove a rule and its targets; what it awarded stays (lots keep the rule's id)."""
    rule = get_rule(conn, rule_id)
    conn.execute(delete(TARGETS).where(TARGETS.c.rule_id == rule_id))
    conn.execute(delete(RULES).where(RULES.c.id == rule_id))
    return rule


def _target(t: dict) -> dict:
    return {
        "target_id": str(t["id"]),
        "points": t["points"],
        "exclusive_voucher_types": sorted(t.get("exclusive_voucher_types", [])),
        "exclude_menu_contents": bool(t.get("exclude_menu_contents", False)),
    }


def _targets(conn: Connection, rule_ids) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in rule_ids}
    rows = conn.execute(
        select(TARGETS).where(TARGETS.c.rule_id.in_(list(rule_ids))).order_by(TARGETS.c.id)
    ).mappings()
    for t in rows:
        out[t["rule_id"]].append(dict(t))
    return out


def _view(row, targets) -> dict:
    return {
        **row,
        "targets": [
            {
                "id": t["target_id"],
                "points": t["points"],
                "exclusive_voucher_types": t["exclusive_voucher_types"],
                "exclude_menu_contents": t["exclude_menu_contents"],
            }
            for t in targets
        ],
    }


def get_rule(conn: Connection, rule_id: int) -> dict:
    row = conn.execute(select(RULES).where(RULES.c.id == rule_id)).mappings().first()
    if row is None:
        raise NotFound(f"no bonus rule {rule_id}")
    return _view(dict(row), _targets(conn, [rule_id])[rule_id])


def list_rules(conn: Connection) -> list[dict]:
    rows = [dict(r) for r in conn.execute(select(RULES).order_by(RULES.c.id)).mappings()]
    targets = _targets(conn, [r["id"] for r in rows])
    return [_view(r, targets[r["id"]]) for r in rows]


def set_active(conn: Connection, rule_id: int, active: bool) -> dict:
    get_rule(conn, rule_id)
    conn.execute(update(RULES).where(RULES.c.id == rule_id).values(active=active))
    return get_rule(conn, rule_id)


def get_settings(conn: Connection) -> dict:
    row = conn.execute(select(SETTINGS).where(SETTINGS.c.id == 1)).mappings().first()
    if row is None:
        return {
            "hours_until_available": 0,
            "default_validity_days": None,
            "enabled_stores": [],
            "point_value": 0,
        }
    return {
        k: row[k] for k in ("hours_until_available", "default_validity_days", "enabled_stores", "point_value")
    }


def set_settings(conn: Connection, settings: dict) -> dict:
    values = {**settings, "enabled_stores": sorted(str(s) for s in set(settings["enabled_stores"]))}
    outlets.check_outlets(conn, values["enabled_stores"], "enabled_stores")
    br.BonusSettings(
        values["hours_until_available"], values["default_validity_days"], frozenset(values["enabled_stores"])
    )  # validates
    conn.execute(delete(SETTINGS))
    conn.execute(SETTINGS.insert().values(id=1, **values))
    return get_settings(conn)


def rule_book(conn: Connection) -> tuple[br.RuleBook, dict]:
    """The rule engine over the stored rules, and the settings it was built with."""
    rows = [dict(r) for r in conn.execute(select(RULES)).mappings()]
    targets = _targets(conn, [r["id"] for r in rows])
    settings = get_settings(conn)
    book = br.RuleBook(
        [_to_rule(r, targets[r["id"]]) for r in rows],
        br.BonusSettings(
            settings["hours_until_available"],
            settings["default_validity_days"],
            frozenset(settings["enabled_stores"]),
        ),
    )
    return book, settings


# -- the card's points wallet and its lots ---------------------------------------------------------


def point_account(conn: Connection, uid: str, create: bool = True) -> int | None:
    uid = get_card(conn, uid).uid
    found = conn.execute(select(POINT_ACCOUNTS.c.account_id).where(POINT_ACCOUNTS.c.card_uid == uid)).scalar()
    if found is None and create:
        found = new_point_accounts(Raw(conn), [uid], utcnow())[uid]
    return found


def new_point_accounts(raw: Raw, uids: list[str], now: dt.datetime) -> dict[str, int]:
    """Points wallets for cards that have none yet (uids as get_card names them): card uid ->
    account id, in two statements however many (a batch of taps on a season's first day)."""
    made = create_accounts(raw, LEDGER, "wallet", [f"card {uid} points" for uid in uids], now)
    accounts = {uid: made[f"card {uid} points"] for uid in uids}
    raw.many("INSERT INTO point_accounts (card_uid, account_id) VALUES (?, ?)", list(accounts.items()))
    return accounts


def issue_lot(
    conn: Connection,
    book: Book,
    uid: str,
    points: int,
    key: str,
    reason: str,
    available_at: dt.datetime,
    expires_at: dt.datetime | None,
    *,
    rule_id: int | None = None,
    basket_id: str | None = None,
    code: str = "points_earned",
) -> dict:
    """Book points onto the card as one dated lot."""
    account = point_account(conn, uid)
    lot_id = new_id()
    book.transfer(
        system_account(conn, LEDGER, "points", ISSUED), account, points, code=code, reason=reason, key=key
    )
    lot = {
        "id": lot_id,
        "card_uid": get_card(conn, uid).uid,
        "account_id": account,
        "points": points,
        "remaining": points,
        "available_at": available_at,
        "expires_at": expires_at,
        "source_key": key,
        "reason": reason,
        "rule_id": rule_id,
        "basket_id": basket_id,
        "created_at": utcnow(),
    }
    conn.execute(LOTS.insert().values(**lot))
    return lot


def move_lots(conn: Connection, book: Book, old_uid: str, new_uid: str, ref: str) -> int:
    """A replaced card's open lots move to the new card, each keeping its own
    availability and expiry; returns the points moved."""
    old_account = point_account(conn, old_uid, create=False)
    if old_account is None:
        return 0
    new_account = point_account(conn, new_uid)
    moved = 0
    for lot in lots(conn, old_uid):
        _move(conn, lot["id"], ref, "move", lot["remaining"])
        conn.execute(
            LOTS.insert().values(
                id=new_id(),
                card_uid=get_card(conn, new_uid).uid,
                account_id=new_account,
                points=lot["remaining"],
                remaining=lot["remaining"],
                available_at=lot["available_at"],
                expires_at=lot["expires_at"],
                source_key=f"{ref}/{lot['id']}",
                reason=f"moved from card {lot['card_uid']}: {lot['reason']}",
                rule_id=lot["rule_id"],
                basket_id=lot["basket_id"],
                created_at=utcnow(),
            )
        )
        moved += lot["remaining"]
    if moved:
        book.transfer(
            old_account,
            new_account,
            moved,
            code="points_moved",
            reason=f"card {old_uid} replaced by {new_uid}",
            key=ref,
        )
    return moved


def _spend_order(lot: dict):
    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    return (lot["expires_at"] or never, lot["available_at"], lot["created_at"], lot["id"])


def lots(conn: Connection, uid: str, open_only: bool = True) -> list[dict]:
    query = select(LOTS).where(LOTS.c.card_uid == get_card(conn, uid).uid)
    if open_only:
        query = query.where(LOTS.c.remaining > 0)
    return sorted((dict(r) for r in conn.execute(query).mappings()), key=_spend_order)


def _spendable(lot: dict, now: dt.datetime) -> bool:
    return lot["available_at"] <= now and (lot["expires_at"] is None or now < lot["expires_at"])


def summary(conn: Connection, uid: str, now: dt.datetime) -> dict:
    open_lots = lots(conn, uid)
    return {
        "uid": get_card(conn, uid).uid,
        "balance": sum(lot["remaining"] for lot in open_lots),
        "available": sum(lot["remaining"] for lot in open_lots if _spendable(lot, now)),
        "lots": open_lots,
    }


def _move(conn: Connection, lot_id: str, ref: str, kind: str, points: int) -> None:
    sign = 1 if kind == "return" else -1
    conn.execute(update(LOTS).where(LOTS.c.id == lot_id).values(remaining=LOTS.c.remaining + sign * points))
    conn.execute(MOVES.insert().values(lot_id=lot_id, ref=ref, kind=kind, points=points, created_at=utcnow()))


def _take(conn: Connection, candidates: list[dict], points: int, ref: str, kind: str) -> int:
    """Take up to `points` from the lots in the given order; returns what is still missing."""
    for lot in candidates:
        if points == 0:
            break
        n = min(points, lot["remaining"])
        if n:
            _move(conn, lot["id"], ref, kind, n)
            lot["remaining"] -= n
            points -= n
    return points


def redeem(
    conn: Connection, book: Book, uid: str, points: int, ref: str, key: str, reason: str, now: dt.datetime
) -> None:
    """Spend points available now, the lots that expire first first."""
    account = point_account(conn, uid)
    book.account(account)  # locks the points wallet before its lots are read
    usable = [lot for lot in lots(conn, uid) if _spendable(lot, now)]
    have = sum(lot["remaining"] for lot in usable)
    if have < points:
        raise PointsError(f"card {uid} has {have} points available now, needs {points}")
    _take(conn, usable, points, ref, "redeem")
    book.transfer(
        account,
        system_account(conn, LEDGER, "points", REDEEMED),
        points,
        code="points_redeemed",
        reason=reason,
        key=key,
    )


def give_back(conn: Connection, book: Book, uid: str, ref: str, key: str, reason: str) -> int:
    """Undo the redemptions of `ref`: the points go back into the lots they came from, with those
    lots' own availability and expiry (an already expired lot is booked out by the next expiry run)."""
    taken = conn.execute(
        select(MOVES.c.lot_id, MOVES.c.points).where(MOVES.c.ref == ref, MOVES.c.kind == "redeem")
    ).all()
    total = sum(p for _, p in taken)
    if total:
        for lot_id, n in taken:
            _move(conn, lot_id, ref, "return", n)
        book.transfer(
            system_account(conn, LEDGER, "points", REDEEMED),
            point_account(conn, uid),
            total,
            code="points_returned",
            reason=reason,
            key=key,
        )
    return total


def claw_back(conn: Connection, book: Book, uid: str, basket_id: str, key: str, reason: str) -> int:
    """Take back the points a basket earned: first what is left of its own lots, then — if some were
    spent meanwhile — from the card's other open lots (expiring first, available or not)."""
    account = point_account(conn, uid)
    book.account(account)
    open_lots = lots(conn, uid)
    own = [lot for lot in open_lots if lot["basket_id"] == basket_id]
    earned = sum(conn.execute(select(LOTS.c.points).where(LOTS.c.basket_id == basket_id)).scalars())
    others = [lot for lot in open_lots if lot["basket_id"] != basket_id]
    if sum(lot["remaining"] for lot in open_lots) < earned:
        raise PointsError(f"card {uid} no longer holds the {earned} points this basket earned")
    _take(conn, own + others, earned, basket_id, "clawback")
    if earned:
        book.transfer(
            account,
            system_account(conn, LEDGER, "points", ISSUED),
            earned,
            code="points_clawback",
            reason=reason,
            key=key,
        )
    return earned


def run_expiry(conn: Connection, now: dt.datetime) -> dict:
    """Book out what is left of every lot expired at `now` (one transfer per lot)."""
    expired = (LOTS.c.remaining > 0, LOTS.c.expires_at.is_not(None), LOTS.c.expires_at <= now)
    book = Book(conn)
    # Lock the points wallets first, then read the lots: a parallel redemption cannot slip between.
    book.load(set(conn.execute(select(LOTS.c.account_id).where(*expired)).scalars()), lock=True)
    rows = [
        dict(r)
        for r in conn.execute(select(LOTS).where(*expired).order_by(LOTS.c.account_id, LOTS.c.id)).mappings()
    ]
    run = "expiry/" + new_id()
    sink = system_account(conn, LEDGER, "points", EXPIRED) if rows else None
    for lot in rows:
        expire_lot(
            conn, book, lot, run, f"lot {lot['id']} expired at {lot['expires_at'].isoformat()}", sink=sink
        )
    book.flush()
    return {"lots": len(rows), "points": sum(r["remaining"] for r in rows)}


def expire_lot(
    conn: Connection,
    book: Book,
    lot: dict,
    ref: str,
    reason: str,
    code: str = "points_expired",
    sink: int | None = None,
) -> int:
    """Book what is left of one lot out to "points expired" (the lot is kept, a move records it).
    The caller has locked the card's points wallet before reading the lot."""
    n = lot["remaining"]
    if n:
        _move(conn, lot["id"], ref, "expire", n)
        sink = sink or system_account(conn, LEDGER, "points", EXPIRED)
        book.transfer(lot["account_id"], sink, n, code=code, reason=reason, key=f"{ref}/{lot['id']}")
    return n


def register(conn: Connection, uid: str, outlet_id: str, channel_in: str, now: dt.datetime) -> dict:
    """The one-off points of registration rules for a card (account) registering at an outlet.
    Once per card: a second registration earns nothing."""
    card = get_card(conn, uid)
    outlet = outlets.get_outlet(conn, outlet_id)
    ref = f"registration/{card.uid}"
    if conn.execute(select(LOTS.c.id).where(LOTS.c.source_key.like(ref + ":%"))).first():
        return {"points": 0, "awards": [], "repeated": True}
    book, _ = rule_book(conn)
    awards = book.awards_for_registration(
        store=outlet["id"],
        channel_in=channel_in,
        at=now,
        tz=outlet["tz"],
        holidays=frozenset(outlets.holidays(conn, outlet["id"])),
        ref=ref,
    )
    ledger = Book(conn)
    for a in awards:
        issue_lot(
            conn, ledger, card.uid, a.points, a.key, a.reason, a.available_at, a.expires_at, rule_id=a.rule_id
        )
    ledger.flush()
    return {
        "points": sum(a.points for a in awards),
        "repeated": False,
        "awards": [
            {
                "points": a.points,
                "rule_id": a.rule_id,
                "reason": a.reason,
                "available_at": a.available_at,
                "expires_at": a.expires_at,
            }
            for a in awards
        ],
    }
