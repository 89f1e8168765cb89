"""Reports on gifts (/api/v1/gift-settlement, /gift-activities): who owes whom between outlets
(seed 004) and the activities that count as campaigns (seed 000). hub.gifts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub import gifts
from hub.api.auth import Allowed
from hub.api.deps import COALITION, Currency, DbDep
from hub.api.fields import Moment

router = APIRouter(tags=["gifts"])


class OutletSettlement(BaseModel):
    outlet_id: str
    owed_to_outlet: int = Field(description="the settlement node owes it (gifts it redeemed)")
    owed_by_outlet: int = Field(description="it owes the settlement node (gifts it granted)")
    net: int = Field(description="owed_to − owed_by: > 0 the node pays the outlet, < 0 it pays")


class SettlementOut(BaseModel):
    currency: str
    since: dt.datetime | None
    until: dt.datetime | None
    outlets: list[OutletSettlement]
    node_kept_unredeemed: int = Field(description="value of gifts reset unredeemed the node keeps")
    node_open: int = Field(description="value of gifts granted in the period, not yet redeemed or reset")


class ActivityReportOut(BaseModel):
    since: dt.datetime | None
    until: dt.datetime | None
    first_uses: int = Field(description="cards used for the first time (their first counted activity)")
    collections: int = Field(description="gift redemptions (till, basket, machine)")
    activities: int = Field(description="first uses + collections (seed 000)")
    campaigns: int = Field(description="activities / 16, rounded up (seed 000)")


@router.get("/gift-settlement", response_model=SettlementOut)
def settlement(
    _caller: Allowed.reports_read,
    db: DbDep,
    currency: Currency,
    since: Moment | None = None,
    until: Moment | None = None,
    ledger: Annotated[str | None, Query(max_length=40, description="default: the hub's currency")] = None,
):
    """Who owes whom for gifts over [since, until) (seed 004): from the obligation transfers —
    granting outlet → settlement node at the grant, node → redeeming outlet at the redemption."""
    return db.read(gifts.settlement, ledger or currency, since, until, scope=COALITION)


@router.get("/gift-activities", response_model=ActivityReportOut)
def activities(
    _caller: Allowed.reports_read, db: DbDep, since: Moment | None = None, until: Moment | None = None
):
    """Activities as seed 000 counts them: first uses of cards and collected gifts; collecting
    points is none. 16 activities are one campaign."""
    return db.read(gifts.activity_report, since, until, scope=COALITION)
