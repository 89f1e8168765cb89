"""Cards and their wallets (/api/v1/cards): issue, look up, block and unblock, top up and refund
at the cash desk, replace a lost card, the wallet's history. Card kinds, digital cards and
linking are in card_kinds.py; a debit card's statement and settlement in debit_cards.py."""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub import settlement
from hub.api.auth import Allowed
from hub.api.deps import Bridge, BridgeDep, Currency, DbDep, EngineDep, Scope, fresh_key
from hub.api.fields import MAX_AMOUNT, CardUid, HistoryCursor, HistoryItem, HistoryKinds, Key, Moment, Slug
from hub.cards import replacement
from hub.devices import management
from hub.wallets import cards, cash_desk, history, topup_bonus

log = logging.getLogger("tapgift.api")

router = APIRouter(tags=["cards"])


class CardIn(BaseModel):
    uid: str | None = Field(
        None, pattern=r"^[0-9A-Fa-f]{8,20}$", description="RFID UID in hex; omitted: the hub makes one"
    )
    label: str = Field("", max_length=100)


class CardOut(BaseModel):
    uid: str
    status: str
    label: str
    ledger: str
    balance: int = Field(description="posted balance in minor units")
    held: int = Field(description="pending holds of taps not yet reported")
    available: int = Field(description="balance less held: what may be spent")


class TopUpIn(BaseModel):
    amount: int = Field(
        gt=0, le=MAX_AMOUNT, strict=True, description="minor units as a JSON integer, e.g. 5000 for 50.00"
    )
    reason: str = Field("", max_length=200)
    outlet_id: Slug | None = Field(
        None,
        description="the outlet whose cash desk takes the money: its site's top-up tiers apply "
        "(default: the caller's own outlet or site; a caller bound to neither: the default tiers)",
    )
    counter_id: Slug | None = Field(None, description="the till taking the money (its outlet's site)")


class TopUpOut(CardOut):
    transfer: str
    bonus: int = Field(description="extra balance the top-up tier gave (booked as topup_bonus)")
    repeated: bool = Field(description="true when the Idempotency-Key was seen before")


class RefundOut(CardOut):
    refunded: int = Field(description="paid back at the cash desk, minor units")
    bonus_lapsed: int = Field(0, description="unspent bonus credit that is not paid back")
    repeated: bool


class ReplaceIn(CardIn):
    """The replacement card, described as a new card is (label: the lost card's if empty)."""


class ReplaceOut(BaseModel):
    old: CardOut
    new: CardOut


@router.post("/cards", response_model=CardOut, status_code=201)
def issue_card(_caller: Allowed.cards_write, card: CardIn, db: DbDep, currency: Currency):
    """Issue a card (wristband) with an empty wallet."""
    return db.write(cards.issue_card, currency, card.uid, card.label)


@router.get("/cards/{uid}", response_model=CardOut)
def get_card(_caller: Allowed.cards_read, uid: CardUid, db: DbDep):
    return db.read(cards.card_view, uid)


async def sync_deny_lists(bridge: Bridge | None, engine: Engine) -> None:
    """Controllers keep blocked cards on flash, to refuse them even offline. Runs as a
    background task, after the response."""
    if bridge is None:
        return
    try:
        await management.sync_deny(bridge, engine)
    except Exception:  # the next block, or POST /devices/deny-sync, catches up
        log.exception("deny lists not sent")


@router.post("/cards/{uid}/block", response_model=CardOut)
def block_card(
    _caller: Allowed.cards_write,
    uid: CardUid,
    db: DbDep,
    background: BackgroundTasks,
    bridge: BridgeDep,
    engine: EngineDep,
):
    """Block a lost card: every tap with it is denied from now on, and the controllers'
    deny lists are brought up to date."""
    card = db.write(cards.set_status, uid, "blocked")
    background.add_task(sync_deny_lists, bridge, engine)
    return card


@router.post("/cards/{uid}/unblock", response_model=CardOut)
def unblock_card(
    _caller: Allowed.cards_write,
    uid: CardUid,
    db: DbDep,
    background: BackgroundTasks,
    bridge: BridgeDep,
    engine: EngineDep,
):
    card = db.write(cards.set_status, uid, "active")
    background.add_task(sync_deny_lists, bridge, engine)
    return card


@router.post("/cards/{uid}/topups", response_model=TopUpOut, status_code=201)
async def top_up(caller: Allowed.money_topup, uid: CardUid, body: TopUpIn, db: DbDep, idempotency_key: Key):
    """Credit the card's wallet, with the top-up bonus of the tiers of the site where it is
    paid in (the counter's or outlet's, else the caller's own). Send an Idempotency-Key header
    so that a retried request books once: the repeat returns the first answer with
    repeated=true."""
    outlet = body.outlet_id or (None if body.counter_id else caller.outlet_id)

    def book(conn, key: str) -> dict:
        site = topup_bonus.site_of(conn, outlet, body.counter_id) or caller.site_id
        done = cash_desk.top_up(conn, uid, body.amount, key, body.reason, site, fresh_key(conn) == key)
        settlement.record_cash(conn, key, outlet, body.counter_id)  # whose cash it is (seed 004)
        return done

    named = body.outlet_id is not None or body.counter_id is not None
    # async with the database work in the thread pool, as baskets' pay: one hop, not two
    return await run_in_threadpool(
        db.write_keyed,
        "topup/",
        idempotency_key,
        {"uid": uid, **body.model_dump(mode="json", exclude_none=True)},
        book,
        scope=Scope(body.outlet_id, body.counter_id) if named else None,
    )


@router.post("/cards/{uid}/refund", response_model=RefundOut)
def refund(caller: Allowed.money_refund, uid: CardUid, db: DbDep, idempotency_key: Key):
    """Pay back the card's own money (the visitor's top-ups less what was spent);
    unspent top-up bonus is not paid back. Refused while taps wait for their report."""

    def book(conn, key: str) -> dict:
        done = cash_desk.refund(conn, uid, key)
        settlement.record_cash(conn, key, caller.outlet_id)  # who paid the cash out (seed 004)
        return done

    return db.write_keyed("refund/", idempotency_key, {"uid": uid}, book)


@router.post("/cards/{uid}/replace", response_model=ReplaceOut, status_code=201)
def replace(
    _caller: Allowed.cards_write,
    uid: CardUid,
    body: ReplaceIn,
    db: DbDep,
    background: BackgroundTasks,
    bridge: BridgeDep,
    engine: EngineDep,
):
    """A lost card: block it and move its balance to a new card. Both keep their history."""
    done = db.write(replacement.replace, uid, body.uid, body.label)
    background.add_task(sync_deny_lists, bridge, engine)
    return done


@router.get("/cards/{uid}/history", response_model=list[HistoryItem])
def card_history(
    _caller: Allowed.cards_read,
    uid: CardUid,
    db: DbDep,
    limit: int = 100,
    kind: HistoryKinds = None,
    since: Moment | None = None,
    until: Moment | None = None,
    before: HistoryCursor = None,
):
    """Everything that happened to the card, newest first (hub/wallets/history.py): taps with
    what became of their holds (also those at no charge), top-ups, refunds, sales, points and
    gifts; a linked card's include its wallet's before the link. At most `limit` (1-1000)
    entries booked in [since, until); the next page: `before` = the last entry's cursor."""
    return db.read(
        history.history,
        uid,
        min(max(limit, 1), 1000),
        kinds=kind,
        since=since,
        until=until,
        before=before,
    )
