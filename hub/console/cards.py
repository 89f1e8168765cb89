"""The Cards pages: look a card up by its UID; its balance, held and available money, points,
gifts and history; top up (the tier's bonus shown before the operator confirms), block and
unblock, pay back.

A top-up or refund form carries an idempotency key made when the form is rendered, and books
through the REST API's namespace for it ("topup/", "refund/", hub.ledger.requests): the same
form sent twice (a double click, a reload) books once. After a booking the browser is sent on
to the card's page (303), which reads what was booked under the form's key."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection, select

from hub import settlement
from hub.access.callers import Caller
from hub.api.fields import MAX_AMOUNT
from hub.api.routers.cards import sync_deny_lists
from hub.cards import kinds, links, replacement
from hub.console import i18n
from hub.console.web import Form, Needs, Page, same_origin
from hub.core.clock import utcnow
from hub.core.errors import DomainError, NotFound
from hub.gifts import card_gifts
from hub.ledger import TRANSFERS
from hub.loyalty import points
from hub.wallets import cards, cash_desk, history, topup_bonus

router = APIRouter()

UID = re.compile(r"[0-9A-Za-z_:.-]{4,64}")  # hub.api.fields.CardUid
RFID_UID = re.compile(r"[0-9A-Fa-f]{8,20}")  # a new RFID card's (hub/api/routers/cards.py)
FORM_KEY = re.compile(r"[0-9a-f]{32}")  # the keys this console makes: uuid4().hex
HISTORY_PAGE = 50

CardsPage = Annotated[Page, Needs("cards.read")]
TopUpPage = Annotated[Page, Needs("money.topup")]
RefundPage = Annotated[Page, Needs("money.refund")]
WritePage = Annotated[Page, Needs("cards.write")]


def _uid(raw: str) -> str | None:
    raw = (raw or "").strip()
    return cards.canonical_uid(raw) if UID.fullmatch(raw) else None


def _card_path(uid: str) -> str:
    return f"/cards/{uid}"


HOLDER_MATCHES = 50


def _holders(conn: Connection, text: str) -> list[dict]:
    """Cards whose holder's name contains `text` (any case), at most HOLDER_MATCHES."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        select(cards.CARDS.c.uid, cards.CARDS.c.holder_name, cards.CARDS.c.status, cards.CARDS.c.medium)
        .where(cards.CARDS.c.holder_name.ilike(pattern, escape="\\"))
        .order_by(cards.CARDS.c.holder_name, cards.CARDS.c.uid)
        .limit(HOLDER_MATCHES)
    )
    return [dict(r._mapping) for r in rows]


def _lookup_page(page: Page, status: int = 200, **values):
    values = {"errors": {}, "uid": "", "new": {}, "holder": "", "matches": None, **values}
    return page.render("cards.html", status, title=page._("Look up a card"), **values)


@router.get("/cards")
def lookup(page: CardsPage, uid: str | None = None, holder: str | None = None):
    """The look-up form; with `uid` (typed, or sent by a QR scanner), the card's page (or the
    form saying what is wrong); with `holder`, the cards whose holder's name holds it."""
    if holder is not None and page.may("holders.read"):
        text = holder.strip()
        if not 2 <= len(text) <= 100:
            return _lookup_page(
                page, 422, holder=holder, errors={"holder": page._("Enter 2-100 letters of the name.")}
            )
        return _lookup_page(page, holder=text, matches=page.db().read(_holders, text))
    if uid is None:
        return _lookup_page(page)
    found = _uid(uid)
    if found is None:
        error = page._("Enter a card UID (4-64 letters, digits, _ : . -).")
    else:
        try:
            page.db().read(cards.get_card, found)
            return RedirectResponse(_card_path(found), status_code=303)
        except NotFound:
            error = page._("No card {uid}.", uid=found)
    return _lookup_page(page, 422, errors={"uid": error}, uid=uid)


def _booked(conn: Connection, account_id: int, stored_key: str) -> dict | None:
    """What was booked under a form's key on this card's wallet (top-up or refund and its
    bonus); None if nothing was."""
    rows = conn.execute(
        select(TRANSFERS.c.idempotency_key, TRANSFERS.c.amount, TRANSFERS.c.code).where(
            TRANSFERS.c.idempotency_key.in_([stored_key, stored_key + "/bonus"]),
            (TRANSFERS.c.credit_account_id == account_id) | (TRANSFERS.c.debit_account_id == account_id),
        )
    ).all()
    if not rows:
        return None
    found = {"amount": 0, "bonus": 0}
    for key, amount, _code in rows:
        found["bonus" if key.endswith("/bonus") else "amount"] = amount
    return found


def _card_data(conn: Connection, uid: str, before: str | None) -> dict:
    card = cards.get_card(conn, uid)
    return {
        "card": cards.card_view(conn, uid),
        "points": points.summary(conn, uid, utcnow()),
        "gifts": card_gifts(conn, uid),
        "history": history.history(conn, uid, HISTORY_PAGE + 1, before=before),
        "account_id": card.account_id,
    }


def _show_card(
    page: Page,
    uid: str,
    status: int = 200,
    before: str | None = None,
    errors: dict | None = None,
    amount: str = "",
):
    try:
        data = page.db().read(_card_data, uid, before)
    except NotFound:
        page.messages.append(("error", page._("No card {uid}.", uid=uid)))
        return _lookup_page(page, 404, uid=uid)
    entries = data["history"]
    more = len(entries) > HISTORY_PAGE
    return page.render(
        "card.html",
        status,
        title=page._("Card {uid}", uid=data["card"]["uid"]),
        card=data["card"],
        points=data["points"],
        gifts=data["gifts"],
        entries=entries[:HISTORY_PAGE],
        next_cursor=entries[HISTORY_PAGE - 1]["cursor"] if more else None,
        paged=before is not None,
        errors=errors or {},
        amount=amount,
    )


@router.get("/cards/{uid}")
def card_page(
    page: CardsPage,
    uid: str,
    before: str | None = None,
    topup: str | None = None,
    refund: str | None = None,
    done: str | None = None,
    old: str | None = None,
):
    """The card; `topup`/`refund`: the form key of a booking just made, to say what it booked."""
    found = _uid(uid)
    if found is None:
        return lookup(page, uid)
    if before is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", before):
        before = None
    for prefix, key in (("topup/", topup), ("refund/", refund)):
        if key and FORM_KEY.fullmatch(key):
            _note_booking(page, found, prefix, key)
    if done == "blocked":
        page.messages.append(("ok", page._("Card blocked: every tap with it is denied.")))
    elif done == "unblocked":
        page.messages.append(("ok", page._("Card unblocked.")))
    elif done == "issued":
        page.messages.append(("ok", page._("Card {uid} issued.", uid=found)))
    elif done == "linked":
        page.messages.append(("ok", page._("Card linked: its wallet is the digital card's.")))
    elif done == "replaced" and old and _uid(old):
        page.messages.append(
            ("ok", page._("Card {old} is blocked; its balance is on {uid}.", old=_uid(old), uid=found))
        )
    return _show_card(page, found, before=before)


def _note_booking(page: Page, uid: str, prefix: str, key: str) -> None:
    def read(conn: Connection) -> dict | None:
        return _booked(conn, cards.get_card(conn, uid).account_id, prefix + key)

    try:
        booked = page.db().read(read)
    except NotFound:
        return
    if booked is None:
        if prefix == "refund/":
            page.messages.append(("ok", page._("Nothing to pay back.")))
        return
    if prefix == "topup/":
        text = page._(
            "Topped up {amount}, bonus {bonus}.",
            amount=page.money(booked["amount"]),
            bonus=page.money(booked["bonus"]),
        )
    else:
        text = page._("Refunded {amount}.", amount=page.money(booked["amount"]))
    page.messages.append(("ok", text))


def _amount_error(page: Page, cents: int | None) -> str | None:
    if cents is None:
        return page._("Enter an amount such as 50 or 50.00.")
    if cents <= 0:
        return page._("The amount must be above 0.")
    if cents > MAX_AMOUNT:
        return page._("The amount is too large.")
    return None


def _desk_site(conn: Connection, caller: Caller) -> str | None:
    """The site whose top-up tiers apply at the operator's desk: their outlet's, or their own."""
    return topup_bonus.site_of(conn, caller.outlet_id) or caller.site_id


def _preview(conn: Connection, uid: str, amount: int, caller: Caller) -> dict:
    view = cards.card_view(conn, uid)
    bonus = topup_bonus.bonus_for(conn, view["ledger"], amount, _desk_site(conn, caller))
    return {"card": view, "bonus": bonus, "new_balance": view["balance"] + amount + bonus}


@router.get("/cards/{uid}/topup")
def topup_confirm(page: TopUpPage, uid: str, amount: str = ""):
    """The second step of a top-up: the amount, the tier's bonus and the new balance, and the
    button that books it. The form's idempotency key is made here."""
    found = _uid(uid)
    if found is None:
        return lookup(page, uid)
    cents = i18n.parse_amount(amount, page.currency)
    error = _amount_error(page, cents)
    if error:
        return _show_card(page, found, 422, errors={"amount": error}, amount=amount)
    try:
        preview = page.db().read(_preview, found, cents, page.caller)
    except NotFound:
        return _show_card(page, found)
    return page.render(
        "topup_confirm.html",
        title=page._("Confirm the top-up"),
        card=preview["card"],
        amount=cents,
        bonus=preview["bonus"],
        new_balance=preview["new_balance"],
        key=uuid.uuid4().hex,
    )


@router.get("/cards/{uid}/topup/bonus")
def topup_bonus_hint(page: TopUpPage, uid: str, amount: str = ""):
    """The tier's bonus for the amount being typed (an htmx fragment beside the field)."""
    found = _uid(uid)
    cents = i18n.parse_amount(amount, page.currency)
    text = ""
    if found and cents and _amount_error(page, cents) is None:
        try:
            bonus = page.db().read(_preview, found, cents, page.caller)["bonus"]
        except DomainError:
            bonus = 0
        text = (
            page._("Bonus for this amount: {bonus}", bonus=page.money(bonus))
            if bonus
            else page._("No bonus for this amount.")
        )
    return page.render("fragment_text.html", text=text)


@router.post("/cards/{uid}/topup", name="top_up", dependencies=[Depends(same_origin)])
def top_up(form: Form, page: TopUpPage, uid: str):
    """Book the confirmed top-up once per form key."""
    found = _uid(uid)
    key = form.get("key", "")
    amount = form.get("amount", "")
    if found is None or not FORM_KEY.fullmatch(key) or not amount.isdigit():
        return _show_card(page, found or "", 422) if found else lookup(page, uid)
    cents = int(amount)
    error = _amount_error(page, cents)
    if error:
        return _show_card(page, found, 422, errors={"amount": error})
    body = {"amount": cents, "reason": ""}
    caller = page.caller

    def book(conn: Connection, stored: str) -> dict:
        done = cash_desk.top_up(conn, found, cents, stored, site_id=_desk_site(conn, caller))
        settlement.record_cash(conn, stored, caller.outlet_id)  # whose cash it is (seed 004)
        return done

    try:
        page.db(body).write_keyed("topup/", key, {"uid": found, **body}, book)
    except DomainError as exc:
        page.messages.append(("error", page._("The top-up was not booked: {reason}", reason=page.error(exc))))
        return _show_card(page, found, exc.status)
    return RedirectResponse(f"{_card_path(found)}?topup={key}", status_code=303)


def _refund_preview(conn: Connection, uid: str) -> dict:
    card, view = cash_desk.settled_card(conn, uid)
    bonus = cash_desk.unspent_bonus(conn, card.account_id, view["available"]) if view["available"] > 0 else 0
    return {"card": view, "paid_back": view["available"] - bonus, "bonus": bonus}


@router.get("/cards/{uid}/refund")
def refund_confirm(page: RefundPage, uid: str):
    """What a refund would pay back (the unspent bonus lapses), and the button that books it."""
    found = _uid(uid)
    if found is None:
        return lookup(page, uid)
    try:
        preview = page.db().read(_refund_preview, found)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_card(page, found, exc.status)
    return page.render(
        "refund_confirm.html",
        title=page._("Confirm the refund"),
        card=preview["card"],
        paid_back=preview["paid_back"],
        bonus=preview["bonus"],
        key=uuid.uuid4().hex,
    )


@router.post("/cards/{uid}/refund", name="refund", dependencies=[Depends(same_origin)])
def refund(form: Form, page: RefundPage, uid: str):
    found = _uid(uid)
    key = form.get("key", "")
    if found is None or not FORM_KEY.fullmatch(key):
        return lookup(page, uid)
    outlet = page.caller.outlet_id

    def book(conn: Connection, stored: str) -> dict:
        done = cash_desk.refund(conn, found, stored)
        settlement.record_cash(conn, stored, outlet)  # who paid the cash out (seed 004)
        return done

    try:
        page.db({}).write_keyed("refund/", key, {"uid": found}, book)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_card(page, found, exc.status)
    return RedirectResponse(f"{_card_path(found)}?refund={key}", status_code=303)


def _set_status(page: Page, uid: str, status: str, background: BackgroundTasks):
    found = _uid(uid)
    if found is None:
        return lookup(page, uid)
    try:
        page.db({}).write(cards.set_status, found, status)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_card(page, found, exc.status)
    app = page.request.app
    background.add_task(sync_deny_lists, app.state.bridge, app.state.engine)
    done = "blocked" if status == "blocked" else "unblocked"
    return RedirectResponse(f"{_card_path(found)}?done={done}", status_code=303)


@router.post("/cards/{uid}/block", name="block_card", dependencies=[Depends(same_origin)])
def block(page: WritePage, uid: str, background: BackgroundTasks):
    """Block a lost card; the controllers' deny lists follow (as POST /api/v1/cards/{uid}/block)."""
    return _set_status(page, uid, "blocked", background)


@router.post("/cards/{uid}/unblock", name="unblock_card", dependencies=[Depends(same_origin)])
def unblock(page: WritePage, uid: str, background: BackgroundTasks):
    return _set_status(page, uid, "active", background)


# --- issue, replace, link ---------------------------------------------------------------------


@router.post("/cards", name="issue_card", dependencies=[Depends(same_origin)])
def issue(form: Form, page: WritePage):
    """Issue a card: an RFID card or wristband (its UID read off it, or one the hub makes) or a
    digital card (a QR code), of a kind, personalised or anonymous."""
    values = {
        k: form.get(k, "").strip() for k in ("new_uid", "medium", "kind", "holder_name", "credit_limit")
    }
    errors = {}
    medium = values["medium"] if values["medium"] in ("rfid", "digital") else "rfid"
    kind = values["kind"] if values["kind"] in cards.KINDS else "value"
    uid = values["new_uid"]
    if medium == "rfid" and uid and not RFID_UID.fullmatch(uid):
        errors["new_uid"] = page._("An RFID UID is 8-20 hex digits (or empty: the hub makes one).")
    limit = 0
    if kind == "debit":
        limit = i18n.parse_amount(values["credit_limit"], page.currency) or 0
        if not 0 < limit <= MAX_AMOUNT:
            errors["credit_limit"] = page._("A debit card needs a credit limit above 0.")
    if len(values["holder_name"]) > 100:
        errors["holder_name"] = page._("At most 100 characters.")
    if errors:
        return _lookup_page(page, 422, errors=errors, new=values)
    body = {
        "uid": uid or None,
        "medium": medium,
        "kind": kind,
        "holder_name": values["holder_name"],
        "credit_limit": limit,
    }
    try:
        made = page.db(body).write(
            kinds.issue,
            page.currency,
            medium,
            (uid or None) if medium == "rfid" else None,
            kind=kind,
            holder_name=values["holder_name"],
            credit_limit=limit,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _lookup_page(page, exc.status, new=values)
    return RedirectResponse(f"{_card_path(made['uid'])}?done=issued", status_code=303)


@router.post("/cards/{uid}/replace", name="replace", dependencies=[Depends(same_origin)])
def replace(form: Form, page: WritePage, uid: str, background: BackgroundTasks):
    """A lost card: blocked, its balance, points and gifts moved to a new card."""
    found = _uid(uid)
    if found is None:
        return lookup(page, uid)
    new_uid = form.get("new_uid", "").strip()
    if new_uid and not RFID_UID.fullmatch(new_uid):
        error = page._("An RFID UID is 8-20 hex digits (or empty: the hub makes one).")
        return _show_card(page, found, 422, errors={"new_uid": error})
    try:
        done = page.db({"uid": new_uid or None}).write(replacement.replace, found, new_uid or None)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_card(page, found, exc.status)
    app = page.request.app
    background.add_task(sync_deny_lists, app.state.bridge, app.state.engine)
    return RedirectResponse(f"{_card_path(done['new']['uid'])}?done=replaced&old={found}", status_code=303)


@router.post("/cards/{uid}/link", name="link", dependencies=[Depends(same_origin)])
def link(form: Form, page: WritePage, uid: str):
    """Link this RFID card to a digital card's wallet (its balance and points move there)."""
    found, wallet = _uid(uid), _uid(form.get("wallet_uid", ""))
    if found is None:
        return lookup(page, uid)
    if wallet is None:
        error = page._("Enter a card UID (4-64 letters, digits, _ : . -).")
        return _show_card(page, found, 422, errors={"wallet_uid": error})
    try:
        page.db({"wallet_uid": wallet}).write(links.link, found, wallet)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_card(page, found, exc.status)
    return RedirectResponse(f"{_card_path(found)}?done=linked", status_code=303)
