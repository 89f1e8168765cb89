"""Firmware updates over the air (/api/v1/firmware/...): bundles published, rollouts to chosen
groups of controllers, and each controller's update (hub.devices.firmware_updates; the
controller's side and the reasons: docs/technicians.md, "Updates over the air")."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, AuditedDb, BridgeDep, DbDep, EngineDep, Scope
from hub.api.fields import Flag
from hub.core.errors import Invalid
from hub.devices import firmware_updates

router = APIRouter(tags=["firmware"])

Version = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_.-]+$")]


class BundleIn(BaseModel):
    version: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_.-]+$")
    files: dict[str, str] = Field(
        min_length=1,
        max_length=firmware_updates.MAX_FILES,
        description='path -> base64 of the file, e.g. {"firmware/app.mpy": "TQYA..."}: the lib/ '
        "folder of `tapgift fw build` (`tapgift fw publish` sends it for you)",
    )


class BundleOut(BaseModel):
    version: str
    manifest_sha256: str
    files: int
    size: int = Field(description="bytes of all its files")
    published_by: str
    published_at: dt.datetime


class FileOut(BaseModel):
    path: str
    size: int
    sha256: str


class BundleDetail(BundleOut):
    file_list: list[FileOut]


class RolloutIn(BaseModel):
    version: str = Field(min_length=1, max_length=16)
    devices: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        None, min_length=1, max_length=1000, description="these devices (or site and/or percent)"
    )
    site: str | None = Field(None, min_length=1, max_length=40, description="the devices of one site")
    percent: int | None = Field(
        None,
        ge=1,
        le=100,
        description="a share of them (of the site's, or of every device), in a stable order: "
        "10, then 50, then 100 grow one group",
    )
    force: Flag = Field(False, description="go on although devices rolled the version back or refused it")


class UpdateOut(BaseModel):
    device_id: str
    version: str
    rollout_id: int
    seq: int = Field(description="the offer's command seq (GET /devices/{id}/commands)")
    state: str = Field(description="offered, staged, failed, confirmed or rolled_back")
    reason: str | None = Field(None, description="why it failed or was rolled back")
    running: str | None = Field(None, description="the version the device last reported in its health")
    offered_at: dt.datetime
    ended_at: dt.datetime | None


class RolloutOut(BaseModel):
    id: int
    version: str
    target: str
    created_by: str
    created_at: dt.datetime
    counts: dict[str, int] = Field(description="devices per state")
    devices: list[UpdateOut]


def _decode(files: dict[str, str]) -> dict[str, bytes]:
    out = {}
    for path, data in files.items():
        try:
            out[path] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as err:
            raise Invalid(f"{path}: not base64") from err
    return out


@router.post("/firmware/bundles", response_model=BundleOut, status_code=201)
def publish_bundle(_caller: Allowed.firmware_publish, bundle: BundleIn, db: DbDep, request: Request):
    """Publish a version. The same version with the same files again changes nothing; with
    other files it is a 409. Files go under firmware/ or protocol/ (firmware/app among them)."""
    files = _decode(bundle.files)
    # The audit log keeps each file's hash, not the file.
    digests = {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    audited = AuditedDb(db.db, request, {"version": bundle.version, "files": digests})
    return audited.write(firmware_updates.publish, bundle.version, files, _caller.name, scope=COALITION)


@router.get("/firmware/bundles", response_model=list[BundleOut])
def bundles(_caller: Allowed.devices_read, db: DbDep):
    return db.read(firmware_updates.list_bundles)


@router.get("/firmware/bundles/{version}", response_model=BundleDetail)
def bundle(_caller: Allowed.devices_read, version: Version, db: DbDep):
    return db.read(firmware_updates.get_bundle, version)


@router.post("/firmware/rollouts", response_model=RolloutOut, status_code=202)
async def roll_out(
    _caller: Allowed.firmware_publish, rollout: RolloutIn, bridge: BridgeDep, engine: EngineDep, db: DbDep
):
    """Offer a version to a group of devices: listed ones, or a share of a site's or of all.
    Each device fetches it, checks it, restarts into it and keeps it once it has reached the
    hub; one that does not goes back by itself (GET /firmware/rollouts/{id} shows each one).
    A version that a device rolled back or refused goes to no further group without force
    (409)."""
    await anyio.to_thread.run_sync(lambda: db.read(lambda conn: None, scope=COALITION))
    status = await firmware_updates.roll_out(
        bridge,
        engine,
        rollout.version,
        devices=rollout.devices,
        site=rollout.site,
        percent=rollout.percent,
        force=rollout.force,
        by=_caller.name,
    )
    await anyio.to_thread.run_sync(lambda: db.write(lambda conn: {"rollout": status["id"]}, scope=COALITION))
    return status


@router.get("/firmware/rollouts", response_model=list[RolloutOut])
def rollouts(
    _caller: Allowed.devices_read, db: DbDep, version: Annotated[str | None, Query(max_length=16)] = None
):
    """Newest first (the last 100)."""
    return db.read(firmware_updates.list_rollouts, version, scope=COALITION)


@router.get("/firmware/rollouts/{rollout_id}", response_model=RolloutOut)
def rollout(_caller: Allowed.devices_read, rollout_id: Annotated[int, Path(ge=1, le=2**31 - 1)], db: DbDep):
    return db.read(firmware_updates.rollout_view, rollout_id, scope=COALITION)


@router.get("/devices/{device_id}/firmware", response_model=list[UpdateOut])
def device_updates(_caller: Allowed.devices_read, device_id: str, db: DbDep):
    """The device's updates, each version offered to it."""
    return db.read(
        lambda conn: firmware_updates.updates(conn, device_id=device_id), scope=Scope(device=device_id)
    )
