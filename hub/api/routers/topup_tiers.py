"""Top-up bonus tiers: extra balance for larger top-ups, per site.

/api/v1/sites/{site_id}/topup-tiers is a site's own list (a manager of the site changes it;
DELETE: the site uses the default list again). /api/v1/topup-tiers is the coalition's default
list, for the sites without their own: a PUT there changes no site that has its own list, and
only a caller bound to no outlet or site may make it."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, Currency, DbDep, Scope
from hub.api.fields import MAX_AMOUNT, Slug
from hub.wallets import topup_bonus

router = APIRouter(tags=["promotions"])


class Tier(BaseModel):
    min_amount: int = Field(ge=0, le=MAX_AMOUNT, strict=True, description="from this top-up on")
    percent: Decimal = Field(ge=0, le=100, description="extra balance in percent, e.g. 5 or 2.5")


class SiteTiers(BaseModel):
    site_id: str
    own: bool = Field(description="true: the site's own list; false: it uses the default list")
    tiers: list[Tier] = Field(description="the tiers a top-up at the site applies")


@router.get("/topup-tiers", response_model=list[Tier])
def topup_tiers(_caller: Allowed.loyalty_read, db: DbDep, currency: Currency):
    """The default tiers: those of every site without its own list."""
    return db.read(topup_bonus.get_tiers, currency)


@router.put("/topup-tiers", response_model=list[Tier])
def set_topup_tiers(_caller: Allowed.loyalty_write, tiers: list[Tier], db: DbDep, currency: Currency):
    """Replace the default tiers, which the sites without their own list apply (a site's own
    list, PUT /sites/{site_id}/topup-tiers, is left as it is). The highest tier a top-up
    reaches gives its percentage of the whole top-up as extra balance (rounded down)."""
    return db.write(
        topup_bonus.set_tiers,
        currency,
        [t.model_dump() for t in tiers],
        before=lambda conn: topup_bonus.get_tiers(conn, currency),
        scope=COALITION,
    )


@router.get("/sites/{site_id}/topup-tiers", response_model=SiteTiers)
def site_topup_tiers(_caller: Allowed.loyalty_read, site_id: Slug, db: DbDep, currency: Currency):
    """The tiers top-ups at the site apply: its own list, or the default one (own: false)."""
    return db.read(topup_bonus.site_tiers, currency, site_id, scope=Scope(site=site_id))


@router.put("/sites/{site_id}/topup-tiers", response_model=SiteTiers)
def set_site_topup_tiers(
    _caller: Allowed.loyalty_write, site_id: Slug, tiers: list[Tier], db: DbDep, currency: Currency
):
    """Replace the site's own tiers (an empty list: no top-up bonus at the site). Other sites
    and the default list are left as they are."""
    return db.write(
        topup_bonus.set_site_tiers,
        currency,
        site_id,
        [t.model_dump() for t in tiers],
        before=lambda conn: topup_bonus.site_tiers(conn, currency, site_id),
        scope=Scope(site=site_id),
    )


@router.delete("/sites/{site_id}/topup-tiers", response_model=SiteTiers)
def drop_site_topup_tiers(_caller: Allowed.loyalty_write, site_id: Slug, db: DbDep, currency: Currency):
    """The site drops its own tiers: its top-ups apply the default list again."""
    return db.write(
        topup_bonus.use_default,
        currency,
        site_id,
        before=lambda conn: topup_bonus.site_tiers(conn, currency, site_id),
        scope=Scope(site=site_id),
    )
