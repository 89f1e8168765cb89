"""Bonus-point rules and settings (/api/v1/bonus-rules, /bonus-settings; seed 003), and an
outlet's holiday calendar that the rules' holiday condition reads. The rules live in
hub.loyalty.points (tables) and hub.loyalty.point_rules (the engine)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, DbDep, Scope
from hub.api.fields import MAX_DAYS, MAX_POINTS, Day, Flag, Minor, Moment, RowId, Slug
from hub.loyalty import outlets, points, site_bonus
from hub.loyalty.point_rules import ChannelIn, ChannelOut, ExpiryKind, RuleKind

router = APIRouter(tags=["bonus points"])


class TargetIn(BaseModel):
    id: str = Field(max_length=40, description="article / product group / topping / topping group id")
    points: int = Field(ge=0, le=1_000_000, strict=True)
    exclusive_voucher_types: list[str] = []
    exclude_menu_contents: Flag = False


class RuleIn(BaseModel):
    name: str = Field(max_length=100)
    kind: RuleKind
    active: Flag = True
    stores: list[str] = Field([], description="outlet ids; none: the rule acts as disabled")
    channels_in: list[ChannelIn] = list(ChannelIn)
    channels_out: list[ChannelOut] = list(ChannelOut)
    valid_from: Moment | None = None
    valid_to: Moment | None = None
    weekdays: list[Annotated[int, Field(ge=0, le=6, strict=True)]] = Field(
        list(range(7)), description="0 = Monday … 6 = Sunday"
    )
    on_holidays: Flag = True
    targets: list[TargetIn] = []
    amount_per_point: Minor = Field(0, description="basket value rules: minor units per point")
    include_redeemed: Flag = False
    include_small_quantity_surcharge: Flag = False
    include_delivery_fee: Flag = False
    points: int = Field(0, ge=0, le=MAX_POINTS, strict=True, description="registration rules")
    immediately_redeemable: Flag = False
    expiry: ExpiryKind = ExpiryKind.STANDARD
    expiry_days: int | None = Field(None, ge=0, le=MAX_DAYS)
    expiry_date: Day | None = None


class RuleOut(RuleIn):
    id: int


class SettingsIn(BaseModel):
    hours_until_available: int = Field(0, ge=0, le=24 * MAX_DAYS, strict=True)
    default_validity_days: int | None = Field(
        None, ge=0, le=MAX_DAYS, description="null: points never expire"
    )
    enabled_stores: list[str] = Field([], description="outlets where the bonus system is on")
    point_value: Minor = Field(0, description="minor units a point is worth as payment; 0: off")


@router.post("/bonus-rules", response_model=RuleOut, status_code=201)
def create_rule(_caller: Allowed.loyalty_write, rule: RuleIn, db: DbDep):
    """A bonus-point rule (seed 003); the semantics are hub.loyalty.point_rules' docstring."""
    return db.write(
        points.create_rule,
        rule.model_dump(mode="json")
        | {"valid_from": rule.valid_from, "valid_to": rule.valid_to, "expiry_date": rule.expiry_date},
        scope=COALITION,
    )


@router.get("/bonus-rules", response_model=list[RuleOut])
def list_rules(_caller: Allowed.loyalty_read, db: DbDep):
    return db.read(points.list_rules)


@router.get("/bonus-rules/{rule_id}", response_model=RuleOut)
def get_rule(_caller: Allowed.loyalty_read, rule_id: RowId, db: DbDep):
    return db.read(points.get_rule, rule_id)


@router.post("/bonus-rules/{rule_id}/activate", response_model=RuleOut)
def activate(_caller: Allowed.loyalty_write, rule_id: RowId, db: DbDep):
    return db.write(points.set_active, rule_id, True, scope=COALITION)


@router.post("/bonus-rules/{rule_id}/deactivate", response_model=RuleOut)
def deactivate(_caller: Allowed.loyalty_write, rule_id: RowId, db: DbDep):
    return db.write(points.set_active, rule_id, False, scope=COALITION)


@router.get("/bonus-settings", response_model=SettingsIn)
def get_settings(_caller: Allowed.loyalty_read, db: DbDep):
    return db.read(points.get_settings)


@router.put("/bonus-settings", response_model=SettingsIn)
def set_settings(_caller: Allowed.loyalty_write, settings: SettingsIn, db: DbDep):
    """Hours until earned points are available, their default validity, the outlets where the
    bonus system is on (switched off: nothing is earned there, points stay redeemable) and the
    value of a point as payment."""
    return db.write(points.set_settings, settings.model_dump(), scope=COALITION)


class SiteStoresIn(BaseModel):
    enabled_stores: list[Slug] = Field(
        max_length=1000, description="the site's outlets where the bonus system is on"
    )


class SiteStores(SiteStoresIn):
    site_id: str
    outlets: list[str] = Field(description="every outlet of the site")


@router.get("/sites/{site_id}/bonus-stores", response_model=SiteStores)
def get_site_stores(_caller: Allowed.loyalty_read, site_id: Slug, db: DbDep):
    """The site's outlets where the bonus system is on (its part of the bonus settings'
    enabled_stores)."""
    return db.read(site_bonus.site_stores, site_id, scope=Scope(site=site_id))


@router.put("/sites/{site_id}/bonus-stores", response_model=SiteStores)
def set_site_stores(_caller: Allowed.loyalty_write, site_id: Slug, body: SiteStoresIn, db: DbDep):
    """Switch the bonus system on at exactly these outlets of the site and off at its others;
    other sites' outlets keep theirs (a manager of the site may). PUT /bonus-settings replaces
    every site's at once and is the coalition's."""
    return db.write(
        site_bonus.set_site_stores,
        site_id,
        body.enabled_stores,
        before=lambda conn: site_bonus.site_stores(conn, site_id),
        scope=Scope(site=site_id),
        retry=True,
    )


@router.put("/outlets/{outlet_id}/holidays", response_model=list[dt.date])
def set_holidays(_caller: Allowed.loyalty_write, outlet_id: str, days: list[Day], db: DbDep):
    """Replace the outlet's holiday calendar (read by the bonus rules' holiday condition)."""
    return db.write(outlets.set_holidays, outlet_id, days, scope=Scope(outlet_id))


@router.get("/outlets/{outlet_id}/holidays", response_model=list[dt.date])
def get_holidays(_caller: Allowed.loyalty_read, outlet_id: str, db: DbDep):
    return db.read(outlets.holidays, outlet_id, scope=Scope(outlet_id))
