"""Gift units booked out unused: at a site's exit, as the site's settings say (with the card's
bonus points earned there, and the visit ends), and when their validity ends; the granting
outlet's obligation is then kept by the settlement node or released, as the site says."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select, update

from hub.gifts.accounts import (
    EXPIRED,
    GIFT_ACCOUNTS,
    UNREDEEMED,
    load_unlocked,
    node_account,
    obligation_account,
    sink_account,
)
from hub.gifts.chain import VISITS
from hub.gifts.items import get_item, get_site_settings
from hub.gifts.lots import LOTS, open_lots, record_move
from hub.ledger import Book, new_id, system_account
from hub.loyalty import outlets, points
from hub.tables.gifts import ExitReset
from hub.tables.sales import Basket
from hub.tables.taps import DeviceLoyaltyHold
from hub.wallets.cards import get_card

EXITS = ExitReset.__table__


def reset_at_exit(
    conn: Connection, uid: str, site_id: str, now: dt.datetime, key: str, book: Book | None = None
) -> dict:
    """The card leaves the site: book out the unused gift units the site's settings reset (expiry
    transfers to "gifts expired"; lots are kept and record the reset), settle their obligations as
    the site says (kept by the settlement node, or released to the granting outlet), and end the
    card's visit, so chain rules count afresh next time. Once per key: a repeat returns the first
    answer with repeated=true. Books into `book` (the caller flushes it), else into a Book of its
    own that it flushes."""
    done = conn.execute(select(EXITS.c.result).where(EXITS.c.key == key)).first()
    if done is not None:
        return {**done[0], "repeated": True}
    card = get_card(conn, uid)
    settings = get_site_settings(conn, site_id)
    sources = [
        s
        for s, on in (
            ("rule", settings["reset_gifts"]),
            ("manual", settings["reset_gifts"]),
            ("points", settings["reset_bought_gifts"]),
        )
        if on
    ]
    own = book is None
    book = Book(conn) if own else book
    accounts = (
        conn.execute(select(GIFT_ACCOUNTS.c.account_id).where(GIFT_ACCOUNTS.c.card_uid == card.uid))
        .scalars()
        .all()
    )
    book.load(accounts, lock=True)  # before the lots are read: no redemption slips in between
    lots = [
        lot for lot in open_lots(conn, card.uid) if lot["site_id"] == site_id and lot["source"] in sources
    ]
    reset: dict[str, int] = {}
    value = 0
    for lot in lots:
        value += _reset_lot(conn, book, lot, settings["unredeemed_obligation"], key)
        reset[lot["item_id"]] = reset.get(lot["item_id"], 0) + lot["remaining"]
    points_reset = _reset_points(conn, book, card.uid, site_id, key) if settings["reset_points"] else 0
    if own:
        book.flush()
    ended = conn.execute(
        update(VISITS)
        .where(VISITS.c.card_uid == card.uid, VISITS.c.site_id == site_id, VISITS.c.ended_at.is_(None))
        .values(ended_at=now)
    ).rowcount
    result = {
        "uid": card.uid,
        "site_id": site_id,
        "at": now.isoformat(),
        "items": [{"item_id": k, "units": v} for k, v in sorted(reset.items())],
        "units": sum(reset.values()),
        "value": value,
        "points": points_reset,
        "unredeemed_obligation": settings["unredeemed_obligation"],
        "visit_ended": bool(ended),
    }
    conn.execute(EXITS.insert().values(key=key, card_uid=card.uid, site_id=site_id, at=now, result=result))
    return {**result, "repeated": False}


def _reset_points(conn: Connection, book: Book, uid: str, site_id: str, key: str) -> int:
    """Book out the card's open point lots earned at the site's outlets (in baskets or at machines);
    bought points and registration points are not the site's bonuses and stay."""
    account = points.point_account(conn, uid, create=False)
    if account is None:
        return 0
    book.account(account)  # locks the points wallet before its lots are read
    site_outlets = select(outlets.OUTLETS.c.id).where(outlets.OUTLETS.c.site_id == site_id)
    baskets, holds = Basket.__table__, DeviceLoyaltyHold.__table__
    sources = (
        select(baskets.c.id)
        .where(baskets.c.outlet_id.in_(site_outlets))
        .union(select(holds.c.hold_id).where(holds.c.outlet_id.in_(site_outlets)))
    )
    lots = (
        conn.execute(
            select(points.LOTS)
            .where(
                points.LOTS.c.card_uid == uid,
                points.LOTS.c.remaining > 0,
                points.LOTS.c.basket_id.in_(sources),
            )
            .order_by(points.LOTS.c.id)
        )
        .mappings()
        .all()
    )
    sink = (
        load_unlocked(book, system_account(conn, points.LEDGER, "points", points.EXPIRED)) if lots else None
    )
    return sum(
        points.expire_lot(
            conn, book, dict(lot), key, f"unused at the exit of {site_id}", code="points_reset", sink=sink
        )
        for lot in lots
    )


def _reset_lot(
    conn: Connection, book: Book, lot: dict, obligation: str, key: str, code: str = "gift_reset"
) -> int:
    """Book the lot's open units out to "gifts expired" and settle their grant obligation."""
    item = get_item(conn, lot["item_id"])
    n, ref = lot["remaining"], f"{key}/{lot['id']}"
    why = f"unused at the exit of {lot['site_id']}" if code == "gift_reset" else "no longer valid"
    record_move(conn, lot["id"], key, "expire", n)
    book.transfer(
        lot["account_id"],
        sink_account(conn, book, item, EXPIRED),
        n,
        code=code,
        reason=f"{n} x {item['id']} {why}",
        key=ref,
    )
    value = lot["value"] * n
    if value:
        node = node_account(conn, item["currency"], book=book)
        if obligation == "released":
            target = obligation_account(conn, outlets.get_outlet(conn, lot["granted_by"]), book)
            reason = f"unredeemed {item['id']}: {lot['granted_by']}'s obligation released"
        else:
            target = node_account(conn, item["currency"], UNREDEEMED, book)
            reason = f"unredeemed {item['id']} granted by {lot['granted_by']}: kept by the node"
        book.transfer(node, target, value, code="gift_unredeemed", reason=reason, key=ref + "/obligation")
    return value


def expire(conn: Connection, now: dt.datetime) -> dict:
    """Book out the open units of every lot whose validity (the item's valid_days, seed 001) ended
    by `now`; their obligations are settled as the granting site says for unredeemed gifts."""
    expired = (LOTS.c.remaining > 0, LOTS.c.expires_at.is_not(None), LOTS.c.expires_at <= now)
    book = Book(conn)
    book.load(set(conn.execute(select(LOTS.c.account_id).where(*expired)).scalars()), lock=True)
    lots = [dict(r) for r in conn.execute(select(LOTS).where(*expired).order_by(LOTS.c.id)).mappings()]
    run, value = "gift-expiry/" + new_id(), 0
    for lot in lots:
        obligation = get_site_settings(conn, lot["site_id"])["unredeemed_obligation"]
        value += _reset_lot(conn, book, lot, obligation, run, code="gift_expired")
    book.flush()
    return {"lots": len(lots), "units": sum(lot["remaining"] for lot in lots), "value": value}
