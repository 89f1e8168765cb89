"""Controllers (/api/v1/devices): register one (its secret key is shown once), change its
price or name, list them. Commands and health telemetry are in device_commands.py, a device's
part in the loyalty engine in device_loyalty.py."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from hub.api.deps import Currency, DbDep, DirectoryDep
from hub.api.fields import MAX_AMOUNT
from hub.devices import registry
from hub.devices.registry import DEVICES

router = APIRouter(tags=["devices"])


class DeviceIn(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$", description="not a name the hub keys its bookings by")
    site: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    unit_price: int = Field(gt=0, le=MAX_AMOUNT, strict=True)
    name: str = Field("", max_length=100)
    kind: str = Field("dispenser", pattern=r"^[a-z_]{1,20}$")


class DeviceChange(BaseModel):
    unit_price: int | None = Field(
        None, gt=0, le=MAX_AMOUNT, strict=True, description="minor units per unit, from the next tap on"
    )
    name: str | None = Field(None, max_length=100)


class DeviceOut(BaseModel):
    id: str
    site: str
    name: str
    kind: str
    unit_price: int


class DeviceCreated(DeviceOut):
    key: str = Field(description="the device's secret HMAC key (hex); shown only here")


def _add(conn: Connection, device: DeviceIn, currency: str) -> dict:
    key = registry.add_device(
        conn, device.id, device.site, device.unit_price, currency, device.name, device.kind
    )
    return {**device.model_dump(), "name": device.name or device.id, "key": key}


def _all(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(DEVICES).order_by(DEVICES.c.id)).mappings()]


@router.post("/devices", response_model=DeviceCreated, status_code=201)
def register_device(device: DeviceIn, db: DbDep, currency: Currency, directory: DirectoryDep):
    """Register a controller; the answer carries its secret key for provisioning. Two requests
    for one new id at once: one is registered, the other answers 409 (retried after the race)."""
    created = db.write(_add, device, currency, retry=True)
    if directory is not None:
        directory.forget(device.id)
    return created


@router.patch("/devices/{device_id}", response_model=DeviceOut)
def change_device(device_id: str, change: DeviceChange, db: DbDep, directory: DirectoryDep):
    """Change a controller's price (or name). Taps already granted keep their price; this
    hub applies the new one from the next tap, other hub processes within 30 s."""
    changed = db.write(registry.change_device, device_id, change.unit_price, change.name)
    if directory is not None:
        directory.forget(device_id)
    return changed


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(db: DbDep):
    return db.read(_all)
