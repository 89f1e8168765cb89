"""REST routes (/api/v1) for a controller's part in the loyalty engine (hub/machine_loyalty.py)."""
from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub.api.fields import Slug
from hub.api.runner import runner
from hub.taps import device_loyalty as machine_loyalty



class MachineLoyaltyIn(BaseModel):
    outlet_id: Slug = Field(description="the outlet the machine sells for: the store of the bonus "
                                        "rules, where its activities count")
    article_id: Slug = Field(description="the catalogue article one unit of a tap is: card discounts "
                                         "and bonus rules (order-in channel \"machine\") select it")
    gift_item: Slug | None = Field(None, description="a gift the machine hands out instead of "
                                                     "charging, to a card holding one")


class MachineLoyaltyOut(MachineLoyaltyIn):
    device_id: str
    updated_at: dt.datetime


def router(engine: Engine) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["devices"])
    # forget() after the commit: the next batch reads the change.
    run = runner(engine, after_write=machine_loyalty.forget)

    @api.put("/devices/{device_id}/loyalty", response_model=MachineLoyaltyOut)
    def set_loyalty(device_id: str, body: MachineLoyaltyIn):
        """Make the device's taps go through the loyalty engine: priced with the card's discount
        for the article, earning points on what was delivered and activities at the outlet, and —
        with a gift item — handing out a gift the card holds instead of charging."""
        return run(machine_loyalty.set_settings, device_id, body.outlet_id, body.article_id,
                   body.gift_item)

    @api.get("/devices/{device_id}/loyalty", response_model=MachineLoyaltyOut)
    def get_loyalty(device_id: str):
        return run(machine_loyalty.get_settings, device_id, write=False)

    @api.delete("/devices/{device_id}/loyalty", status_code=204, response_class=Response)
    def clear_loyalty(device_id: str):
        """Take the device out of the loyalty engine: its taps are charged its unit price only."""
        run(machine_loyalty.clear_settings, device_id)
        return Response(status_code=204)

    return api
