"""Bonus credits (seed 001's campaign use): one voucher of the same terms for each card of an
audience, issued at once and, if asked, credited straight to each card; and what the campaign cost
and how many took it up.

The audience: a list of cards, a card kind (value, debit, employee), cards that moved money in the
last N days (a tap, a sale, a top-up: "visited lately"), or several of these (the cards every
one of them names). Blocked cards and RFID cards linked to a digital wallet (their wallet's card
counts) are left out. A voucher of money credited to the card is a credit for a past purchase; a
discount or goods voucher bound to the card one for a future purchase.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, or_, select

from hub.core.errors import Conflict, Invalid, NotFound
from hub.ledger import TRANSFERS
from hub.tables.vouchers import VoucherCampaign
from hub.vouchers import redeem, store
from hub.wallets.cards import CARDS, get_card

CAMPAIGNS = VoucherCampaign.__table__
MAX_CARDS = 10_000


def audience(conn: Connection, spec: dict, now: dt.datetime) -> list[str]:
    """The cards a campaign reaches, sorted."""
    query = select(CARDS.c.uid).where(CARDS.c.status == "active", CARDS.c.linked_to.is_(None))
    named = False
    if spec.get("card_uids"):
        uids = sorted({get_card(conn, uid).uid for uid in spec["card_uids"]})  # NotFound for an unknown one
        query = query.where(CARDS.c.uid.in_(uids))
        named = True
    if spec.get("card_kind"):
        query = query.where(CARDS.c.kind == spec["card_kind"])
        named = True
    if spec.get("visited_within_days"):
        since = now - dt.timedelta(days=spec["visited_within_days"])
        moved = select(TRANSFERS.c.id).where(
            TRANSFERS.c.created_at >= since,
            or_(
                TRANSFERS.c.debit_account_id == CARDS.c.account_id,
                TRANSFERS.c.credit_account_id == CARDS.c.account_id,
            ),
        )
        query = query.where(moved.exists())
        named = True
    if not named:
        raise Invalid("name the audience: card_uids, card_kind or visited_within_days")
    cards = list(conn.execute(query.order_by(CARDS.c.uid).limit(MAX_CARDS + 1)).scalars())
    if len(cards) > MAX_CARDS:
        raise Invalid(f"the audience is more than {MAX_CARDS} cards: narrow it")
    return cards


def run(
    conn: Connection,
    req: dict,
    currency: str,
    secret: str | None,
    key: str,
    caller: str,
    now: dt.datetime,
) -> dict:
    """Issue the campaign's vouchers (and credit them to the cards), once per key."""
    done = conn.execute(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.issue_key == key)).scalar()
    if done is not None:
        return {**report(conn, done, now), "repeated": True}
    if conn.execute(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.id == req["id"])).first():
        raise Conflict(f"campaign {req['id']} exists")
    terms = req["voucher"]
    if terms.get("card_uid"):
        raise Invalid("a campaign's voucher names no card: each card of the audience gets one")
    cards = audience(conn, req["audience"], now)
    if not cards:
        raise Conflict("the audience is empty: no card to credit")
    conn.execute(
        CAMPAIGNS.insert().values(
            id=req["id"],
            name=req.get("name") or req["id"],
            terms=req["terms_json"],
            audience=req["audience"],
            deliver=req.get("deliver", "none"),
            issue_key=key,
            created_by=caller,
            created_at=now,
        )
    )
    for uid in cards:
        made = store.issue(
            conn,
            {**terms, "card_uid": uid},
            currency,
            secret,
            f"{key}/{uid}",
            caller,
            now,
            campaign_id=req["id"],
        )
        if req.get("deliver") == "card":
            redeem.credit_to_card(conn, made["id"], uid, f"{key}/{uid}/card", caller, now)
    return {**report(conn, req["id"], now), "repeated": False}


def report(conn: Connection, campaign_id: str, now: dt.datetime) -> dict:
    """A campaign's cost and uptake: vouchers issued and their face value, by status; the money
    its vouchers paid out (money to outlets and onto cards, net of refunds), the points they
    credited, and what is still open on them."""
    row = conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)).mappings().first()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    ids = list(
        conn.execute(
            select(store.VOUCHERS.c.id)
            .where(store.VOUCHERS.c.campaign_id == campaign_id)
            .order_by(store.VOUCHERS.c.id)
        ).scalars()
    )
    views = [store.view(conn, i, now) for i in ids]
    by_status = dict.fromkeys(store.STATUSES, 0)
    for v in views:
        by_status[v["status"]] += 1
    paid = conn.execute(
        select(func.coalesce(func.sum(store.REDEMPTIONS.c.value), 0)).where(
            store.REDEMPTIONS.c.voucher_id.in_(ids)
        )
    ).scalar()
    taken_up = sum(1 for v in views if v["remaining"] < store.initial(v))
    return {
        "id": row["id"],
        "name": row["name"],
        "audience": row["audience"],
        "deliver": row["deliver"],
        "terms": row["terms"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "vouchers": len(views),
        "face_value": sum(v["face_value"] for v in views),
        "by_status": by_status,
        "taken_up": taken_up,
        "uptake": round(taken_up / len(views), 4) if views else 0.0,
        "value_paid": int(paid),
        "points_credited": sum(r["used"] for v in views if v["kind"] == "points" for r in v["redemptions"]),
        "open": sum(
            v["remaining"] for v in views if v["status"] in ("issued", "delivered", "partly_redeemed")
        ),
        "voucher_ids": ids,
    }


def list_campaigns(conn: Connection, now: dt.datetime) -> list[dict]:
    ids = conn.execute(select(CAMPAIGNS.c.id).order_by(CAMPAIGNS.c.created_at.desc(), CAMPAIGNS.c.id))
    return [report(conn, i, now) for i in ids.scalars()]
