"""Reports over the gift side's bookings: the settlement between outlets and the settlement node
(who owes whom for gifts over a period) and seed 000's activities and campaigns."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, select

from hub.gifts.accounts import OBLIGATIONS, UNREDEEMED
from hub.gifts.chain import ACTIVITIES
from hub.gifts.lots import MOVES
from hub.ledger import ACCOUNTS, TRANSFERS


def _sums(conn: Connection, column, accounts: list[int], since, until) -> dict[int, int]:
    if not accounts:
        return {}
    query = select(column, func.sum(TRANSFERS.c.amount)).where(
        column.in_(accounts), TRANSFERS.c.flags.in_(("posted", "post"))
    )
    if since is not None:
        query = query.where(TRANSFERS.c.created_at >= since)
    if until is not None:
        query = query.where(TRANSFERS.c.created_at < until)
    return {a: int(s) for a, s in conn.execute(query.group_by(column))}


def settlement(
    conn: Connection, currency: str, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict:
    """Who owes whom for gifts over [since, until) on one money ledger, from the obligation
    transfers booked in that period: per outlet what it owes the settlement node (grants, reversed
    redemptions) and what the node owes it (redemptions, released obligations); net > 0: the node
    pays the outlet. The node keeps the value of gifts reset unredeemed ("kept"). Σ outlet nets +
    node kept = 0 for any period once every gift is redeemed or reset."""
    rows = conn.execute(
        select(OBLIGATIONS.c.outlet_id, OBLIGATIONS.c.account_id)
        .join(ACCOUNTS, ACCOUNTS.c.id == OBLIGATIONS.c.account_id)
        .where(ACCOUNTS.c.ledger == currency)
        .order_by(OBLIGATIONS.c.outlet_id)
    ).all()
    ids = [a for _, a in rows]
    owed = _sums(conn, TRANSFERS.c.credit_account_id, ids, since, until)
    owing = _sums(conn, TRANSFERS.c.debit_account_id, ids, since, until)
    per_outlet = [
        {
            "outlet_id": o,
            "owed_to_outlet": owed.get(a, 0),
            "owed_by_outlet": owing.get(a, 0),
            "net": owed.get(a, 0) - owing.get(a, 0),
        }
        for o, a in rows
    ]
    per_outlet = [p for p in per_outlet if p["owed_to_outlet"] or p["owed_by_outlet"]]
    kept_acc = conn.execute(
        select(ACCOUNTS.c.id).where(
            ACCOUNTS.c.ledger == currency, ACCOUNTS.c.kind == "settlement", ACCOUNTS.c.name == UNREDEEMED
        )
    ).scalar()
    kept = _sums(conn, TRANSFERS.c.credit_account_id, [kept_acc] if kept_acc else [], since, until)
    net = sum(p["net"] for p in per_outlet)
    return {
        "currency": currency,
        "since": since,
        "until": until,
        "outlets": per_outlet,
        "node_kept_unredeemed": kept.get(kept_acc, 0),
        "node_open": -net - kept.get(kept_acc, 0),
    }


# -- activities in the sense of seed 000 -----------------------------------------------------------------

ACTIVITIES_PER_CAMPAIGN = 16


def campaigns(activities: int) -> int:
    """Seed 000: 16 activities are one campaign, a started campaign counts (5000 → 313)."""
    return -(-activities // ACTIVITIES_PER_CAMPAIGN)


def activity_report(
    conn: Connection, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict:
    """Seed 000's activities over [since, until): a card's first use (its first counted activity
    ever, if it falls in the period) and every collection of a gift (a till, basket or machine
    redemption); collecting points or gifts is no activity. Cards handed out but never used count
    nothing."""
    first = (
        select(ACTIVITIES.c.card_uid, func.min(ACTIVITIES.c.at).label("at"))
        .group_by(ACTIVITIES.c.card_uid)
        .subquery()
    )
    uses = select(func.count()).select_from(first)
    collected = select(func.count(func.distinct(MOVES.c.ref))).where(
        MOVES.c.kind.in_(("redeem", "delivered"))
    )
    if since is not None:
        uses, collected = uses.where(first.c.at >= since), collected.where(MOVES.c.created_at >= since)
    if until is not None:
        uses, collected = uses.where(first.c.at < until), collected.where(MOVES.c.created_at < until)
    first_uses, collections = conn.execute(uses).scalar(), conn.execute(collected).scalar()
    return {
        "since": since,
        "until": until,
        "first_uses": first_uses,
        "collections": collections,
        "activities": first_uses + collections,
        "campaigns": campaigns(first_uses + collections),
    }
