"""Just enough catalogue for baskets, discounts and bonus rules: product groups (Warengruppen, what
bonus rules select) and articles with a revenue group (Umsatzgruppe, what card discounts select) and
a price in minor units. Toppings are articles too; `topping_group_id` places them in a topping group."""

from __future__ import annotations

from sqlalchemy import Connection, select

from hub.core.errors import Conflict, Invalid, NotFound
from hub.tables.catalogue import Article, ProductGroup

GROUPS = ProductGroup.__table__
ARTICLES = Article.__table__


def create_group(conn: Connection, group_id: str, name: str = "") -> dict:
    if conn.execute(select(GROUPS.c.id).where(GROUPS.c.id == group_id)).first():
        raise Conflict(f"product group {group_id} exists")
    conn.execute(GROUPS.insert().values(id=group_id, name=name or group_id))
    return {"id": group_id, "name": name or group_id}


def list_groups(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(GROUPS).order_by(GROUPS.c.id)).mappings()]


def create_article(conn: Connection, article: dict) -> dict:
    if conn.execute(select(ARTICLES.c.id).where(ARTICLES.c.id == article["id"])).first():
        raise Conflict(f"article {article['id']} exists")
    group = article.get("product_group_id")
    if group is not None and not conn.execute(select(GROUPS.c.id).where(GROUPS.c.id == group)).first():
        raise NotFound(f"no product group {group}")
    conn.execute(ARTICLES.insert().values(**{**article, "name": article.get("name") or article["id"]}))
    return articles_by_id(conn, [article["id"]])[article["id"]]


def list_articles(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(ARTICLES).order_by(ARTICLES.c.id)).mappings()]


def articles_by_id(conn: Connection, ids) -> dict[str, dict]:
    rows = conn.execute(select(ARTICLES).where(ARTICLES.c.id.in_(set(ids)))).mappings()
    found = {r["id"]: dict(r) for r in rows}
    missing = sorted(set(ids) - found.keys())
    if missing:
        raise NotFound(f"no article {', '.join(missing)}")
    return found


def check_targets(conn: Connection, target_ids, what: str) -> None:
    """Invalid (naming them) if a rule's target is no article, product group or topping group."""
    wanted = set(target_ids)
    if not wanted:
        return
    known = set(conn.execute(select(ARTICLES.c.id).where(ARTICLES.c.id.in_(wanted))).scalars())
    known |= set(conn.execute(select(GROUPS.c.id).where(GROUPS.c.id.in_(wanted))).scalars())
    known |= set(
        conn.execute(
            select(ARTICLES.c.topping_group_id).where(ARTICLES.c.topping_group_id.in_(wanted))
        ).scalars()
    )
    if wanted - known:
        raise Invalid(
            f"{what}: no article, product group or topping group {', '.join(sorted(wanted - known))}"
        )
