"""The coalition's money settled by period (/api/v1/settlement, seed 004; hub.settlement): any
period's statement, closing a period (its figures freeze), a closed period's stored statement,
each also as CSV. They concern every outlet: a caller bound to an outlet or site is refused."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from hub import settlement
from hub.api.auth import Allowed
from hub.api.deps import COALITION, Currency, DbDep
from hub.api.fields import Moment, RowId
from hub.core.clock import utcnow

router = APIRouter(tags=["settlement"])

Ledger = Annotated[
    str | None, Query(max_length=40, description="the money ledger; default: the hub's currency")
]
From = Annotated[Moment, Query(alias="from", description="the period's start (included)")]
To = Annotated[Moment, Query(alias="to", description="the period's end (excluded)")]
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


class Figure(BaseModel):
    amount: int = Field(description="minor units")
    transfers: list[str] = Field(description="the ledger transfers behind the amount")


class GuardFigure(BaseModel):
    amount: int = Field(description="minor units")
    lot_moves: list[int] = Field(description="the gift lot moves behind the amount")


class Owing(Figure):
    to: str


class OwedBy(Figure):
    by: str


class OutletStatement(BaseModel):
    outlet_id: str = Field(description='an outlet, or "(node)": the settlement node')
    name: str
    cash_in: Figure = Field(description="cash it took for top-ups (and debit cards), less cash it paid back")
    from_cards: Figure = Field(description="what cards paid it (baskets, taps, vends), less refunded baskets")
    gifts_given: Figure = Field(description="value of the gifts it granted (it owes the node)")
    gifts_redeemed: Figure = Field(description="value of the gifts redeemed there (the node owes it)")
    gifts_released: Figure = Field(description="value of its gifts reset unredeemed and given back to it")
    bonus_given: Figure = Field(description="top-up bonus it granted (it owes the node)")
    bonus_redeemed_elsewhere: Figure = Field(description="of its bonus, what cards spent at other outlets")
    gifts_redeemed_elsewhere: GuardFigure = Field(
        description="of its gifts, the value other outlets handed over (the seed's guard against abuse)"
    )
    owes: list[Owing]
    owed: list[OwedBy]
    net: int = Field(description="owed − owes: > 0 it receives, < 0 it pays")


class Payment(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    payer: str = Field(alias="from")
    to: str
    amount: int


class ClosedAt(BaseModel):
    id: int
    closed_at: dt.datetime
    closed_by: str


class Statement(BaseModel):
    ledger: str
    since: dt.datetime = Field(description="the period's start")
    until: dt.datetime = Field(description="the period's end (excluded)")
    period: ClosedAt | None = Field(description="the closed period this statement is; null: computed now")
    outlets: list[OutletStatement]
    payments: list[Payment] = Field(description="the fewest payments that settle every net")
    corrections: list[str] = Field(
        description="transfers booked inside an earlier closed period after it closed, settled here"
    )


class CloseIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    since: Moment = Field(alias="from")
    until: Moment = Field(alias="to")
    ledger: str | None = Field(None, max_length=40)


class PeriodOut(BaseModel):
    id: int
    ledger: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    closed_at: dt.datetime
    closed_by: str


@router.get("/settlement", response_model=Statement, response_model_by_alias=True)
def statement(
    _caller: Allowed.reports_read,
    db: DbDep,
    currency: Currency,
    since: From,
    until: To,
    ledger: Ledger = None,
):
    """Who owes whom for [from, to) as the ledger stands now: per outlet the money it took in,
    what cards paid it, gifts and bonus it gave and what was redeemed, one net figure, and the
    payments that settle it. Where the period is closed, its frozen figures; bookings made
    after a close count in the next open period."""
    return db.read(settlement.report, ledger or currency, since, until, scope=COALITION)


@router.get("/settlement.csv", response_class=Response, responses=CSV)
def statement_csv(
    _caller: Allowed.reports_read,
    db: DbDep,
    currency: Currency,
    since: From,
    until: To,
    ledger: Ledger = None,
):
    """The same statement as CSV."""
    found = db.read(settlement.report, ledger or currency, since, until, scope=COALITION)
    return Response(settlement.to_csv(found), media_type="text/csv")


@router.post("/settlement/periods", response_model=Statement, status_code=201, response_model_by_alias=True)
def close_period(caller: Allowed.settlement_close, body: CloseIn, db: DbDep, currency: Currency):
    """Close [from, to): its statement is stored and never changes. The period must have ended
    and may not overlap a closed one (409)."""
    closed = db.write(
        settlement.close_summarised,  # the audit log keeps the nets and payments, not every id
        body.ledger or currency,
        body.since,
        body.until,
        utcnow(),
        f"{caller.kind} {caller.name}",
        scope=COALITION,
    )
    return db.read(settlement.stored, closed["period"]["id"], scope=COALITION)


@router.get("/settlement/periods", response_model=list[PeriodOut])
def closed_periods(_caller: Allowed.reports_read, db: DbDep, currency: Currency, ledger: Ledger = None):
    """The closed periods, earliest first."""
    return db.read(settlement.list_closed, ledger or currency, scope=COALITION)


@router.get("/settlement/periods/{period_id}", response_model=Statement, response_model_by_alias=True)
def closed_period(_caller: Allowed.reports_read, period_id: RowId, db: DbDep):
    """A closed period's statement as it was stored at the close."""
    return db.read(settlement.stored, period_id, scope=COALITION)


@router.get("/settlement/periods/{period_id}/csv", response_class=Response, responses=CSV)
def closed_period_csv(_caller: Allowed.reports_read, period_id: RowId, db: DbDep):
    return Response(
        settlement.to_csv(db.read(settlement.stored, period_id, scope=COALITION)), media_type="text/csv"
    )
