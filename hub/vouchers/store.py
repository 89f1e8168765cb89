"""Vouchers issued, looked up, cancelled, and their status at any time.

Each voucher has its own account, which holds what is left of it:
  * money:    on the currency ledger, funded at issue from the issuer's "vouchers issued"
              account (the issuing outlet's, or the coalition's): what the issuer owes the
              bearer until it is redeemed;
  * points:   on the "PTS" ledger, funded from "points issued";
  * goods, discount: on the "VOUCHER" ledger, in uses (a goods voucher's units; one for a
              discount), funded from "uses issued". Their money value is known only when they are
              redeemed: then the issuer's "vouchers issued" account pays it to the outlet.
Cancelling books what is left back to where it came from. An expired voucher keeps its rest.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from decimal import Decimal

from sqlalchemy import Connection, func, select, update

from hub.core.errors import Conflict, Invalid, NotFound
from hub.ledger import ACCOUNTS, Book, create_account, system_account
from hub.ledger.requests import store_key
from hub.loyalty import catalogue, outlets, points
from hub.tables.vouchers import Voucher, VoucherDelivery, VoucherRedemption, VoucherSecret
from hub.vouchers import codes
from hub.wallets.cards import get_card

VOUCHERS = Voucher.__table__
REDEMPTIONS = VoucherRedemption.__table__
DELIVERIES = VoucherDelivery.__table__
SECRETS = VoucherSecret.__table__

KINDS = ("money", "points", "goods", "discount")
USES = "VOUCHER"  # the ledger of a goods or discount voucher's uses
STATUSES = ("issued", "delivered", "partly_redeemed", "redeemed", "expired", "cancelled")


# -- the signing key ---------------------------------------------------------------------------------


def signing_key(conn: Connection, configured: str | None, create: bool = False) -> bytes | None:
    """The code key: from the configured secret, else from the one stored in the database (made
    now when `create`; a race with another process ends in an IntegrityError, and the write is
    retried, finding the other's). None: no secret yet, so no voucher exists."""
    if configured:
        return codes.code_key(configured)
    stored = conn.execute(select(SECRETS.c.secret).where(SECRETS.c.id == 1)).scalar()
    if stored is None and create:
        stored = secrets.token_urlsafe(32)
        conn.execute(SECRETS.insert().values(id=1, secret=stored, created_at=dt.datetime.now(dt.UTC)))
    return codes.code_key(stored) if stored else None


def read_code(conn: Connection, configured: str | None, code: str) -> codes.CodeFields:
    key = signing_key(conn, configured)
    if key is None:
        raise Invalid("not a valid voucher code: this hub has issued none")
    return codes.read_code(code, key)


# -- accounts ----------------------------------------------------------------------------------------


def issuer_account(conn: Connection, ledger: str, outlet_id: str | None) -> int:
    """Where a voucher's value comes from: the issuing outlet's (or the coalition's) account."""
    return system_account(conn, ledger, "vouchers", f"issued by {outlet_id or 'the coalition'}")


def source_account(conn: Connection, voucher: dict) -> int:
    """The account a voucher's own account was funded from (and a cancellation returns to)."""
    if voucher["kind"] == "money":
        return issuer_account(conn, voucher["ledger"], voucher["issuer_outlet_id"])
    if voucher["kind"] == "points":
        return system_account(conn, points.LEDGER, "points", points.ISSUED)
    return system_account(conn, USES, "vouchers", "uses issued")


def uses_redeemed_account(conn: Connection) -> int:
    return system_account(conn, USES, "vouchers", "uses redeemed")


# -- issuing -----------------------------------------------------------------------------------------


def _code_kind(v: dict) -> tuple[str, int]:
    if v["kind"] == "discount":
        if v["percent"] is not None:
            return "discount_percent", int(Decimal(v["percent"]) * 100)
        return "discount_amount", v["face_value"]
    return v["kind"], v["face_value"]


def _check_request(conn: Connection, req: dict) -> tuple[int, str | None]:
    """The face value and percent of an issue request, after the checks a request's schema
    cannot make."""
    kind = req["kind"]
    amount, units, percent = req.get("amount"), req.get("units"), req.get("percent")
    if kind in ("money", "points"):
        if not amount or units is not None or percent is not None:
            raise Invalid(f"a {kind} voucher has an amount above 0 (and no units or percent)")
        face = amount
    elif kind == "goods":
        if amount is not None or percent is not None:
            raise Invalid("a goods voucher has units (default 1), no amount or percent")
        if not req.get("article_ids") and not req.get("group_ids"):
            raise Invalid("a goods voucher names the articles or product groups it buys")
        face = units or 1
    else:
        if (amount is None) == (percent is None) or units is not None:
            raise Invalid("a discount voucher has either an amount or a percent (and no units)")
        if amount is not None and amount <= 0:
            raise Invalid("a discount's amount is above 0")
        face = amount or 0
    if req.get("max_discount") is not None and percent is None:
        raise Invalid("max_discount caps a percent discount only")
    if kind == "points" and (req.get("article_ids") or req.get("group_ids")):
        raise Invalid("a points voucher is credited to a card: it is not limited to articles")
    if kind == "points" and req.get("online_only"):
        raise Invalid("a points voucher is credited to a card: 'online only' does not apply")
    if req.get("article_ids"):
        catalogue.articles_by_id(conn, req["article_ids"])  # NotFound for an unknown one
    known = {g["id"] for g in catalogue.list_groups(conn)}
    missing = sorted(set(req.get("group_ids") or []) - known)
    if missing:
        raise NotFound(f"no product group {', '.join(missing)}")
    start, end = req.get("valid_from"), req.get("valid_to")
    if start and end and end <= start:
        raise Invalid("valid_to is after valid_from")
    if not req.get("transferable", True) and not req.get("card_uid"):
        raise Invalid("a non-transferable voucher is bound to a card: name its card_uid")
    if percent is None:
        return face, None
    exact = f"{Decimal(str(percent)).quantize(Decimal('0.01')):f}"  # 12.50 → "12.5", 10.00 → "10"
    return face, exact.rstrip("0").rstrip(".") if "." in exact else exact


def issue(
    conn: Connection,
    req: dict,
    currency: str,
    secret: str | None,
    key: str,
    caller: str,
    now: dt.datetime,
    campaign_id: str | None = None,
) -> dict:
    """Issue one voucher under the request's key (a repeat answers the first voucher)."""
    done = conn.execute(select(VOUCHERS.c.id).where(VOUCHERS.c.issue_key == key)).scalar()
    if done is not None:
        return {**view(conn, done, now), "repeated": True}
    face, percent = _check_request(conn, req)
    outlet_id = req.get("outlet_id")
    if outlet_id is not None:
        outlets.get_outlet(conn, outlet_id)
    card_uid = get_card(conn, req["card_uid"]).uid if req.get("card_uid") else None
    kind = req["kind"]
    ledger = {"money": currency, "points": points.LEDGER}.get(kind, USES)
    serial = codes.new_serial()
    valid_to = req.get("valid_to")
    row = {
        "id": serial,
        "kind": kind,
        "ledger": ledger,
        "face_value": face,
        "percent": percent,
        "max_discount": req.get("max_discount"),
        "article_ids": sorted(set(req.get("article_ids") or [])),
        "group_ids": sorted(set(req.get("group_ids") or [])),
        "valid_from": req.get("valid_from"),
        "valid_to": valid_to,
        "online_only": bool(req.get("online_only")),
        "transferable": bool(req.get("transferable", True)),
        "card_uid": card_uid,
        "issuer_outlet_id": outlet_id,
        "recipient_name": req.get("recipient_name") or "",
        "recipient_email": req.get("recipient_email") or "",
        "conditions": req.get("conditions") or "",
        "issue_key": key,
        "campaign_id": campaign_id,
        "issued_by": caller,
        "status": "issued",
        "created_at": now,
    }
    code_kind, code_value = _code_kind(row)
    # The code names the last valid day: the day of a valid_to at midnight is already past.
    until = (valid_to - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date() if valid_to else None
    row["code"] = codes.make_code(
        signing_key(conn, secret, create=True), code_kind, code_value, until, serial
    )
    row["account_id"] = create_account(conn, ledger, "voucher", f"voucher {serial}")
    conn.execute(VOUCHERS.insert().values(**row))
    book = Book(conn)
    source = source_account(conn, row)
    book.load([source], lock=False)
    book.transfer(
        source,
        row["account_id"],
        initial(row),
        code="voucher_issued",
        reason=f"{kind} voucher {serial} issued" + (f" by {outlet_id}" if outlet_id else ""),
        key=key + "/issue",
    )
    book.flush()
    return {**view(conn, serial, now), "repeated": False}


# -- looking up --------------------------------------------------------------------------------------


def get_voucher(conn: Connection, voucher_id: str) -> dict:
    row = conn.execute(select(VOUCHERS).where(VOUCHERS.c.id == voucher_id)).mappings().first()
    if row is None:
        raise NotFound(f"no voucher {voucher_id}")
    return dict(row)


def by_code(conn: Connection, secret: str | None, code: str) -> dict:
    """The voucher a code names: a code with a bad signature is Invalid (422) before the
    database is asked; one with a good signature but unknown here is NotFound."""
    fields = read_code(conn, secret, code)
    voucher = get_voucher(conn, fields.serial)
    if voucher["code"] != code.strip().upper():
        raise Invalid("not a valid voucher code: it does not match the voucher it names")
    return voucher


def by_stored_code(conn: Connection, code: str) -> dict:
    """The voucher a code names, compared with the code the hub stored when it issued it (no
    secret needed: a code with a wrong tag or an unknown serial is no voucher's, 422)."""
    found = conn.execute(select(VOUCHERS).where(VOUCHERS.c.id == codes.serial_of(code))).mappings().first()
    if found is None or not hmac.compare_digest(found["code"], code.strip().upper()):
        raise Invalid("not a valid voucher code")
    return dict(found)


def remaining(conn: Connection, voucher: dict) -> int:
    acc = conn.execute(
        select(ACCOUNTS.c.credits_posted, ACCOUNTS.c.debits_posted, ACCOUNTS.c.debits_pending).where(
            ACCOUNTS.c.id == voucher["account_id"]
        )
    ).one()
    return acc[0] - acc[1] - acc[2]


def initial(voucher: dict) -> int:
    """What the voucher's account held when it was issued: its amount of money or points, a
    goods voucher's units, a discount voucher's one use."""
    return 1 if voucher["kind"] == "discount" else voucher["face_value"]


def status(voucher: dict, left: int, delivered: bool, now: dt.datetime) -> str:
    if voucher["status"] in ("cancelled", "expired"):  # stored: cancelled, or its rest booked out
        return voucher["status"]
    if left == 0:
        return "redeemed"
    if voucher["valid_to"] is not None and now >= voucher["valid_to"]:
        return "expired"
    if left < initial(voucher):
        return "partly_redeemed"
    return "delivered" if delivered else "issued"


def redemptions(conn: Connection, voucher_id: str) -> list[dict]:
    rows = conn.execute(
        select(REDEMPTIONS).where(REDEMPTIONS.c.voucher_id == voucher_id).order_by(REDEMPTIONS.c.id)
    ).mappings()
    return [
        {
            k: r[k]
            for k in (
                "id",
                "channel",
                "outlet_id",
                "counter_id",
                "card_uid",
                "basket_id",
                "caller",
                "used",
                "value",
            )
        }
        | {"at": r["created_at"], "lines": r["result"].get("lines", [])}
        for r in rows
    ]


def deliveries(conn: Connection, voucher_id: str) -> list[dict]:
    rows = conn.execute(
        select(DELIVERIES).where(DELIVERIES.c.voucher_id == voucher_id).order_by(DELIVERIES.c.id)
    ).mappings()
    return [
        {"channel": r["channel"], "recipient": r["recipient"], "caller": r["caller"], "at": r["created_at"]}
        for r in rows
    ]


def view(conn: Connection, voucher_id: str, now: dt.datetime) -> dict:
    """A voucher as the API shows it: its terms, what is left, its status and history."""
    v = get_voucher(conn, voucher_id)
    left = remaining(conn, v)
    sent = deliveries(conn, voucher_id)
    return {
        "id": v["id"],
        "code": v["code"],
        "kind": v["kind"],
        "ledger": v["ledger"],
        "face_value": v["face_value"],
        "percent": v["percent"],
        "max_discount": v["max_discount"],
        "remaining": left,
        "article_ids": v["article_ids"],
        "group_ids": v["group_ids"],
        "valid_from": v["valid_from"],
        "valid_to": v["valid_to"],
        "online_only": v["online_only"],
        "transferable": v["transferable"],
        "card_uid": v["card_uid"],
        "outlet_id": v["issuer_outlet_id"],
        "recipient_name": v["recipient_name"],
        "recipient_email": v["recipient_email"],
        "conditions": v["conditions"],
        "issued_by": v["issued_by"],
        "issued_at": v["created_at"],
        "campaign_id": v["campaign_id"],
        "cancelled_at": v["cancelled_at"],
        "status": status(v, left, bool(sent), now),
        "redemptions": redemptions(conn, voucher_id),
        "deliveries": sent,
    }


def list_vouchers(
    conn: Connection,
    now: dt.datetime,
    card_uid: str | None = None,
    outlet_id: str | None = None,
    limit: int = 100,
) -> list[dict]:
    query = select(VOUCHERS.c.id).order_by(VOUCHERS.c.created_at.desc(), VOUCHERS.c.id).limit(limit)
    if card_uid is not None:
        query = query.where(VOUCHERS.c.card_uid == get_card(conn, card_uid).uid)
    if outlet_id is not None:
        query = query.where(VOUCHERS.c.issuer_outlet_id == outlet_id)
    return [view(conn, i, now) for i in conn.execute(query).scalars()]


OPEN = ("issued", "delivered", "partly_redeemed")


def card_vouchers(conn: Connection, uid: str, now: dt.datetime, open_only: bool = True) -> list[dict]:
    """The vouchers issued or credited to a card (the card whose wallet it uses), oldest first;
    open_only: those that can still be redeemed now."""
    owner = get_card(conn, uid).uid
    ids = conn.execute(
        select(VOUCHERS.c.id)
        .where(VOUCHERS.c.card_uid == owner)
        .order_by(VOUCHERS.c.created_at, VOUCHERS.c.id)
    ).scalars()
    views = [view(conn, i, now) for i in ids]
    return [v for v in views if v["status"] in OPEN] if open_only else views


def report(conn: Connection, since: dt.datetime | None, until: dt.datetime | None) -> dict:
    """Vouchers issued and redeemed over [since, until), per outlet and kind: what each outlet
    issued (count, face value) and what was redeemed there (count, what it took from the
    vouchers, the money booked to the outlet; refunded baskets' give-backs count negative). The
    coalition's own vouchers are issued by outlet null."""

    def window(column):
        return [
            c
            for c in ((column >= since) if since else None, (column < until) if until else None)
            if c is not None
        ]

    issued = conn.execute(
        select(
            VOUCHERS.c.issuer_outlet_id,
            VOUCHERS.c.kind,
            func.count(),
            func.coalesce(func.sum(VOUCHERS.c.face_value), 0),
        )
        .where(*window(VOUCHERS.c.created_at))
        .group_by(VOUCHERS.c.issuer_outlet_id, VOUCHERS.c.kind)
    ).all()
    redeemed = conn.execute(
        select(
            REDEMPTIONS.c.outlet_id,
            VOUCHERS.c.kind,
            func.count().filter(REDEMPTIONS.c.used > 0),
            func.coalesce(func.sum(REDEMPTIONS.c.used), 0),
            func.coalesce(func.sum(REDEMPTIONS.c.value), 0),
        )
        .join(VOUCHERS, VOUCHERS.c.id == REDEMPTIONS.c.voucher_id)
        .where(*window(REDEMPTIONS.c.created_at))
        .group_by(REDEMPTIONS.c.outlet_id, VOUCHERS.c.kind)
    ).all()
    rows: dict[tuple, dict] = {}

    def row(outlet, kind) -> dict:
        return rows.setdefault(
            (outlet or "", kind),
            {
                "outlet_id": outlet,
                "kind": kind,
                "issued": 0,
                "face_value": 0,
                "redeemed": 0,
                "used": 0,
                "value": 0,
            },
        )

    for outlet, kind, n, face in issued:
        row(outlet, kind).update(issued=int(n), face_value=int(face))
    for outlet, kind, n, used, value in redeemed:
        row(outlet, kind).update(redeemed=int(n), used=int(used), value=int(value))
    return {"since": since, "until": until, "rows": [rows[k] for k in sorted(rows)]}


# -- cancelling and delivering ----------------------------------------------------------------------


def lock(conn: Connection, book: Book, voucher_id: str) -> dict:
    """The voucher with its account locked (PostgreSQL: FOR UPDATE; SQLite: the write lock), read
    after the lock, so two tills at the same instant see one another's redemption."""
    account = conn.execute(select(VOUCHERS.c.account_id).where(VOUCHERS.c.id == voucher_id)).scalar()
    if account is None:
        raise NotFound(f"no voucher {voucher_id}")
    book.account(account)
    return get_voucher(conn, voucher_id)


def cancel(conn: Connection, voucher_id: str, key: str, now: dt.datetime) -> dict:
    """Cancel a voucher: what is left goes back to where it came from. Once; a repeat (or a
    cancelled voucher) answers as it stands."""
    book = Book(conn)
    v = lock(conn, book, voucher_id)
    if v["status"] == "cancelled":
        return {**view(conn, voucher_id, now), "repeated": True}
    if _book_out_rest(conn, book, v, "voucher_cancelled", f"voucher {voucher_id} cancelled", key):
        book.flush()
    conn.execute(
        update(VOUCHERS).where(VOUCHERS.c.id == voucher_id).values(status="cancelled", cancelled_at=now)
    )
    return {**view(conn, voucher_id, now), "repeated": False}


def _book_out_rest(conn: Connection, book: Book, v: dict, code: str, reason: str, key: str) -> int:
    """What is left on the (locked) voucher goes back to where it came from; returns it."""
    left = book.account(v["account_id"]).available
    if left:
        source = source_account(conn, v)
        book.load([source], lock=False)
        book.transfer(v["account_id"], source, left, code=code, reason=reason, key=key)
    return left


def expire(conn: Connection, now: dt.datetime) -> dict:
    """Book out the rest of every voucher past its validity: back to where it came from (a money
    voucher's issuer keeps what was never redeemed), the voucher marked expired. Once per
    voucher: an expired one is not looked at again."""
    due = list(
        conn.execute(
            select(VOUCHERS.c.id)
            .where(VOUCHERS.c.status == "issued", VOUCHERS.c.valid_to <= now)
            .order_by(VOUCHERS.c.account_id)
        ).scalars()
    )
    book, run = Book(conn), "voucher-expiry/" + secrets.token_hex(8)
    booked: dict[str, int] = {}
    for voucher_id in due:
        v = lock(conn, book, voucher_id)
        reason = f"voucher {voucher_id} expired at {v['valid_to'].isoformat()}"
        left = _book_out_rest(conn, book, v, "voucher_expired", reason, f"{run}/{voucher_id}")
        if left:
            booked[v["ledger"]] = booked.get(v["ledger"], 0) + left
        conn.execute(update(VOUCHERS).where(VOUCHERS.c.id == voucher_id).values(status="expired"))
    book.flush()
    return {"vouchers": len(due), "booked_out": booked}


def record_delivery(
    conn: Connection, voucher_id: str, channel: str, recipient: str, caller: str, now, key: str
) -> None:
    conn.execute(
        DELIVERIES.insert().values(
            voucher_id=voucher_id,
            channel=channel,
            recipient=recipient,
            caller=caller,
            key=key,
            created_at=now,
        )
    )


def delivered_under(conn: Connection, voucher_id: str, prefix: str, key: str) -> bool:
    """Whether a delivery of the voucher was recorded under the caller's key (an e-mail is not
    sent twice for one key)."""
    stored = store_key(conn, prefix, key)
    return bool(
        conn.execute(
            select(DELIVERIES.c.id).where(DELIVERIES.c.voucher_id == voucher_id, DELIVERIES.c.key == stored)
        ).first()
    )


def deliver(
    conn: Connection, voucher_id: str, channel: str, recipient: str, caller: str, key: str, now: dt.datetime
) -> dict:
    """Record that the voucher was e-mailed or printed and handed over, once per key."""
    if conn.execute(select(DELIVERIES.c.id).where(DELIVERIES.c.key == key)).first():
        return {**view(conn, voucher_id, now), "repeated": True}
    v = get_voucher(conn, voucher_id)
    if v["status"] == "cancelled":
        raise Conflict(f"voucher {voucher_id} is cancelled")
    record_delivery(conn, voucher_id, channel, recipient, caller, now, key)
    return {**view(conn, voucher_id, now), "repeated": False}


def check_open(voucher: dict, left: int, now: dt.datetime) -> None:
    """Conflict unless the voucher can be redeemed now."""
    if voucher["status"] == "cancelled":
        raise Conflict(f"voucher {voucher['id']} is cancelled")
    if voucher["status"] == "expired":  # its rest was booked out
        raise Conflict(f"voucher {voucher['id']} expired at {voucher['valid_to'].isoformat()}")
    if left <= 0:
        raise Conflict(f"voucher {voucher['id']} is redeemed: nothing is left of it")
    if voucher["valid_from"] is not None and now < voucher["valid_from"]:
        raise Conflict(f"voucher {voucher['id']} is valid from {voucher['valid_from'].isoformat()}")
    if voucher["valid_to"] is not None and now >= voucher["valid_to"]:
        raise Conflict(f"voucher {voucher['id']} expired at {voucher['valid_to'].isoformat()}")
