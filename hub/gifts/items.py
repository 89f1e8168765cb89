"""Gift items, chain rules and each site's gift settings: what the park sets up before any gift is
granted (hub.gifts says how they are used)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from hub.core.clock import utcnow
from hub.core.errors import Conflict, Invalid, NotFound
from hub.loyalty import catalogue, outlets
from hub.tables.gifts import ChainRule, GiftItem, SiteGiftSettings

ITEMS = GiftItem.__table__
RULES = ChainRule.__table__
SITE_SETTINGS = SiteGiftSettings.__table__

_generation = 0


def generation() -> int:
    """Grows whenever this process changes a gift item or chain rule (caches of them compare it)."""
    return _generation


def _changed() -> None:
    global _generation
    _generation += 1


def create_item(conn: Connection, item: dict, currency: str) -> dict:
    if conn.execute(select(ITEMS.c.id).where(ITEMS.c.id == item["id"])).first():
        raise Conflict(f"gift item {item['id']} exists")
    if item.get("points_level") is not None and item.get("points_price") is None:
        raise Invalid("a points level needs a points price")
    if item.get("article_id"):
        catalogue.articles_by_id(conn, [item["article_id"]])  # NotFound for an unknown article
    values = {
        k: item.get(k)
        for k in ("id", "name", "value", "article_id", "points_price", "points_level", "valid_days")
    }
    values.update(
        name=values["name"] or item["id"],
        ledger=f"GIFT:{item['id']}",
        currency=currency,
        voucher_type=item.get("voucher_type", "goods"),
        redeem_kinds=sorted(set(item.get("redeem_kinds", []))),
        redeem_outlets=sorted(set(item.get("redeem_outlets", []))),
        created_at=utcnow(),
    )
    outlets.check_outlets(conn, values["redeem_outlets"], "redeem_outlets")
    conn.execute(ITEMS.insert().values(**values))
    _changed()
    return get_item(conn, item["id"])


def update_item(conn: Connection, item_id: str, item: dict) -> dict:
    """Change a gift item's name, where and how it is redeemed, its points price and level and its
    validity (for units granted from now on). Its id, ledger, currency and value stay: the units
    granted so far are owed at that value."""
    get_item(conn, item_id)
    if item.get("points_level") is not None and item.get("points_price") is None:
        raise Invalid("a points level needs a points price")
    if item.get("article_id"):
        catalogue.articles_by_id(conn, [item["article_id"]])  # NotFound for an unknown article
    values = {k: item.get(k) for k in ("article_id", "points_price", "points_level", "valid_days")}
    values.update(
        name=item.get("name") or item_id,
        voucher_type=item.get("voucher_type", "goods"),
        redeem_kinds=sorted(set(item.get("redeem_kinds", []))),
        redeem_outlets=sorted(set(item.get("redeem_outlets", []))),
    )
    outlets.check_outlets(conn, values["redeem_outlets"], "redeem_outlets")
    conn.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(**values))
    _changed()
    return get_item(conn, item_id)


def get_item(conn: Connection, item_id: str) -> dict:
    row = conn.execute(select(ITEMS).where(ITEMS.c.id == item_id)).mappings().first()
    if row is None:
        raise NotFound(f"no gift item {item_id}")
    return dict(row)


def list_items(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(ITEMS).order_by(ITEMS.c.id)).mappings()]


def _checked_rule(conn: Connection, rule: dict) -> dict:
    outlets.get_site(conn, rule["site_id"])
    get_item(conn, rule["item_id"])
    outlets.check_outlets(conn, rule.get("outlet_ids", []), "outlet_ids")
    if rule["activities"] < 1 or rule.get("units", 1) < 1:
        raise Invalid("a chain rule needs at least one activity and grants at least one unit")
    return {
        **rule,
        "outlet_kinds": sorted(set(rule.get("outlet_kinds", []))),
        "outlet_ids": sorted(set(rule.get("outlet_ids", []))),
    }


def create_rule(conn: Connection, rule: dict) -> dict:
    values = {**_checked_rule(conn, rule), "created_at": utcnow()}
    rule_id = conn.execute(RULES.insert().values(**values)).inserted_primary_key[0]
    _changed()
    return get_rule(conn, rule_id)


def update_rule(conn: Connection, rule_id: int, rule: dict) -> dict:
    """Replace a chain rule's fields (every field given, as for create_rule); its id stays, so
    the gifts it granted, and the visits' counts of them, still name it."""
    get_rule(conn, rule_id)
    conn.execute(update(RULES).where(RULES.c.id == rule_id).values(**_checked_rule(conn, rule)))
    _changed()
    return get_rule(conn, rule_id)


def delete_rule(conn: Connection, rule_id: int) -> dict:
    """Remove a chain rule; the gifts it granted stay (their lots keep its id)."""
    rule = get_rule(conn, rule_id)
    conn.execute(RULES.delete().where(RULES.c.id == rule_id))
    _changed()
    return rule


def get_rule(conn: Connection, rule_id: int) -> dict:
    row = conn.execute(select(RULES).where(RULES.c.id == rule_id)).mappings().first()
    if row is None:
        raise NotFound(f"no chain rule {rule_id}")
    return dict(row)


def list_rules(conn: Connection, site_id: str | None = None) -> list[dict]:
    query = select(RULES).order_by(RULES.c.id)
    if site_id is not None:
        query = query.where(RULES.c.site_id == site_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def set_rule_active(conn: Connection, rule_id: int, active: bool) -> dict:
    get_rule(conn, rule_id)
    conn.execute(update(RULES).where(RULES.c.id == rule_id).values(active=active))
    _changed()
    return get_rule(conn, rule_id)


_SITE_DEFAULTS = {
    "reset_gifts": False,
    "reset_bought_gifts": False,
    "reset_points": False,
    "unredeemed_obligation": "kept",
}


def get_site_settings(conn: Connection, site_id: str) -> dict:
    outlets.get_site(conn, site_id)
    row = conn.execute(select(SITE_SETTINGS).where(SITE_SETTINGS.c.site_id == site_id)).mappings().first()
    return {"site_id": site_id, **(_SITE_DEFAULTS if row is None else {k: row[k] for k in _SITE_DEFAULTS})}


def set_site_settings(conn: Connection, site_id: str, settings: dict) -> dict:
    outlets.get_site(conn, site_id)
    settings = {**_SITE_DEFAULTS, **settings}
    if settings["unredeemed_obligation"] not in ("kept", "released"):
        raise Invalid("unredeemed_obligation is kept or released")
    conn.execute(SITE_SETTINGS.delete().where(SITE_SETTINGS.c.site_id == site_id))
    conn.execute(SITE_SETTINGS.insert().values(site_id=site_id, **{k: settings[k] for k in _SITE_DEFAULTS}))
    return get_site_settings(conn, site_id)
