"""Discounts per card (seed 002): a general discount on all articles, a discount per revenue group
(Umsatzgruppe) or per product (article); discount groups (employee, customer, management …) assignable
to a card; employee consumption is a group with a general 100 %.

Precedence, decided here:
  * Within one source (the card's own rates, or its group's rates) the most specific rate applies:
    article > revenue group > general. So a group "general 20 %, revenue group tobacco 0 %" works as
    an exception list.
  * Between the card's own discount and its group's, the larger applies (a personal discount is a
    favour on top of the group, never a penalty); on a tie the card's own is named as the source.
  * A card has at most one discount group.
Rounding: the discount of a line is percent × (quantity × unit price), rounded half up to the minor
unit, once per line (3 × 1.25 at 10 % = 0.375 → 0.38). The net of a line never goes below 0.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Connection, and_, bindparam, delete, func, literal, select, union_all

from hub.core.errors import Conflict, Invalid, NotFound
from hub.tables.loyalty import CardDiscountGroup, DiscountGroup, DiscountRate
from hub.wallets.cards import get_card

SCOPES = ("article", "revenue_group", "general")  # most specific first


GROUPS = DiscountGroup.__table__
RATES = DiscountRate.__table__
CARD_GROUPS = CardDiscountGroup.__table__


def _check_rate(rate: dict) -> dict:
    scope, target, percent = rate["scope"], rate.get("target") or "", Decimal(str(rate["percent"]))
    if scope not in SCOPES:
        raise Invalid(f"scope must be one of {SCOPES}")
    if (scope == "general") != (target == ""):
        raise Invalid("a general rate has no target; other rates need one")
    if not 0 <= percent <= 100:
        raise Invalid("percent must be between 0 and 100")
    return {"scope": scope, "target": target, "percent": percent}


def _set_rates(conn: Connection, owner: str, owner_id: str, rates: list[dict]) -> None:
    checked = [_check_rate(r) for r in rates]
    if len({(r["scope"], r["target"]) for r in checked}) != len(checked):
        raise Invalid("two rates for the same scope and target")
    conn.execute(delete(RATES).where(RATES.c.owner == owner, RATES.c.owner_id == owner_id))
    if checked:
        conn.execute(
            RATES.insert(),
            [
                {
                    "owner": owner,
                    "owner_id": owner_id,
                    "scope": r["scope"],
                    "target": r["target"],
                    "percent": str(r["percent"]),
                }
                for r in checked
            ],
        )


def _rates(conn: Connection, owner: str, owner_id: str | None) -> list[dict]:
    if owner_id is None:
        return []
    rows = conn.execute(
        select(RATES.c.scope, RATES.c.target, RATES.c.percent)
        .where(RATES.c.owner == owner, RATES.c.owner_id == owner_id)
        .order_by(RATES.c.scope, RATES.c.target)
    )
    return [{"scope": s, "target": t, "percent": Decimal(p)} for s, t, p in rows]


def create_group(conn: Connection, group_id: str, name: str, rates: list[dict]) -> dict:
    if conn.execute(select(GROUPS.c.id).where(GROUPS.c.id == group_id)).first():
        raise Conflict(f"discount group {group_id} exists")
    conn.execute(GROUPS.insert().values(id=group_id, name=name or group_id))
    _set_rates(conn, "group", group_id, rates)
    return get_group(conn, group_id)


def update_group(conn: Connection, group_id: str, name: str, rates: list[dict]) -> dict:
    """A group's new name and rates; the cards in it keep it."""
    get_group(conn, group_id)
    conn.execute(GROUPS.update().where(GROUPS.c.id == group_id).values(name=name or group_id))
    _set_rates(conn, "group", group_id, rates)
    return get_group(conn, group_id)


def delete_group(conn: Connection, group_id: str) -> dict:
    """Remove a group no card is in (Conflict naming how many are)."""
    group = get_group(conn, group_id)
    cards = conn.execute(
        select(func.count()).select_from(CARD_GROUPS).where(CARD_GROUPS.c.group_id == group_id)
    ).scalar_one()
    if cards:
        raise Conflict(f"discount group {group_id} holds {cards} cards: move them to another group first")
    conn.execute(delete(RATES).where(RATES.c.owner == "group", RATES.c.owner_id == group_id))
    conn.execute(delete(GROUPS).where(GROUPS.c.id == group_id))
    return group


def get_group(conn: Connection, group_id: str) -> dict:
    row = conn.execute(select(GROUPS).where(GROUPS.c.id == group_id)).mappings().first()
    if row is None:
        raise NotFound(f"no discount group {group_id}")
    return {**row, "rates": _rates(conn, "group", group_id)}


def list_groups(conn: Connection) -> list[dict]:
    ids = conn.execute(select(GROUPS.c.id).order_by(GROUPS.c.id)).scalars().all()
    return [get_group(conn, i) for i in ids]


def set_card_discounts(conn: Connection, uid: str, group_id: str | None, rates: list[dict]) -> dict:
    uid = get_card(conn, uid).uid
    if group_id is not None:
        get_group(conn, group_id)
    conn.execute(delete(CARD_GROUPS).where(CARD_GROUPS.c.card_uid == uid))
    if group_id is not None:
        conn.execute(CARD_GROUPS.insert().values(card_uid=uid, group_id=group_id))
    _set_rates(conn, "card", uid, rates)
    return card_discounts(conn, uid)


def pass_on(conn: Connection, from_uid: str, to_uid: str) -> None:
    """Give a card's own discounts (its group and rates) to a card that has none of its own:
    a lost card's replacement, the digital wallet an RFID card is linked to."""
    own, target = card_discounts(conn, from_uid), card_discounts(conn, to_uid)
    if (own["group"] or own["rates"]) and not (target["group"] or target["rates"]):
        set_card_discounts(conn, to_uid, own["group"], own["rates"])


def card_discounts(conn: Connection, uid: str) -> dict:
    uid = get_card(conn, uid).uid
    group = conn.execute(select(CARD_GROUPS.c.group_id).where(CARD_GROUPS.c.card_uid == uid)).scalar()
    return {
        "uid": uid,
        "group": group,
        "rates": _rates(conn, "card", uid),
        "group_rates": _rates(conn, "group", group),
    }


def _profile_query():
    uid = bindparam("uid")
    own = select(RATES.c.owner, RATES.c.owner_id, RATES.c.scope, RATES.c.target, RATES.c.percent).where(
        RATES.c.owner == "card", RATES.c.owner_id == uid
    )
    group = (
        select(literal("group"), CARD_GROUPS.c.group_id, RATES.c.scope, RATES.c.target, RATES.c.percent)
        .select_from(
            CARD_GROUPS.outerjoin(
                RATES, and_(RATES.c.owner == "group", RATES.c.owner_id == CARD_GROUPS.c.group_id)
            )
        )
        .where(CARD_GROUPS.c.card_uid == uid)
    )
    return union_all(own, group)


_PROFILE = _profile_query()  # built once: SQLAlchemy keeps its cache key


def profile(conn: Connection, uid: str) -> dict:
    """card_discounts of a card known to exist (`uid` as hub.wallets.cards.get_card names it), in
    one query: the basket's way."""
    out = {"uid": uid, "group": None, "rates": [], "group_rates": []}
    for owner, owner_id, scope, target, percent in conn.execute(_PROFILE, {"uid": uid}):
        if owner == "group":
            out["group"] = owner_id
        if scope is not None:
            rate = {"scope": scope, "target": target, "percent": Decimal(percent)}
            out["rates" if owner == "card" else "group_rates"].append(rate)
    for rates in (out["rates"], out["group_rates"]):
        rates.sort(key=lambda r: (r["scope"], r["target"]))
    return out


def _most_specific(rates: list[dict], article: dict) -> Decimal | None:
    targets = {"article": article["id"], "revenue_group": article.get("revenue_group") or None, "general": ""}
    by_key = {(r["scope"], r["target"]): r["percent"] for r in rates}
    for scope in SCOPES:
        if targets[scope] is not None and (scope, targets[scope]) in by_key:
            return by_key[(scope, targets[scope])]
    return None


def percent_for(profile: dict, article: dict) -> tuple[Decimal, str | None]:
    """The discount percent for an article and where it comes from ("card", "group:<id>" or None)."""
    own = _most_specific(profile["rates"], article)
    group = _most_specific(profile["group_rates"], article)
    if own is None and group is None:
        return Decimal(0), None
    if group is None or (own is not None and own >= group):
        return own, "card"
    return group, f"group:{profile['group']}"


def line_discount(gross: int, percent: Decimal) -> int:
    """percent of gross in minor units, rounded half up, at most gross."""
    exact = Fraction(gross) * Fraction(percent) / 100
    return min(gross, int(exact + Fraction(1, 2)))
