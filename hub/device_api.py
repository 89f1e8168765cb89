"""REST routes for the remote management of controllers (/api/v1): commands,
deny-list sync and the latest health telemetry. See hub/commands.py."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub import commands
from hub.db import reader
from protocol import ProtocolError



class CommandIn(BaseModel):
    k: Literal["config", "deny", "reboot"]
    set: dict[str, int | str] | None = Field(
        None, description="config: profile fields to change, e.g. {\"pulse_ms\": 80}")
    add: list[str] = Field([], description="deny: cards to refuse on the device")
    remove: list[str] = Field([], description="deny: cards to take off its list")
    clear: bool = Field(False, description="deny: start the list afresh (then add)")

    def body(self) -> dict:
        if self.k == "config":
            return {"k": "config", "set": self.set or {}}
        if self.k == "deny":
            body = {"k": "deny", "add": [c.upper() for c in self.add],
                    "remove": [c.upper() for c in self.remove]}
            return {**body, "clear": True} if self.clear else body
        return {"k": "reboot"}


class CommandSent(BaseModel):
    seq: int
    status: str = "pending"


class CommandOut(BaseModel):
    seq: int
    kind: str
    body: dict
    status: str = Field(description="pending (no ack yet), applied or refused")
    code: str | None
    detail: str | None
    created_at: datetime
    acked_at: datetime | None


class HealthOut(BaseModel):
    device_id: str
    received_at: datetime
    uptime_seconds: int
    free_heap_bytes: int | None
    rssi: int | None
    reconnects: int
    reader_resets: int
    journal_depth: int
    fw: str


def router(engine: Engine, bridge=None) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["devices"])
    read = reader(engine)

    @api.post("/devices/{device_id}/commands", response_model=CommandSent, status_code=202)
    async def send_command(device_id: str, command: CommandIn):
        """Send a command; the device acks it (see GET .../commands). One that cannot be
        delivered now is sent again when the device comes online."""
        try:
            seq = await commands.send(bridge, engine, device_id, command.body())
        except commands.UnknownDevice:
            raise HTTPException(404, f"no device {device_id}")
        except ProtocolError as exc:
            raise HTTPException(422, str(exc))
        return {"seq": seq}

    @api.get("/devices/{device_id}/commands", response_model=list[CommandOut])
    def device_commands(device_id: str, limit: int = 100):
        with read.connect() as conn:
            return commands.list_commands(conn, device_id, min(max(limit, 1), 1000))

    @api.get("/devices/{device_id}/health", response_model=HealthOut)
    def device_health(device_id: str):
        """The device's latest health telemetry."""
        with read.connect() as conn:
            health = commands.latest_health(conn, device_id)
        if health is None:
            raise HTTPException(404, f"no health from device {device_id} yet")
        return health

    @api.post("/devices/deny-sync")
    async def deny_sync():
        """Bring every device's cached deny list in line with the blocked cards: call it
        after blocking or unblocking cards. Returns {device id: seqs of the commands sent}."""
        return {"sent": await commands.sync_deny(bridge, engine)}

    return api
