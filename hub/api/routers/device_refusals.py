"""Refused device messages (/api/v1/device-refusals): what the hub would not accept over MQTT —
a forged or wrongly keyed signature, a malformed body, an unknown device — counted per device
and reason, with the last one's detail and when it came."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import DbDep
from hub.devices import refusals

router = APIRouter(tags=["devices"])


class RefusalOut(BaseModel):
    site: str
    device_id: str = Field(description='as the message\'s topic named it ("?": no device)')
    reason: str = Field(description="the protocol's error code, e.g. bad_signature, unknown_device")
    count: int
    detail: str = Field(description="the last refused message's detail")
    first_at: dt.datetime
    last_at: dt.datetime


@router.get("/device-refusals", response_model=list[RefusalOut])
def device_refusals(
    _caller: Allowed.devices_read,
    db: DbDep,
    device_id: Annotated[str | None, Query(max_length=40)] = None,
    site: Annotated[str | None, Query(max_length=40)] = None,
):
    """Newest first. Counts reach here within a few seconds of the refusal (the bridge adds
    them in batches). Reason id_reused: a known request id came with another request (a
    replaced board, an erased flash, a forgery with the device's key), refused and booked
    nothing."""
    return db.read(refusals.listing, device_id, site)
