"""Remote management of controllers (/api/v1/devices/...): commands and their acks, the
deny-list sync and the latest health telemetry (hub.devices.management)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import anyio.to_thread
from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from hub.api.auth import Allowed
from hub.api.deps import BridgeDep, DbDep, EngineDep, Scope
from hub.api.fields import Flag
from hub.core.errors import NotFound
from hub.devices import management

router = APIRouter(tags=["devices"])


class CommandIn(BaseModel):
    k: Literal["config", "deny", "reboot", "network"]
    set: dict[str, int | str | dict[str, str]] | None = Field(
        None,
        description='config: profile fields to change, e.g. {"pulse_ms": 80}; network: any of '
        '{"wifi": {"ssid": ..., "password": ...}, "broker": "mqtts://host:port", "ca": PEM}, tried '
        "after a restart, the old settings restored if they do not reach the broker",
    )
    add: list[str] = Field([], description="deny: cards to refuse on the device")
    remove: list[str] = Field([], description="deny: cards to take off its list")
    clear: Flag = Field(False, description="deny: start the list afresh (then add)")

    def body(self) -> dict:
        if self.k in ("config", "network"):
            return {"k": self.k, "set": self.set or {}}
        if self.k == "deny":
            body = {
                "k": "deny",
                "add": [c.upper() for c in self.add],
                "remove": [c.upper() for c in self.remove],
            }
            return {**body, "clear": True} if self.clear else body
        return {"k": "reboot"}


class CommandSent(BaseModel):
    seq: int
    status: str = "pending"


class DenySyncOut(BaseModel):
    sent: dict[str, list[int]] = Field(description="device id -> seqs of the deny commands sent")


class CommandOut(BaseModel):
    seq: int
    kind: str
    body: dict
    status: str = Field(description="pending (no ack yet), applied or refused")
    code: str | None
    detail: str | None
    created_at: datetime
    acked_at: datetime | None


class DeviceHealthOut(BaseModel):
    device_id: str
    received_at: datetime
    uptime_seconds: int
    free_heap_bytes: int | None = Field(None, description="MicroPython's free heap (gc.mem_free)")
    heap_alloc_bytes: int | None = Field(None, description="MicroPython's heap in use (gc.mem_alloc)")
    reset_cause: str | None = Field(
        None, description="why the board last started: power_on, hard, watchdog, deep_sleep, soft, unknown"
    )
    last_traceback: str | None = Field(
        None, description="the end of the traceback that last killed the app or kept it from starting"
    )
    rssi: int | None
    reconnects: int
    reader_resets: int
    journal_depth: int
    fw: str


@router.post("/devices/{device_id}/commands", response_model=CommandSent, status_code=202)
async def send_command(
    _caller: Allowed.devices_write,
    device_id: str,
    command: CommandIn,
    bridge: BridgeDep,
    engine: EngineDep,
    db: DbDep,
):
    """Send a command; the device acks it (see GET .../commands). One that cannot be
    delivered now is sent again when the device comes online. An unknown device: 404; a
    command the device would refuse (protocol.manage): 422."""
    await anyio.to_thread.run_sync(lambda: db.read(lambda conn: None, scope=Scope(device=device_id)))
    # management.send stores the command in its own committed transaction, then publishes it;
    # the audit entry follows in a transaction of its own.
    seq = await management.send(bridge, engine, device_id, command.body())
    await anyio.to_thread.run_sync(lambda: db.write(lambda conn: {"seq": seq}))
    return {"seq": seq}


@router.get("/devices/{device_id}/commands", response_model=list[CommandOut])
def device_commands(_caller: Allowed.devices_read, device_id: str, db: DbDep, limit: int = 100):
    return db.read(
        management.list_commands, device_id, min(max(limit, 1), 1000), scope=Scope(device=device_id)
    )


def _health(conn: Connection, device_id: str) -> dict:
    health = management.latest_health(conn, device_id)
    if health is None:
        raise NotFound(f"no health from device {device_id} yet")
    return health


@router.get("/devices/{device_id}/health", response_model=DeviceHealthOut)
def device_health(_caller: Allowed.devices_read, device_id: str, db: DbDep):
    """The device's latest health telemetry."""
    return db.read(_health, device_id, scope=Scope(device=device_id))


@router.post("/devices/deny-sync", response_model=DenySyncOut)
async def deny_sync(_caller: Allowed.devices_write, bridge: BridgeDep, engine: EngineDep):
    """Bring every device's cached deny list in line with the blocked cards. Blocking,
    unblocking or replacing a card through this API does it by itself; call it after
    changing cards some other way."""
    return {"sent": await management.sync_deny(bridge, engine)}
