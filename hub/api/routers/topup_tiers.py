"""Top-up bonus tiers (/api/v1/topup-tiers): extra balance for larger top-ups."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, Currency, DbDep
from hub.api.fields import MAX_AMOUNT
from hub.wallets import topup_bonus

router = APIRouter(tags=["promotions"])


class Tier(BaseModel):
    min_amount: int = Field(ge=0, le=MAX_AMOUNT, strict=True, description="from this top-up on")
    percent: Decimal = Field(ge=0, le=100, description="extra balance in percent, e.g. 5 or 2.5")


@router.get("/topup-tiers", response_model=list[Tier])
def topup_tiers(_caller: Allowed.loyalty_read, db: DbDep, currency: Currency):
    return db.read(topup_bonus.get_tiers, currency)


@router.put("/topup-tiers", response_model=list[Tier])
def set_topup_tiers(_caller: Allowed.loyalty_write, tiers: list[Tier], db: DbDep, currency: Currency):
    """Replace the top-up bonus tiers: the highest tier a top-up reaches gives its
    percentage of the whole top-up as extra balance (rounded down to the minor unit)."""
    return db.write(
        topup_bonus.set_tiers,
        currency,
        [t.model_dump() for t in tiers],
        before=lambda conn: topup_bonus.get_tiers(conn, currency),
        scope=COALITION,
    )
