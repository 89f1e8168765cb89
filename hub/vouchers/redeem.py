"""Redeeming a voucher: at a till (or a web shop) against a basket's lines, or credited to a card.

Exactly once: the voucher's own account is locked before anything about the voucher is read
(PostgreSQL: SELECT … FOR UPDATE; SQLite: the transaction's write lock), and what is taken from it
is held and then posted through the Book, which refuses to take more than is left. Two tills at
the same instant: the second waits for the first's commit, then finds what it left — nothing for
a whole redemption (409), the rest for a partial one.

What a redemption books (the outlet's revenue account is credited like any other payment):
  * money:     the voucher's account → the outlet's revenue (as much as asked, up to what is left
               and the eligible lines' total); the rest stays on the voucher;
  * goods:     units of the voucher's uses → "uses redeemed"; the issuer's "vouchers issued"
               account pays the covered lines' prices to the outlet's revenue;
  * discount:  its one use → "uses redeemed"; the issuer pays the discount to the outlet;
  * points, or money credited to a card: the voucher's account → the card's points (a lot,
               spendable at once) or the card's wallet.

Conditions: the validity window; "online only" (only a web shop's or an app's request, channel_in
webshop or app); limited to articles or product groups (only those lines count); not
transferable (only with the card it was issued to, or a card linked to that card's wallet).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Connection, select

from hub.core.errors import Conflict, Invalid
from hub.ledger import Book, new_id
from hub.loyalty import catalogue, outlets, points
from hub.vouchers import store
from hub.wallets.cards import get_card

ONLINE = ("webshop", "app")


def _repeat(conn: Connection, key: str) -> dict | None:
    row = conn.execute(select(store.REDEMPTIONS.c.result).where(store.REDEMPTIONS.c.key == key)).first()
    return None if row is None else {**row[0], "repeated": True}


def _priced(conn: Connection, lines: list[dict]) -> list[dict]:
    articles = catalogue.articles_by_id(conn, [line["article_id"] for line in lines])
    out = []
    for i, line in enumerate(lines):
        article = articles[line["article_id"]]
        out.append(
            {
                "line_id": str(line.get("line_id") or i + 1),
                "article_id": article["id"],
                "group_id": article["product_group_id"],
                "quantity": line["quantity"],
                "unit_price": article["price"],
                "net": article["price"] * line["quantity"],
            }
        )
    ids = [line["line_id"] for line in out]
    if len(set(ids)) != len(ids):
        raise Invalid("two lines have the same line_id")
    return out


def _eligible(voucher: dict, lines: list[dict]) -> list[dict]:
    if not voucher["article_ids"] and not voucher["group_ids"]:
        return lines
    return [
        line
        for line in lines
        if line["article_id"] in voucher["article_ids"] or line["group_id"] in voucher["group_ids"]
    ]


def _limits(voucher: dict) -> str:
    names = [f"article {a}" for a in voucher["article_ids"]] + [f"group {g}" for g in voucher["group_ids"]]
    return ", ".join(names)


def _check_card(conn: Connection, voucher: dict, card_uid: str | None) -> str | None:
    """The wallet owner of the card presented (None without one); a voucher bound to a card
    redeems only with it."""
    card = get_card(conn, card_uid) if card_uid else None
    if card is not None and card.status != "active":
        raise Conflict(f"card {card.card_uid} is {card.status}")
    if not voucher["transferable"] and (card is None or card.uid != voucher["card_uid"]):
        raise Conflict(
            f"voucher {voucher['id']} is not transferable: it redeems only with the card it was issued to"
        )
    return card.uid if card else None


def _cover(voucher: dict, left: int, lines: list[dict], amount: int | None) -> tuple[int, int, list[dict]]:
    """(used from the voucher, money value for the outlet, covered lines) at a till."""
    kind = voucher["kind"]
    eligible = _eligible(voucher, lines)
    if lines and not eligible:
        raise Conflict(f"voucher {voucher['id']} is limited to {_limits(voucher)}: no line of the basket")
    total = sum(line["net"] for line in eligible)
    if kind == "money":
        if not lines and (voucher["article_ids"] or voucher["group_ids"]):
            raise Invalid(
                f"voucher {voucher['id']} is limited to {_limits(voucher)}: send the basket's lines"
            )
        if amount is None:
            if not lines:
                raise Invalid("send the amount to pay with the voucher, or the basket's lines")
            amount = min(left, total)
        if lines and amount > total:
            raise Conflict(f"the voucher may pay {total} of this basket, not {amount}")
        if amount > left:
            raise Conflict(f"voucher {voucher['id']} has {left} left, not {amount}")
        if amount <= 0:
            raise Conflict("nothing of the basket is left for the voucher to pay")
        return (
            amount,
            amount,
            [{"line_id": line["line_id"], "article_id": line["article_id"]} for line in eligible],
        )
    if amount is not None:
        raise Invalid(f"a {kind} voucher covers lines: send the basket's lines, no amount")
    if not lines:
        raise Invalid(f"a {kind} voucher covers lines: send the basket's lines")
    if kind == "goods":
        covered, units_left = [], left
        for line in sorted(eligible, key=lambda x: (-x["unit_price"], x["line_id"])):
            n = min(units_left, line["quantity"])
            if n:
                covered.append(
                    {
                        "line_id": line["line_id"],
                        "article_id": line["article_id"],
                        "units": n,
                        "value": n * line["unit_price"],
                    }
                )
                units_left -= n
        return left - units_left, sum(c["value"] for c in covered), covered
    # a discount: its one use
    if voucher["percent"] is not None:
        value = int((Decimal(total) * Decimal(voucher["percent"]) / 100).quantize(Decimal(1), ROUND_HALF_UP))
        if voucher["max_discount"] is not None:
            value = min(value, voucher["max_discount"])
    else:
        value = min(voucher["face_value"], total)
    return 1, value, [{"line_id": line["line_id"], "article_id": line["article_id"]} for line in eligible]


def _book_use(conn: Connection, book: Book, v: dict, used: int, key: str, reason: str, to: int) -> None:
    """Take `used` from the voucher: held, then posted to `to`."""
    book.load([to], lock=False)
    held = book.transfer(
        v["account_id"], to, used, code="voucher_redeemed", reason=reason, key=key + "/hold", pending=True
    )
    book.resolve(held, v["account_id"], to, used, used, code="voucher_redeemed", reason=reason, key=key)


def _record(
    conn: Connection,
    v: dict,
    key: str,
    req: dict,
    caller: str,
    used: int,
    value: int,
    result: dict,
    now: dt.datetime,
) -> dict:
    """Store the redemption (its id in the order redemptions were made) and its answer."""
    row_id = conn.execute(
        store.REDEMPTIONS.insert().values(
            voucher_id=v["id"],
            key=key,
            channel=result["channel"],
            outlet_id=req.get("outlet_id"),
            counter_id=req.get("counter_id"),
            card_uid=result["card_uid"],
            caller=caller,
            used=used,
            value=value,
            result={},
            created_at=now,
        )
    ).inserted_primary_key[0]
    result = {**result, "redemption_id": row_id}
    conn.execute(store.REDEMPTIONS.update().where(store.REDEMPTIONS.c.id == row_id).values(result=result))
    return {**result, "repeated": False}


def _result(
    conn: Connection,
    v: dict,
    req: dict,
    channel: str,
    card: str | None,
    used: int,
    value: int,
    lines: list,
    left: int,
    now: dt.datetime,
) -> dict:
    sent = bool(store.deliveries(conn, v["id"]))
    return {
        "voucher_id": v["id"],
        "kind": v["kind"],
        "channel": channel,
        "outlet_id": req.get("outlet_id"),
        "counter_id": req.get("counter_id"),
        "card_uid": card,
        "used": used,
        "value": value,
        "lines": lines,
        "remaining": left - used,
        "status": store.status(v, left - used, sent, now),
        "at": now.isoformat(),
    }


def redeem(conn: Connection, req: dict, secret: str | None, key: str, caller: str, now: dt.datetime) -> dict:
    """Redeem a voucher (whole or in part) at an outlet's till or web shop, once per key."""
    done = _repeat(conn, key)
    if done is not None:
        return done
    found = store.by_code(conn, secret, req["code"])
    outlet = outlets.get_outlet(conn, req["outlet_id"])
    outlets.check_counter(conn, req.get("counter_id"), outlet["id"])
    book = Book(conn)
    v = store.lock(conn, book, found["id"])
    left = book.account(v["account_id"]).available
    store.check_open(v, left, now)
    channel = req.get("channel_in") or "till"
    if v["online_only"] and channel not in ONLINE:
        raise Conflict(f"voucher {v['id']} is redeemable online only (channel_in webshop or app)")
    card = _check_card(conn, v, req.get("card_uid"))
    what = f"voucher {v['id']} at {outlet['id']}" + (
        f" till {req['counter_id']}" if req.get("counter_id") else ""
    )
    if v["kind"] == "points":
        if card is None:
            raise Invalid("a points voucher is credited to a card: send its card_uid")
        return _to_card(conn, book, v, left, req, card, key, caller, now, channel, what)
    lines = _priced(conn, req.get("lines") or [])
    used, value, covered = _cover(v, left, lines, req.get("amount"))
    if v["kind"] == "money":
        _book_use(conn, book, v, used, key, what, outlet["revenue_account_id"])
    else:
        _book_use(conn, book, v, used, key, what, store.uses_redeemed_account(conn))
        if value:
            issuer = store.issuer_account(conn, outlet["ledger"], v["issuer_outlet_id"])
            book.load([issuer], lock=False)
            book.transfer(
                issuer,
                outlet["revenue_account_id"],
                value,
                code="voucher_value",
                reason=what,
                key=key + "/value",
            )
    book.flush()
    result = _result(conn, v, req, channel, card, used, value, covered, left, now)
    return _record(conn, v, key, req, caller, used, value, result, now)


def _to_card(conn, book, v, left, req, card, key, caller, now, channel, what) -> dict:
    amount = req.get("amount") or left
    if amount > left:
        raise Conflict(f"voucher {v['id']} has {left} left, not {amount}")
    if v["kind"] == "points":
        account = points.point_account(conn, card)
        _book_use(conn, book, v, amount, key, f"{what}: credited to card {card}", account)
        days = points.get_settings(conn)["default_validity_days"]
        conn.execute(
            points.LOTS.insert().values(
                id=new_id(),
                card_uid=card,
                account_id=account,
                points=amount,
                remaining=amount,
                available_at=now,
                expires_at=None if days is None else now + dt.timedelta(days=days),
                source_key=key,
                reason=f"points voucher {v['id']}",
                rule_id=None,
                basket_id=None,
                created_at=now,
            )
        )
    else:
        _book_use(
            conn, book, v, amount, key, f"{what}: credited to card {card}", get_card(conn, card).account_id
        )
    book.flush()
    result = _result(
        conn, v, req, channel, card, amount, amount if v["kind"] == "money" else 0, [], left, now
    )
    return _record(conn, v, key, req, caller, amount, result["value"], result, now)


def credit_to_card(
    conn: Connection, voucher_id: str, card_uid: str, key: str, caller: str, now: dt.datetime
) -> dict:
    """Deliver a voucher straight to a card: money onto its wallet, points as a lot (both
    redeem the voucher whole); a goods or discount voucher is bound to the card (the card's
    vouchers list it, and it redeems only with that card if it is not transferable). Once per
    key; answers the voucher."""
    if (
        _repeat(conn, key) is not None
        or conn.execute(select(store.DELIVERIES.c.id).where(store.DELIVERIES.c.key == key)).first()
    ):
        return {**store.view(conn, voucher_id, now), "repeated": True}
    book = Book(conn)
    v = store.lock(conn, book, voucher_id)
    left = book.account(v["account_id"]).available
    store.check_open(v, left, now)
    card = _check_card(conn, v, card_uid)
    if v["kind"] in ("money", "points"):
        req = {"outlet_id": None, "counter_id": None}
        _to_card(conn, book, v, left, req, card, key, caller, now, "card", f"voucher {v['id']}")
    elif v["card_uid"] not in (None, card):
        raise Conflict(f"voucher {v['id']} is issued to another card")
    else:
        conn.execute(store.VOUCHERS.update().where(store.VOUCHERS.c.id == v["id"]).values(card_uid=card))
    store.record_delivery(conn, v["id"], "card", card, caller, now, key)
    return {**store.view(conn, voucher_id, now), "repeated": False}
