"""Baskets paid with a card at an outlet: prices from the catalogue, the card's discounts, payment
with points (seed 001: points as a means of payment, one point = `point_value` minor units), points
earned by the bonus rules (seed 003), booked as dated lots.

`quote` books nothing; `pay` books the same figures (both go through `price`):
  * wallet (CHF) → the outlet's revenue account: the total less the value of the points redeemed;
  * points redeemed: the card's PTS wallet → "points redeemed", taken from the lots available now
    that expire first;
  * points earned: one lot per award, "points issued" → the card's PTS wallet.
  * gift vouchers (seed 001: a voucher for an article): a voucher covers its whole line; the card's
    gift units leave its gift wallet and the settlement node owes the outlet their value (hub.gifts).
  * vouchers by code (seed 001: money, goods, discount; hub.vouchers): each covers what is still
    open of its lines, its account locked first; its value reaches the outlet's revenue.
`refund` undoes a paid basket once: the money goes back to the wallet, the redeemed points go back
into the lots they came from, the earned points are clawed back (see hub.loyalty.points), the gift vouchers
go back to the card and the outlet's redemption obligation is reversed, the vouchers by code get
back what they paid, and a discount credited on the basket afterwards is taken back.

Choices:
  * A menu's price covers its components: COMPONENT lines are priced 0; toppings cost their price.
  * The card discount lowers the basket value the basket-value rules earn on; it is handed to the
    engine as `voucher_discount` (the engine's only "always reduces the value" input).
  * Lines at 100 % discount (employee consumption) and the lines hanging on them earn no points.
  * The total is Σ line nets + small-quantity surcharge + delivery fee; fees are not discounted.
  * A line paid by a voucher carries the voucher's type (article rules with that exclusive voucher
    type give it no points) and its net counts as voucher discount (it adds nothing to the basket
    value rules earn on); so does what vouchers by code pay (seed 003: "including redeemed value" is
    for redeemed points, not for vouchers).
    amount_due = total − vouchers_value − voucher_codes_value − points_value.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import Connection, bindparam, func, select, update

from hub import gifts
from hub.core.clock import utcnow
from hub.core.errors import Conflict, Invalid, NotFound
from hub.core.raw import Raw
from hub.ledger import Book, new_id, system_account
from hub.loyalty import cache, discounts, outlets, points
from hub.loyalty import point_rules as br
from hub.tables.sales import Basket
from hub.vouchers import redeem as voucher_codes
from hub.wallets.cards import CARDS, CardRef, canonical_uid, card_ref, get_card

SALE = "sale"


BASKETS = Basket.__table__
_INSERT = BASKETS.insert()


def _jsonable(value):
    return json.loads(json.dumps(value, default=lambda o: o.isoformat()))


# -- pricing -----------------------------------------------------------------------------------------


def _lines(req: dict, articles: dict, profile: dict) -> list[dict]:
    out = []
    for i, line in enumerate(req["lines"]):
        article = articles[line["article_id"]]
        kind = br.LineKind(line.get("kind", "article"))
        unit = 0 if kind is br.LineKind.COMPONENT else article["price"]
        gross = unit * line["quantity"]
        percent, source = discounts.percent_for(profile, article)
        discount = discounts.line_discount(gross, percent)
        out.append(
            {
                "line_id": str(line.get("line_id") or i + 1),
                "article_id": article["id"],
                "kind": kind.value,
                "parent_line_id": line.get("parent_line_id"),
                "quantity": line["quantity"],
                "unit_price": unit,
                "gross": gross,
                "discount_percent": str(percent),
                "discount_source": source,
                "discount": discount,
                "net": gross - discount,
            }
        )
    return out


def _earning_lines(lines: list[dict]) -> list[dict]:
    """Leave out lines at 100 % discount and every line hanging on them."""
    dropped = {line["line_id"] for line in lines if Decimal(line["discount_percent"]) == 100}
    changed = True
    while changed:
        more = {line["line_id"] for line in lines if line["parent_line_id"] in dropped} - dropped
        dropped |= more
        changed = bool(more)
    return [line for line in lines if line["line_id"] not in dropped]


def _engine_basket(
    req: dict, lines: list[dict], articles: dict, points_value: int, coded_value: int = 0
) -> br.Basket:
    earning = _earning_lines(lines)
    return br.Basket(
        lines=tuple(
            br.BasketLine(
                line_id=line["line_id"],
                article_id=line["article_id"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                kind=line["kind"],
                product_group_id=articles[line["article_id"]]["product_group_id"],
                parent_id=line["parent_line_id"],
                topping_group_id=articles[line["article_id"]]["topping_group_id"],
                voucher_type=line.get("voucher_type"),
            )
            for line in earning
        ),
        small_quantity_surcharge=req.get("small_quantity_surcharge", 0),
        delivery_fee=req.get("delivery_fee", 0),
        redeemed_points_value=points_value,
        voucher_discount=sum(line["discount"] + line.get("covered", 0) for line in earning) + coded_value,
    )


def _award_view(a: br.Award) -> dict:
    return {
        "points": a.points,
        "rule_id": a.rule_id,
        "rule_name": a.rule_name,
        "source": a.source.value,
        "line_id": a.line_id,
        "reason": a.reason,
        "available_at": a.available_at,
        "expires_at": a.expires_at,
        "key": a.key,
    }


# built once: a statement made anew per basket costs SQLAlchemy its cache key every time
_CARD = (
    select(CARDS, points.POINT_ACCOUNTS.c.account_id.label("points_account"))
    .outerjoin(
        points.POINT_ACCOUNTS,
        points.POINT_ACCOUNTS.c.card_uid == func.coalesce(CARDS.c.linked_to, CARDS.c.uid),
    )
    .where(CARDS.c.uid == bindparam("uid"))
)


def _card(conn: Connection, uid: str) -> tuple[CardRef, int | None]:
    """The card (as hub.wallets.cards.get_card) and its points wallet (None before it has one),
    in one query."""
    row = conn.execute(_CARD, {"uid": canonical_uid(uid)}).mappings().first()
    if row is None:
        raise NotFound(f"no card {uid}")
    card = card_ref(row)
    return card, row["points_account"]


def price(
    conn: Connection,
    req: dict,
    now: dt.datetime,
    ref: str | None = None,
    book: Book | None = None,
    card: CardRef | None = None,
) -> dict:
    """Every figure of a basket, booking nothing (with `book`, the vouchers it names by code are
    locked, for `pay`). The outlets, articles and rules come from hub.loyalty.cache."""
    static = cache.static(conn)
    card = card or get_card(conn, req["card_uid"])
    outlet = static.outlet(req["outlet_id"])
    articles = static.articles_by_id(line["article_id"] for line in req["lines"])
    lines = _lines(req, articles, discounts.profile(conn, card.uid))
    fees = req.get("small_quantity_surcharge", 0) + req.get("delivery_fee", 0)
    total = sum(line["net"] for line in lines) + fees
    vouchers = gifts.cover_lines(conn, card.uid, outlet, lines, req.get("vouchers", []))
    coded = voucher_codes.cover_basket(
        conn, req.get("voucher_codes", []), lines, articles, card.card_uid, req["channel_in"], now, book
    )
    coded_value = sum(c["value"] for c in coded)
    vouchers += coded_value
    settings = static.settings
    redeem = req.get("redeem_points", 0)
    if redeem and not settings["point_value"]:
        raise Invalid("paying with points is not enabled (bonus settings: point_value is 0)")
    value = redeem * settings["point_value"]
    if value > total - vouchers:
        raise Invalid(
            f"{redeem} points are worth {value}, more than the total {total - vouchers}"
            + (" left after the vouchers" if vouchers else "")
        )
    basket = _engine_basket(req, lines, articles, value, coded_value)  # validates menus and toppings
    awards = static.rules.awards_for_order(
        basket,
        store=outlet["id"],
        channel_in=req["channel_in"],
        channel_out=req["channel_out"],
        at=now,
        tz=outlet["tz"],
        holidays=static.holidays.get(outlet["id"], frozenset()),
        ref=ref,
    )
    return {
        "card_uid": card.uid,
        "outlet_id": outlet["id"],
        "lines": lines,
        "discount": sum(line["discount"] for line in lines),
        "fees": fees,
        "total": total,
        "vouchers_value": vouchers - coded_value,
        "voucher_codes_value": coded_value,
        "coded_vouchers": coded,
        "points_redeemed": redeem,
        "points_value": value,
        "amount_due": total - vouchers - value,
        "points_earned": sum(a.points for a in awards),
        "awards": [_award_view(a) for a in awards],
    }


def quote(conn: Connection, req: dict, now: dt.datetime) -> dict:
    return _jsonable(price(conn, req, now))


# -- paying and refunding ----------------------------------------------------------------------------


def _repeat(conn: Connection, key: str, req: dict) -> dict | None:
    row = conn.execute(select(BASKETS).where(BASKETS.c.idempotency_key == key)).mappings().first()
    if row is None:
        return None
    if row["request"] != _jsonable(req):
        raise Conflict(f"idempotency key {key} was used for another basket")
    return {**row["result"], "status": row["status"], "repeated": True}


def pay(
    conn: Connection, req: dict, basket_id: str, key: str, now: dt.datetime, new_key: bool = False
) -> dict:
    """Book a basket once per key: a repeat returns the first answer with repeated=true.
    new_key: the key was claimed by this very transaction (hub.ledger.requests.claim), so no
    basket can hold it yet."""
    done = None if new_key else _repeat(conn, key, req)
    if done is not None:
        return done
    card, points_account = _card(conn, req["card_uid"])
    if card.status != "active":
        raise Conflict(f"card {card.uid} is {card.status}")
    book = Book(conn)
    figures = price(conn, req, now, ref=key, book=book, card=card)
    outlet = cache.static(conn).outlet(req["outlet_id"])
    what = f"basket {basket_id} at {outlet['id']}"
    earned = _earning_accounts(conn, card, points_account) if figures["awards"] else None
    # every account the basket books on, read (its wallets locked) in one statement
    book.load([card.account_id, outlet["revenue_account_id"], *(earned or ())])
    if figures["amount_due"]:
        book.transfer(
            card.account_id,
            outlet["revenue_account_id"],
            figures["amount_due"],
            code=SALE,
            reason=what,
            key=f"{key}/pay",
        )
    if figures["points_redeemed"]:
        points.redeem(
            conn,
            book,
            card.uid,
            figures["points_redeemed"],
            basket_id,
            f"{key}/redeem",
            f"paid with points: {what}",
            now,
        )
    for line in figures["lines"]:
        if "voucher_item" in line:
            gifts.redeem(
                conn,
                book,
                card.uid,
                line["voucher_item"],
                line["voucher_units"],
                outlet["id"],
                basket_id,
                f"{key}/gift/{line['line_id']}",
                f"voucher in {what}",
            )
    if figures["coded_vouchers"]:
        voucher_codes.book_basket(
            conn, book, figures["coded_vouchers"], req, outlet, card.card_uid, basket_id, key, now
        )
    if figures["awards"]:
        _issue_lots(conn, book, card, earned, figures["awards"], basket_id, what)
    result = _jsonable({"id": basket_id, **figures})
    conn.execute(
        _INSERT,  # the row as parameters: one compiled statement for every basket
        {
            "id": basket_id,
            "idempotency_key": key,
            "card_uid": card.uid,
            "outlet_id": outlet["id"],
            "request": _jsonable(req),
            "result": result,
            "status": "paid",
            "created_at": now,
        },
    )
    # last: the balance updates of the outlet's revenue and the points issued, rows every
    # concurrent sale updates, are held from here to the commit
    book.flush()
    return {**result, "status": "paid", "repeated": False}


def _earning_accounts(conn: Connection, card: CardRef, points_account: int | None) -> tuple[int, int]:
    """(the points issued account, the card's points wallet), made on first use."""
    issued = cache.static(conn).points_issued
    if issued is None:
        issued = system_account(conn, points.LEDGER, "points", points.ISSUED)
        cache.changed(conn)
    if points_account is None:  # the card's first points: its wallet, in two statements
        points_account = points.new_point_accounts(Raw(conn), [card.uid], utcnow())[card.uid]
    return issued, points_account


def _issue_lots(
    conn: Connection, book: Book, card: CardRef, accounts: tuple[int, int], awards: list, basket_id, what
) -> None:
    """The basket's points as one dated lot per award, as hub.loyalty.points.issue_lot books
    them, the lots in one statement."""
    issued, wallet = accounts
    created = utcnow()
    lots = []
    for award in awards:
        reason = f"{award['reason']} ({what})"
        book.transfer(issued, wallet, award["points"], code="points_earned", reason=reason, key=award["key"])
        lots.append(
            {
                "id": new_id(),
                "card_uid": card.uid,
                "account_id": wallet,
                "points": award["points"],
                "remaining": award["points"],
                "available_at": award["available_at"],
                "expires_at": award["expires_at"],
                "source_key": award["key"],
                "reason": reason,
                "rule_id": award["rule_id"],
                "basket_id": basket_id,
                "created_at": created,
            }
        )
    conn.execute(points.LOTS.insert(), lots)


def get_basket(conn: Connection, basket_id: str) -> dict:
    row = conn.execute(select(BASKETS).where(BASKETS.c.id == basket_id)).mappings().first()
    if row is None:
        raise NotFound(f"no basket {basket_id}")
    return dict(row)


def refund(conn: Connection, basket_id: str, now: dt.datetime) -> dict:
    """Undo a paid basket, once; a repeat returns the first answer with repeated=true."""
    row = get_basket(conn, basket_id)
    if row["status"] == "refunded":
        return {**row["refund"], "repeated": True}
    paid, key = row["result"], row["idempotency_key"]
    card = get_card(conn, row["card_uid"])
    outlet = outlets.get_outlet(conn, row["outlet_id"])
    book = Book(conn)
    what = f"refund of basket {basket_id} at {outlet['id']}"
    if paid["amount_due"]:
        book.transfer(
            outlet["revenue_account_id"],
            card.account_id,
            paid["amount_due"],
            code="sale_refund",
            reason=what,
            key=f"{key}/refund",
        )
    returned = points.give_back(conn, book, card.uid, basket_id, f"{key}/refund/points-returned", what)
    clawed = points.claw_back(conn, book, card.uid, basket_id, f"{key}/refund/points-clawback", what)
    vouchers = gifts.give_back(conn, book, card.uid, basket_id, outlet["id"], f"{key}/refund/gifts", what)
    coded = voucher_codes.give_back_basket(
        conn, book, paid.get("coded_vouchers", []), outlet, basket_id, f"{key}/refund", now
    )
    credits = voucher_codes.take_back_credits(
        conn, book, basket_id, card.account_id, outlet["ledger"], f"{key}/refund", now
    )
    book.flush()
    result = {
        "id": basket_id,
        "refunded": paid["amount_due"],
        "points_returned": returned,
        "points_clawed_back": clawed,
        "gift_units_returned": vouchers,
        "voucher_value_returned": coded,
        "voucher_credit_taken_back": credits,
        "status": "refunded",
    }
    conn.execute(
        update(BASKETS)
        .where(BASKETS.c.id == basket_id)
        .values(status="refunded", refund=result, refunded_at=now)
    )
    return {**result, "repeated": False}


def buy_points(conn: Connection, uid: str, outlet_id: str, count: int, key: str, now: dt.datetime) -> dict:
    """Sell points for wallet money at `point_value` each (seed 001); the lot is available at once
    and expires after the default validity."""
    settings = points.get_settings(conn)
    if not settings["point_value"]:
        raise Invalid("points are not sold (bonus settings: point_value is 0)")
    card = get_card(conn, uid)
    if conn.execute(select(points.LOTS.c.id).where(points.LOTS.c.source_key == key)).first():
        return {**points.summary(conn, uid, now), "repeated": True}
    outlet = outlets.get_outlet(conn, outlet_id)
    book = Book(conn)
    cost = count * settings["point_value"]
    book.transfer(
        card.account_id,
        outlet["revenue_account_id"],
        cost,
        code="points_purchase",
        reason=f"{count} points bought at {outlet_id}",
        key=key + "/pay",
    )
    days = settings["default_validity_days"]
    points.issue_lot(
        conn,
        book,
        uid,
        count,
        key,
        f"{count} points bought at {outlet_id}",
        now,
        None if days is None else now + dt.timedelta(days=days),
        code="points_bought",
    )
    book.flush()
    return {**points.summary(conn, uid, now), "repeated": False}
