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

A discount voucher may also be credited on a past purchase (`credit_basket`): its percent or
amount of a paid basket's lines (those it is limited to) goes onto the basket's card's wallet,
paid by the issuer's "vouchers issued" account; its one use → "uses redeemed". A refund of the
basket takes the credit back (`take_back_credits`).

Conditions: the validity window; "online only" (only a web shop's or an app's request, channel_in
webshop or app); limited to articles or product groups (only those lines count); not
transferable (only with the card it was issued to, or a card linked to that card's wallet).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Connection, select

from hub.core.errors import Conflict, Invalid, NotFound
from hub.ledger import Book, new_id
from hub.loyalty import catalogue, outlets, points
from hub.tables.sales import Basket
from hub.vouchers import store
from hub.wallets.cards import get_card

BASKETS = Basket.__table__
CREDIT = "credit"  # the channel of a credit on a past basket

ONLINE = ("webshop", "app")


def _repeat(conn: Connection, key: str) -> dict | None:
    row = conn.execute(select(store.REDEMPTIONS.c.result).where(store.REDEMPTIONS.c.key == key)).first()
    return None if row is None else {**row[0], "repeated": True}


def _priced(conn: Connection, lines: list[dict]) -> list[dict]:
    """A till's lines priced from the catalogue, as lines a voucher may cover."""
    articles = catalogue.articles_by_id(conn, [line["article_id"] for line in lines])
    out = []
    for i, line in enumerate(lines):
        article = articles[line["article_id"]]
        net = article["price"] * line["quantity"]
        out.append(_open(str(line.get("line_id") or i + 1), article, line["quantity"], net))
    ids = [line["line_id"] for line in out]
    if len(set(ids)) != len(ids):
        raise Invalid("two lines have the same line_id")
    return out


def _open(line_id: str, article: dict, units: int, net: int) -> dict:
    """A line as vouchers see it: the units and the money of it no voucher covers yet."""
    return {
        "line_id": line_id,
        "article_id": article["id"],
        "group_id": article["product_group_id"],
        "units": units,
        "net": net,
    }


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


def _take_money(eligible: list[dict], amount: int) -> list[dict]:
    """Take `amount` off the eligible lines' open money, line by line."""
    covered = []
    for line in eligible:
        take = min(line["net"], amount)
        if take:
            line["net"] -= take
            amount -= take
            covered.append({"line_id": line["line_id"], "article_id": line["article_id"], "value": take})
    return covered


def _cover(voucher: dict, left: int, lines: list[dict], amount: int | None) -> tuple[int, int, list[dict]]:
    """(used from the voucher, money value for the outlet, covered lines); what it covers is
    taken off the lines, so the next voucher of the same basket sees the rest."""
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
            raise Conflict(f"nothing of the basket is left for voucher {voucher['id']} to pay")
        return amount, amount, _take_money(eligible, amount) if lines else []
    if amount is not None:
        raise Invalid(f"a {kind} voucher covers lines: send the basket's lines, no amount")
    if not lines:
        raise Invalid(f"a {kind} voucher covers lines: send the basket's lines")
    if kind == "goods":
        covered, units_left = [], left
        # the dearest open units first
        for line in sorted(
            eligible, key=lambda x: (-(x["net"] / x["units"]) if x["units"] else 0, x["line_id"])
        ):
            n = min(units_left, line["units"])
            if n:
                value = line["net"] * n // line["units"]
                line["units"] -= n
                line["net"] -= value
                units_left -= n
                covered.append(
                    {"line_id": line["line_id"], "article_id": line["article_id"], "units": n, "value": value}
                )
        if units_left == left:
            raise Conflict(f"no unit of the basket is left for voucher {voucher['id']} to cover")
        return left - units_left, sum(c["value"] for c in covered), covered
    # a discount: its one use
    if total <= 0:
        raise Conflict(f"nothing of the basket is left for voucher {voucher['id']} to take off")
    if voucher["percent"] is not None:
        value = int((Decimal(total) * Decimal(voucher["percent"]) / 100).quantize(Decimal(1), ROUND_HALF_UP))
        if voucher["max_discount"] is not None:
            value = min(value, voucher["max_discount"])
    else:
        value = min(voucher["face_value"], total)
    return 1, value, _take_money(eligible, value)


def _book_use(conn: Connection, book: Book, v: dict, used: int, key: str, reason: str, to: int) -> None:
    """Take `used` from the voucher: held, then posted to `to`."""
    book.load([to], lock=False)
    held = book.transfer(
        v["account_id"], to, used, code="voucher_redeemed", reason=reason, key=key + "/hold", pending=True
    )
    book.resolve(held, v["account_id"], to, used, used, code="voucher_redeemed", reason=reason, key=key)


def _book_value(
    conn: Connection, book: Book, v: dict, used: int, value: int, outlet: dict, key: str, what: str
) -> None:
    """A redemption at an outlet: money from the voucher to the outlet's revenue; a goods or
    discount voucher's uses to "uses redeemed" and its value from the issuer to the outlet."""
    if v["kind"] == "money":
        _book_use(conn, book, v, used, key, what, outlet["revenue_account_id"])
        return
    _book_use(conn, book, v, used, key, what, store.uses_redeemed_account(conn))
    if value:
        issuer = store.issuer_account(conn, outlet["ledger"], v["issuer_outlet_id"])
        book.load([issuer, outlet["revenue_account_id"]], lock=False)
        book.transfer(
            issuer, outlet["revenue_account_id"], value, code="voucher_value", reason=what, key=key + "/value"
        )


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
            basket_id=req.get("basket_id"),
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
        "basket_id": req.get("basket_id"),
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
    _book_value(conn, book, v, used, value, outlet, key, what)
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


# -- in a basket (hub.sales.baskets) -----------------------------------------------------------------


def cover_basket(
    conn: Connection,
    codes: list[str],
    lines: list[dict],
    articles: dict,
    card_uid: str,
    channel: str,
    now: dt.datetime,
    book: Book | None = None,
) -> list[dict]:
    """What the vouchers a basket names (by code, in that order) pay of it: each covers what is
    still open of the lines it applies to (their nets after the card's discount; a line a gift
    voucher pays is paid). Books nothing; with `book` (the basket is being paid) each voucher's
    account is locked before it is read, so what it covers is what is left of it."""
    if len({c.strip().upper() for c in codes}) != len(codes):
        raise Invalid("a voucher is named twice")
    open_lines = [
        _open(
            line["line_id"],
            articles[line["article_id"]],
            0 if "voucher_item" in line or line["kind"] == "component" else line["quantity"],
            line["net"] - line.get("covered", 0),
        )
        for line in lines
    ]
    found = [store.by_stored_code(conn, code) for code in codes]
    if book is not None:  # every voucher's account locked at once, in id order (no deadlock)
        book.load([v["account_id"] for v in found], lock=True)
    out = []
    for v in found:
        if book is not None:
            v = store.get_voucher(conn, v["id"])  # read after the lock
            left = book.account(v["account_id"]).available
        else:
            left = store.remaining(conn, v)
        store.check_open(v, left, now)
        if v["kind"] == "points":
            raise Invalid(
                f"voucher {v['id']} is a points voucher: it is credited to a card (POST /vouchers/redeem)"
            )
        if v["online_only"] and channel not in ONLINE:
            raise Conflict(f"voucher {v['id']} is redeemable online only (channel_in webshop or app)")
        _check_card(conn, v, card_uid)
        used, value, covered = _cover(v, left, open_lines, None)
        out.append(
            {
                "voucher_id": v["id"],
                "kind": v["kind"],
                "used": used,
                "value": value,
                "lines": covered,
                "remaining": left - used,
            }
        )
    return out


def book_basket(
    conn: Connection,
    book: Book,
    covers: list[dict],
    req: dict,
    outlet: dict,
    card_uid: str,
    basket_id: str,
    key: str,
    now: dt.datetime,
) -> None:
    """Book what `cover_basket` found (with the same book, its vouchers locked): each voucher's
    value to the outlet, each redemption recorded under `<key>/voucher/<id>`."""
    card = get_card(conn, card_uid).uid
    for c in covers:
        v = store.get_voucher(conn, c["voucher_id"])
        rkey = f"{key}/voucher/{v['id']}"
        what = f"voucher {v['id']} in basket {basket_id} at {outlet['id']}"
        _book_value(conn, book, v, c["used"], c["value"], outlet, rkey, what)
        where = {"outlet_id": outlet["id"], "counter_id": req.get("counter_id"), "basket_id": basket_id}
        left = c["remaining"] + c["used"]
        result = _result(
            conn, v, where, req["channel_in"], card, c["used"], c["value"], c["lines"], left, now
        )
        _record(conn, v, rkey, where, f"basket {basket_id}", c["used"], c["value"], result, now)


def give_back_basket(
    conn: Connection, book: Book, covers: list[dict], outlet: dict, basket_id: str, key: str, now: dt.datetime
) -> int:
    """A refunded basket's vouchers get back what they paid (a cancelled voucher's goes back to
    where it came from), and the outlet gives the value back. Returns the money value returned."""
    total = 0
    for c in covers:
        v = store.lock(conn, book, c["voucher_id"])
        left = book.account(v["account_id"]).available
        back_to = store.source_account(conn, v) if v["status"] == "cancelled" else v["account_id"]
        rkey = f"{key}/voucher/{v['id']}"
        what = f"refund of basket {basket_id} at {outlet['id']}: voucher {v['id']}"
        revenue = outlet["revenue_account_id"]
        if v["kind"] == "money":
            book.load([revenue, back_to], lock=False)
            book.transfer(revenue, back_to, c["used"], code="voucher_returned", reason=what, key=rkey)
        else:
            uses = store.uses_redeemed_account(conn)
            book.load([uses, back_to], lock=False)
            book.transfer(uses, back_to, c["used"], code="voucher_returned", reason=what, key=rkey)
            if c["value"]:
                issuer = store.issuer_account(conn, outlet["ledger"], v["issuer_outlet_id"])
                book.load([issuer, revenue], lock=False)
                book.transfer(
                    revenue,
                    issuer,
                    c["value"],
                    code="voucher_value_returned",
                    reason=what,
                    key=rkey + "/value",
                )
        where = {"outlet_id": outlet["id"], "counter_id": None, "basket_id": basket_id}
        result = _result(conn, v, where, "refund", None, -c["used"], -c["value"], c["lines"], left, now)
        if back_to != v["account_id"]:  # cancelled: nothing comes back onto it
            result["remaining"] = left
        _record(conn, v, rkey, where, f"basket {basket_id}", -c["used"], -c["value"], result, now)
        total += c["value"]
    return total


# -- a credit on a past purchase ---------------------------------------------------------------------


def basket_outlet(conn: Connection, basket_id: str) -> str:
    outlet = conn.execute(select(BASKETS.c.outlet_id).where(BASKETS.c.id == basket_id)).scalar()
    if outlet is None:
        raise NotFound(f"no basket {basket_id}")
    return outlet


def _paid_basket(conn: Connection, basket_id: str) -> dict:
    row = conn.execute(select(BASKETS).where(BASKETS.c.id == basket_id)).mappings().first()
    if row is None:
        raise NotFound(f"no basket {basket_id}")
    if row["status"] != "paid":
        raise Conflict(f"basket {basket_id} is {row['status']}: nothing to credit on it")
    return dict(row)


def _credits(conn: Connection, basket_id: str) -> list[dict]:
    """The credits given on a basket so far (their redemption rows)."""
    rows = conn.execute(
        select(store.REDEMPTIONS).where(
            store.REDEMPTIONS.c.basket_id == basket_id, store.REDEMPTIONS.c.channel == CREDIT
        )
    ).mappings()
    return [dict(r) for r in rows if r["used"] > 0]


def _paid_lines(conn: Connection, basket: dict) -> list[dict]:
    """The basket's lines as a discount sees them: what the card paid for each (its net after the
    card's discount, less what gift vouchers, vouchers by code and earlier credits took off)."""
    paid = basket["result"]
    taken: dict[str, int] = {}
    covers = [c["lines"] for c in paid.get("coded_vouchers", [])]
    covers += [r["result"].get("lines", []) for r in _credits(conn, basket["id"])]
    for lines in covers:
        for line in lines:
            taken[line["line_id"]] = taken.get(line["line_id"], 0) + (line.get("value") or 0)
    articles = catalogue.articles_by_id(conn, [line["article_id"] for line in paid["lines"]])
    return [
        _open(
            line["line_id"],
            articles[line["article_id"]],
            0,
            max(0, line["net"] - line.get("covered", 0) - taken.get(line["line_id"], 0)),
        )
        for line in paid["lines"]
    ]


def credit_basket(
    conn: Connection, req: dict, secret: str | None, key: str, caller: str, now: dt.datetime
) -> dict:
    """Redeem a discount voucher against a paid basket (seed 001: a discount on a past
    purchase): its percent or amount of the basket's lines it applies to is credited to the
    basket's card's wallet, from the issuer's "vouchers issued" account. Once per voucher (its
    one use, locked first), once per key; the basket's credits together never exceed what was
    paid for its lines."""
    done = _repeat(conn, key)
    if done is not None:
        return done
    found = store.by_code(conn, secret, req["code"])
    if found["kind"] != "discount":
        raise Invalid(
            f"voucher {found['id']} is a {found['kind']} voucher: only a discount is credited on a basket"
        )
    basket = _paid_basket(conn, req["basket_id"])
    book = Book(conn)
    v = store.lock(conn, book, found["id"])  # the voucher first, then the wallet, as a basket's pay does
    left = book.account(v["account_id"]).available
    store.check_open(v, left, now)
    card = _check_card(conn, v, basket["card_uid"])
    wallet = get_card(conn, card).account_id
    book.load([wallet], lock=True)  # two credits on one basket: one after the other
    basket = _paid_basket(conn, basket["id"])  # read again under the lock: a refund may have won
    channel = basket["request"].get("channel_in") or "till"
    if v["online_only"] and channel not in ONLINE:
        raise Conflict(
            f"voucher {v['id']} is redeemable online only: basket {basket['id']} was not bought online"
        )
    used, value, covered = _cover(v, left, _paid_lines(conn, basket), None)
    what = f"voucher {v['id']}: credit on basket {basket['id']} at {basket['outlet_id']}"
    _book_use(conn, book, v, used, key, what, store.uses_redeemed_account(conn))
    if value:
        issuer = store.issuer_account(conn, book.account(wallet).ledger, v["issuer_outlet_id"])
        book.load([issuer], lock=False)
        book.transfer(issuer, wallet, value, code="voucher_credit", reason=what, key=key + "/credit")
    book.flush()
    where = {"outlet_id": None, "counter_id": None, "basket_id": basket["id"]}
    result = _result(conn, v, where, CREDIT, card, used, value, covered, left, now)
    return _record(conn, v, key, where, caller, used, value, result, now)


def take_back_credits(
    conn: Connection, book: Book, basket_id: str, wallet: int, ledger: str, key: str, now: dt.datetime
) -> int:
    """A refunded basket's credits go back: the credited money from the card's wallet to the
    issuer, the discount voucher's use back onto it (or to where it came from, if cancelled).
    Returns the money taken back."""
    book.load([wallet], lock=True)  # a credit racing the refund waits, then finds it refunded
    total = 0
    for row in _credits(conn, basket_id):
        v = store.get_voucher(conn, row["voucher_id"])
        back_to = store.source_account(conn, v) if v["status"] == "cancelled" else v["account_id"]
        uses = store.uses_redeemed_account(conn)
        what = f"refund of basket {basket_id}: credit of voucher {v['id']} taken back"
        rkey = f"{key}/credit/{v['id']}"
        book.load([uses, back_to], lock=False)
        book.transfer(uses, back_to, row["used"], code="voucher_returned", reason=what, key=rkey)
        if row["value"]:
            issuer = store.issuer_account(conn, ledger, v["issuer_outlet_id"])
            book.load([issuer], lock=False)
            book.transfer(
                wallet, issuer, row["value"], code="voucher_credit_returned", reason=what, key=rkey + "/value"
            )
        where = {"outlet_id": None, "counter_id": None, "basket_id": basket_id}
        left = store.remaining(conn, v)
        result = _result(
            conn, v, where, "refund", row["card_uid"], -row["used"], -row["value"], [], left, now
        )
        if back_to != v["account_id"]:
            result["remaining"] = left
        _record(conn, v, rkey, where, f"basket {basket_id}", -row["used"], -row["value"], result, now)
        total += row["value"]
    return total
