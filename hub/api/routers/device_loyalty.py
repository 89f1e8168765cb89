"""A controller's part in the loyalty engine (/api/v1/devices/{id}/loyalty), hub.taps.device_loyalty."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import DbDep, Scope
from hub.api.fields import Slug
from hub.core.errors import NotFound
from hub.taps import device_loyalty

router = APIRouter(tags=["devices"])


class DeviceLoyaltyIn(BaseModel):
    outlet_id: Slug = Field(
        description="the outlet the machine sells for: the store of the bonus "
        "rules, where its activities count"
    )
    article_id: Slug = Field(
        description="the catalogue article one unit of a tap is: card discounts "
        'and bonus rules (order-in channel "machine") select it'
    )
    gift_item: Slug | None = Field(
        None, description="a gift the machine hands out instead of charging, to a card holding one"
    )


class DeviceLoyaltyOut(DeviceLoyaltyIn):
    device_id: str
    updated_at: dt.datetime


def _current(conn, device_id: str) -> dict | None:
    """The settings a change replaces (None: the device had none), for the audit log."""
    try:
        return device_loyalty.get_settings(conn, device_id)
    except NotFound:
        return None


@router.put("/devices/{device_id}/loyalty", response_model=DeviceLoyaltyOut)
def set_loyalty(_caller: Allowed.devices_write, device_id: str, body: DeviceLoyaltyIn, db: DbDep):
    """Make the device's taps go through the loyalty engine: priced with the card's discount
    for the article, earning points on what was delivered and activities at the outlet, and —
    with a gift item — handing out a gift the card holds instead of charging."""
    try:
        return db.write(
            device_loyalty.set_settings,
            device_id,
            body.outlet_id,
            body.article_id,
            body.gift_item,
            before=lambda conn: _current(conn, device_id),
            scope=Scope(body.outlet_id),
        )
    finally:  # after the commit (or the rollback): the next batch reads the settings anew
        device_loyalty.forget()


@router.get("/devices/{device_id}/loyalty", response_model=DeviceLoyaltyOut)
def get_loyalty(_caller: Allowed.devices_read, device_id: str, db: DbDep):
    return db.read(device_loyalty.get_settings, device_id)


@router.delete("/devices/{device_id}/loyalty", status_code=204, response_class=Response)
def clear_loyalty(_caller: Allowed.devices_write, device_id: str, db: DbDep):
    """Take the device out of the loyalty engine: its taps are charged its unit price only."""
    try:
        db.write(device_loyalty.clear_settings, device_id)
    finally:
        device_loyalty.forget()
    return Response(status_code=204)
