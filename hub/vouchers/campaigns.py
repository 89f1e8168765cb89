"""Bonus credits (seed 001's campaign use): one voucher of the same terms for each card of an
audience, issued at once and, if asked, credited straight to each card; and what the campaign cost
and how many took it up.

The audience: a list of cards, a card kind (value, debit, employee), cards that moved money in the
last N days (a tap, a sale, a top-up: "visited lately"), or several of these (the cards every
one of them names). Blocked cards and RFID cards linked to a digital wallet (their wallet's card
counts) are left out. A voucher of money credited to the card is a credit for a past purchase; a
discount or goods voucher bound to the card one for a future purchase.

Delivery: `card` credits or binds each voucher to its card at issue; `email` sends each voucher
(the code as an image, the PDF) to its card holder's e-mail address, after the vouchers are
issued and committed: `unsent_emails` lists what is still to send, `record_emails` records what
the mail server took (hub.vouchers.delivery.send_each), so a retry sends only the rest. Cards
without an address keep their voucher (bound to the card, found at a till) and are reported.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, and_, func, or_, select

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
    deliver = req.get("deliver", "none")
    if deliver == "email" and terms.get("recipient_email"):
        raise Invalid(
            "an e-mailed campaign sends each voucher to its card holder's address: name no recipient_email"
        )
    cards = audience(conn, req["audience"], now)
    if not cards:
        raise Conflict("the audience is empty: no card to credit")
    holders = _holders(conn, cards) if deliver == "email" else {}
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
        to = {}
        if deliver == "email":
            name, address = holders[uid]
            to = {"recipient_email": address, "recipient_name": terms.get("recipient_name") or name}
        made = store.issue(
            conn,
            {**terms, **to, "card_uid": uid},
            currency,
            secret,
            f"{key}/{uid}",
            caller,
            now,
            campaign_id=req["id"],
        )
        if deliver == "card":
            redeem.credit_to_card(conn, made["id"], uid, f"{key}/{uid}/card", caller, now)
    return {**report(conn, req["id"], now), "repeated": False}


def _holders(conn: Connection, uids: list[str]) -> dict[str, tuple[str, str]]:
    """Each card's holder name and e-mail address ("" where not known)."""
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(uids), 1000):
        rows = conn.execute(
            select(CARDS.c.uid, CARDS.c.holder_name, CARDS.c.holder_email).where(
                CARDS.c.uid.in_(uids[i : i + 1000])
            )
        )
        out.update({uid: (name or "", (email or "").strip()) for uid, name, email in rows})
    return out


def _emailed(voucher_id):
    return (
        select(store.DELIVERIES.c.id)
        .where(store.DELIVERIES.c.voucher_id == voucher_id, store.DELIVERIES.c.channel == "email")
        .exists()
    )


def get_campaign(conn: Connection, campaign_id: str) -> dict:
    row = conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)).mappings().first()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return dict(row)


def unsent_emails(conn: Connection, campaign_id: str) -> list[tuple[str, str, str]]:
    """(voucher id, address, card) of the campaign's vouchers still to e-mail: those with an
    address, not cancelled or expired, and not e-mailed yet."""
    if get_campaign(conn, campaign_id)["deliver"] != "email":
        raise Conflict(f"campaign {campaign_id} is not delivered by e-mail")
    V = store.VOUCHERS
    rows = conn.execute(
        select(V.c.id, V.c.recipient_email, V.c.card_uid)
        .where(
            V.c.campaign_id == campaign_id,
            V.c.recipient_email != "",
            V.c.status == "issued",
            ~_emailed(V.c.id),
        )
        .order_by(V.c.card_uid)
    )
    return [tuple(r) for r in rows]


def email_key(voucher_id: str) -> str:
    return f"voucher-campaign-email/{voucher_id}"


def record_emails(conn: Connection, sent: list[tuple[str, str]], caller: str, now: dt.datetime) -> int:
    """Record each (voucher id, address) the mail server took, once per voucher."""
    done = 0
    for voucher_id, address in sent:
        key = email_key(voucher_id)
        if conn.execute(select(store.DELIVERIES.c.id).where(store.DELIVERIES.c.key == key)).first():
            continue
        store.record_delivery(conn, voucher_id, "email", address, caller, now, key)
        done += 1
    return done


def _delivery_counts(conn: Connection, campaign_id: str, deliver: str) -> dict:
    V, D = store.VOUCHERS, store.DELIVERIES
    by_channel = dict(
        conn.execute(
            select(D.c.channel, func.count(func.distinct(D.c.voucher_id)))
            .join(V, V.c.id == D.c.voucher_id)
            .where(V.c.campaign_id == campaign_id)
            .group_by(D.c.channel)
        ).all()
    )
    out = {
        "deliveries": {ch: int(by_channel.get(ch, 0)) for ch in ("card", "email", "print")},
        "without_email": [],
        "email_pending": 0,
    }
    if deliver == "email":
        out["without_email"] = list(
            conn.execute(
                select(V.c.card_uid)
                .where(V.c.campaign_id == campaign_id, V.c.recipient_email == "")
                .order_by(V.c.card_uid)
            ).scalars()
        )
        out["email_pending"] = conn.execute(
            select(func.count()).where(
                and_(V.c.campaign_id == campaign_id, V.c.recipient_email != "", V.c.status == "issued"),
                ~_emailed(V.c.id),
            )
        ).scalar()
    return out


def report(conn: Connection, campaign_id: str, now: dt.datetime) -> dict:
    """A campaign's cost and uptake: vouchers issued and their face value, by status; the money
    its vouchers paid out (money to outlets and onto cards, net of refunds), the points they
    credited, and what is still open on them; how many were handed over by each channel, the
    cards without an e-mail address and the e-mails still to send (an e-mailed campaign)."""
    row = get_campaign(conn, campaign_id)
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
        **_delivery_counts(conn, campaign_id, row["deliver"]),
    }


def list_campaigns(conn: Connection, now: dt.datetime) -> list[dict]:
    ids = conn.execute(select(CAMPAIGNS.c.id).order_by(CAMPAIGNS.c.created_at.desc(), CAMPAIGNS.c.id))
    return [report(conn, i, now) for i in ids.scalars()]
