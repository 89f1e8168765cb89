"""Controllers (/api/v1/devices): register one (its secret key is shown once), change its
price or name, list them. Commands and health telemetry are in device_commands.py, a device's
part in the loyalty engine in device_loyalty.py."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.from_thread
from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Connection

from hub.access.callers import visible_devices
from hub.api.auth import Allowed
from hub.api.deps import Currency, DbDep, DirectoryDep, Scope
from hub.api.errors import Message
from hub.api.fields import MAX_AMOUNT
from hub.devices import management, registry
from hub.devices.admission import Admission, BrokerUnavailable

router = APIRouter(tags=["devices"])


class DeviceIn(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$", description="not a name the hub keys its bookings by")
    site: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    unit_price: int = Field(
        ge=0, le=MAX_AMOUNT, strict=True, description="minor units per unit; 0 only for a turnstile"
    )
    name: str = Field("", max_length=100)
    kind: str = Field("dispenser", pattern=r"^[a-z_]{1,20}$")


class DeviceChange(BaseModel):
    unit_price: int | None = Field(
        None,
        ge=0,
        le=MAX_AMOUNT,
        strict=True,
        description="minor units per unit, from the next tap on; 0 only for a turnstile",
    )
    name: str | None = Field(None, max_length=100)


class DeviceOut(BaseModel):
    id: str
    site: str
    name: str
    kind: str
    unit_price: int


class DeviceListed(DeviceOut):
    state: Literal["online", "offline"] | None = Field(
        description="what the controller last said on its status topic (its will says offline when "
        "its connection drops), as whichever hub heard it stored it; null: nothing heard yet"
    )
    state_changed_at: AwareDatetime | None = Field(description="when a hub heard that state")


class DeviceCreated(DeviceOut):
    key: str = Field(description="the device's secret HMAC key (hex); shown only here")


def _add(conn: Connection, device: DeviceIn, currency: str) -> dict:
    key = registry.add_device(
        conn, device.id, device.site, device.unit_price, currency, device.name, device.kind
    )
    return {**device.model_dump(), "name": device.name or device.id, "key": key}


async def _admission(request: Request) -> Admission:
    """The hub's broker admission (hub.service); one that does nothing without MQTT."""
    return getattr(request.app.state, "admission", None) or Admission()


AdmissionDep = Annotated[Admission, Depends(_admission)]
BROKER_DOWN = {503: {"model": Message, "description": "The broker did not admit the device (yet)"}}


@router.post("/devices", response_model=DeviceCreated, status_code=201, responses=BROKER_DOWN)
def register_device(
    _caller: Allowed.devices_write,
    device: DeviceIn,
    db: DbDep,
    currency: Currency,
    directory: DirectoryDep,
    admission: AdmissionDep,
):
    """Register a controller; the answer carries its secret key for provisioning. Two requests
    for one new id at once: one is registered, the other answers 409 (retried after the race).
    With a broker the hub administers, the device can log in with its credentials when this
    answers (503 if the broker did not admit it: POST .../rotate then admits it anew)."""
    created = db.write(_add, device, currency, retry=True, scope=Scope(site=device.site))
    if directory is not None:
        directory.forget(device.id)
    if admission.enabled:
        try:
            anyio.from_thread.run(admission.admit, device.id, device.site, created["key"])
        except BrokerUnavailable as exc:
            raise BrokerUnavailable(
                f"device {device.id} is registered, but not admitted at the broker ({exc}); "
                f"POST /api/v1/devices/{device.id}/rotate admits it with a new key"
            ) from None
    return created


@router.post("/devices/{device_id}/rotate", response_model=DeviceCreated, responses=BROKER_DOWN)
def rotate_device_key(
    _caller: Allowed.devices_write,
    device_id: str,
    db: DbDep,
    directory: DirectoryDep,
    admission: AdmissionDep,
):
    """A new secret key for a controller, shown only here, and the broker password it gives:
    the old key signs nothing the hub accepts from now on and, with a broker the hub
    administers, the old password no longer logs in and the device's connection is dropped.
    Provision the board with the new key. 503: the key is changed, the broker's password not
    (yet): call again."""
    row = db.write(registry.rotate_key, device_id, scope=Scope(device=device_id))
    if directory is not None:
        directory.forget(device_id)
    if admission.enabled:
        anyio.from_thread.run(admission.set_password, device_id, row["site"], row["key_hex"])
    return {**row, "key": row["key_hex"]}


@router.patch("/devices/{device_id}", response_model=DeviceOut)
def change_device(
    _caller: Allowed.devices_write, device_id: str, change: DeviceChange, db: DbDep, directory: DirectoryDep
):
    """Change a controller's price (or name). Taps already granted keep their price; this
    hub applies the new one from the next tap, other hub processes within 30 s."""
    changed = db.write(
        registry.change_device,
        device_id,
        change.unit_price,
        change.name,
        before=lambda conn: registry.device_row(conn, device_id),
        scope=Scope(device=device_id),
    )
    if directory is not None:
        directory.forget(device_id)
    return changed


def _listed(conn: Connection, caller) -> list[dict]:
    devices = visible_devices(conn, caller)
    states = management.device_states(conn, [d["id"] for d in devices])
    none = {"state": None, "changed_at": None}
    return [
        {**d, "state": (st := states.get(d["id"], none))["state"], "state_changed_at": st["changed_at"]}
        for d in devices
    ]


@router.get("/devices", response_model=list[DeviceListed])
def list_devices(caller: Allowed.devices_read, db: DbDep):
    """Every controller with its online state; a caller bound to a site sees its site's, to an
    outlet the machines selling for it."""
    return db.read(_listed, caller)
