"""The bonus-gift chain (/api/v1/gift-rules) and what a site's exit resets
(/api/v1/sites/{site_id}/gift-settings): the rules and settings cards' gifts follow. hub.gifts."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub import gifts
from hub.api.auth import Allowed
from hub.api.deps import COALITION, DbDep, Scope
from hub.api.fields import Flag, ItemId, RowId, Slug

router = APIRouter(tags=["gifts"])


class ChainRuleIn(BaseModel):
    name: str = Field(max_length=100)
    site_id: Slug
    active: Flag = True
    activities: int = Field(
        ge=1, le=1000, strict=True, description="activities within one visit that earn the gift"
    )
    outlet_kinds: list[str] = Field([], description="activities at outlets of these kinds count")
    outlet_ids: list[str] = Field([], description="… and at these outlets; both empty: every outlet")
    item_id: ItemId
    units: int = Field(1, ge=1, le=1000, strict=True)
    repeat: Flag = Field(False, description="grant again every `activities` activities")
    max_per_visit: int | None = Field(None, ge=1, le=1_000_000, strict=True)


class ChainRuleOut(ChainRuleIn):
    id: int


class SiteGiftSettingsIn(BaseModel):
    reset_gifts: Flag = Field(
        False, description="reset unused gifts granted at the site (by rules or handed out) at its exit"
    )
    reset_bought_gifts: Flag = Field(False, description="reset unused gifts chosen with points there too")
    reset_points: Flag = Field(
        False,
        description="reset the unused bonus points earned at the site's "
        "outlets (baskets, machines); bought points stay",
    )
    unredeemed_obligation: Literal["kept", "released"] = Field(
        "kept",
        description="a reset gift's grant obligation: kept (the settlement node keeps the "
        "value) or released (given back to the granting outlet)",
    )


class SiteGiftSettingsOut(SiteGiftSettingsIn):
    site_id: str


@router.post("/gift-rules", response_model=ChainRuleOut, status_code=201)
def create_rule(_caller: Allowed.loyalty_write, rule: ChainRuleIn, db: DbDep):
    """A bonus-gift chain rule: after N activities within one visit at outlets of a kind (or
    listed), the outlet completing it grants the gift (and owes the settlement node its value)."""
    return db.write(gifts.create_rule, rule.model_dump(), scope=COALITION)


@router.get("/gift-rules", response_model=list[ChainRuleOut])
def list_rules(_caller: Allowed.loyalty_read, db: DbDep, site_id: str | None = None):
    return db.read(gifts.list_rules, site_id)


@router.get("/gift-rules/{rule_id}", response_model=ChainRuleOut)
def get_rule(_caller: Allowed.loyalty_read, rule_id: RowId, db: DbDep):
    return db.read(gifts.get_rule, rule_id)


@router.post("/gift-rules/{rule_id}/activate", response_model=ChainRuleOut)
def activate(_caller: Allowed.loyalty_write, rule_id: RowId, db: DbDep):
    return db.write(gifts.set_rule_active, rule_id, True, scope=COALITION)


@router.post("/gift-rules/{rule_id}/deactivate", response_model=ChainRuleOut)
def deactivate(_caller: Allowed.loyalty_write, rule_id: RowId, db: DbDep):
    return db.write(gifts.set_rule_active, rule_id, False, scope=COALITION)


@router.get("/sites/{site_id}/gift-settings", response_model=SiteGiftSettingsOut)
def get_site_settings(_caller: Allowed.loyalty_read, site_id: str, db: DbDep):
    return db.read(gifts.get_site_settings, site_id)


@router.put("/sites/{site_id}/gift-settings", response_model=SiteGiftSettingsOut)
def set_site_settings(_caller: Allowed.loyalty_write, site_id: str, settings: SiteGiftSettingsIn, db: DbDep):
    """What the site's exit resets (seed 004: "at the exit from the water park, they are reset")."""
    return db.write(gifts.set_site_settings, site_id, settings.model_dump(), scope=Scope(site=site_id))
