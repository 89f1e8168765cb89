"""One router module per resource; `api_router` mounts them all under /api/v1.

Each module has a module-level `router` (no prefix) and its request/response models; the field
types they share are in hub/api/fields.py, the dependencies (database work, currency, bridge,
device directory, booking clock) in hub/api/deps.py. A new resource: a module here, listed
below."""

from __future__ import annotations

from fastapi import APIRouter

from hub.api.errors import RESPONSES
from hub.api.routers import (
    api_keys,
    audit_log,
    auth,
    baskets,
    card_gifts,
    card_kinds,
    cards,
    catalogue,
    debit_cards,
    device_commands,
    device_loyalty,
    device_refusals,
    devices,
    discounts,
    firmware,
    gift_items,
    gift_reports,
    gift_rules,
    health,
    ledgers,
    offline_overspends,
    outlets,
    point_rules,
    points,
    reports,
    settlement,
    sun,
    topup_tiers,
    users,
    vouchers,
)

api_router = APIRouter(prefix="/api/v1", responses=RESPONSES)
for module in (
    # first the tills' routes: a request is matched against the routers in this order, each
    # router's paths one by one (no path of one router is also another's)
    baskets,
    # cards and wallets
    cards,
    card_kinds,
    debit_cards,
    topup_tiers,
    sun,
    # controllers
    devices,
    device_commands,
    device_loyalty,
    device_refusals,
    offline_overspends,
    firmware,
    # loyalty: outlets, catalogue, discounts, bonus points, baskets
    outlets,
    catalogue,
    discounts,
    point_rules,
    points,
    # gifts and their settlement
    gift_items,
    gift_rules,
    card_gifts,
    gift_reports,
    settlement,
    # reports: per outlet, till, machine; e-mailed schedules
    reports,
    # vouchers (seed 001)
    vouchers,
    # who may do what, and what they did
    auth,
    users,
    api_keys,
    audit_log,
    # the books and the hub
    ledgers,
    health,
):
    api_router.include_router(module.router)
