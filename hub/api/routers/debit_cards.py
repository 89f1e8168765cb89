"""Debit cards (paid later): a card's statement, the cards that owe, settling at the cash desk."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub import settlement
from hub.api.auth import Allowed
from hub.api.deps import DbDep
from hub.api.fields import MAX_AMOUNT, CardUid, HistoryItem, Key
from hub.cards import debit
from hub.wallets import cash_desk

router = APIRouter(tags=["cards"])


class StatementOut(BaseModel):
    uid: str
    owed: int = Field(description="what the debit card owes, minor units")
    held: int
    credit_limit: int
    spendable: int
    last_settlement_at: dt.datetime | None
    entries: list[HistoryItem] = Field(description="since the last settlement, newest first")


class OwedOut(BaseModel):
    uid: str | None = Field(
        None,
        description="an RFID card's uid; a digital card's (its credential: its QR code) is never "
        "listed, masked_token and label name it instead",
    )
    masked_token: str | None = Field(None, description="a digital card: the token's last four characters")
    label: str | None = Field(None, description="a digital card: its label")
    holder_name: str
    holder_email: str
    credit_limit: int
    owed: int


class SettleIn(BaseModel):
    amount: int | None = Field(
        None, gt=0, le=MAX_AMOUNT, strict=True, description="default: all that is owed"
    )


class SettleOut(BaseModel):
    uid: str
    settled: int
    balance: int
    available: int
    credit_limit: int
    repeated: bool


@router.get("/cards/{uid}/statement", response_model=StatementOut)
def statement(_caller: Allowed.holders_read, uid: CardUid, db: DbDep):
    """A debit card's statement: what it owes and its charges since the last settlement."""
    return db.read(debit.statement, uid)


@router.get("/debit-cards/owed", response_model=list[OwedOut], response_model_exclude_none=True)
def owed(_caller: Allowed.holders_read, db: DbDep):
    """Every debit card that owes money, the largest debt first (what to invoice)."""
    return db.read(debit.owing)


@router.post("/cards/{uid}/settle", response_model=SettleOut, status_code=201)
def settle(caller: Allowed.money_topup, uid: CardUid, body: SettleIn, db: DbDep, idempotency_key: Key):
    """The holder pays what the debit card owes (all by default, never more) at the cash desk.
    Send an Idempotency-Key header: a retry books nothing new and answers repeated=true."""

    def book(conn, key: str) -> dict:
        done = cash_desk.settle(conn, uid, key, body.amount)
        settlement.record_cash(conn, key, caller.outlet_id)  # whose cash it is (seed 004)
        return done

    return db.write_keyed("settle/", idempotency_key, {"uid": uid, **body.model_dump(mode="json")}, book)
