"""Offline vends the card could not pay (/api/v1/offline-overspends), from hub.taps.offline_vends."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, DbDep
from hub.taps import offline_vends

router = APIRouter(tags=["devices"])


class OverspendOut(BaseModel):
    device_id: str
    event_id: str = Field(description="the request id the device took for the offline vend")
    site: str
    card_uid: str
    units: int
    unit_price: int
    amount: int = Field(description="delivered x unit price, minor units")
    posted: int = Field(description="paid from the card's wallet")
    short: int = Field(description="booked against the site's offline-loss account")
    overspend: str = Field(description="insufficient_funds, blocked_card or unknown_card")
    vended_at: datetime | None = Field(description="when it was vended, as the device tells")
    booked_at: datetime


@router.get("/offline-overspends", response_model=list[OverspendOut])
def offline_overspends(_caller: Allowed.reports_read, db: DbDep, site: str | None = None, limit: int = 100):
    """Offline vends the card's wallet could not (fully) pay, newest first: the
    shortfall is booked against the site's offline-loss account."""
    return db.read(offline_vends.overspends, site, min(max(limit, 1), 1000), scope=COALITION)
