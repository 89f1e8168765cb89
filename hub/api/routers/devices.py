"""REST routes for the remote management of controllers (/api/v1): commands,
deny-list sync and the latest health telemetry (hub/commands.py); what they
booked offline and could not be paid (hub/offline.py); and the SUN keys of
NTAG 424 DNA cards that taps are checked against (hub/sun.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub.api.runner import runner
from hub.core.engine import reader
from hub.devices import management as commands
from hub.taps import offline_vends as offline
from hub.taps import sun
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


Uid = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8,20}$")]
AesKey = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{32}$", description="AES-128 key, 32 hex digits")]


class SunIn(BaseModel):
    """The card's SDM keys (write-only: never read back)."""
    file_read_key: AesKey = Field(description="SDMFileRead key: keys the SUN message's MAC")
    meta_read_key: AesKey | None = Field(
        None, description="SDMMetaRead key: decrypts the PICC data; omit for a card "
                          "that mirrors UID and counter in plain")
    last_counter: int | None = Field(
        None, ge=0, le=0xFFFFFF, strict=True,
        description="read counter already used up (a message must be above it); omitted: "
                    "a new registration accepts any, a re-keyed card keeps its last")


class SunOut(BaseModel):
    uid: str
    encrypted_picc_data: bool = Field(description="true when a meta-read key is registered")
    last_counter: int | None = Field(description="the last read counter accepted")
    registered_at: datetime
    last_seen_at: datetime | None


class OverspendOut(BaseModel):
    device_id: str
    event_id: str = Field(description="the request id the device took for the offline vend")
    site: str
    card_uid: str
    units: int
    unit_price: int
    amount: int = Field(description="delivered x unit price, minor units")
    posted: int = Field(description="paid from the card's wallet")
    short: int = Field(description="booked against the site's offline-loss account")
    overspend: str = Field(description="insufficient_funds, blocked_card or unknown_card")
    vended_at: datetime | None = Field(description="when it was vended, as the device tells")
    booked_at: datetime


def router(engine: Engine, bridge=None) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["devices"])
    read = reader(engine)
    run = runner(engine)

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

    @api.post("/devices/deny-sync", response_model=DenySyncOut)
    async def deny_sync():
        """Bring every device's cached deny list in line with the blocked cards. Blocking,
        unblocking or replacing a card through this API does it by itself; call it after
        changing cards some other way."""
        return {"sent": await commands.sync_deny(bridge, engine)}

    @api.get("/offline-overspends", response_model=list[OverspendOut])
    def offline_overspends(site: str | None = None, limit: int = 100):
        """Offline vends the card's wallet could not (fully) pay, newest first: the
        shortfall is booked against the site's offline-loss account."""
        with read.connect() as conn:
            return offline.overspends(conn, site, min(max(limit, 1), 1000))

    @api.put("/cards/{uid}/sun", response_model=SunOut, tags=["cards"])
    def register_sun(uid: Uid, keys: SunIn):
        """Register an NTAG 424 DNA card's SDM keys: from now on a tap with it needs a SUN
        message that verifies and is fresher than the last one accepted (clones are
        refused with bad_sun). Registering again re-keys the card."""
        return run(sun.register, uid, keys.file_read_key, keys.meta_read_key, keys.last_counter)

    @api.get("/cards/{uid}/sun", response_model=SunOut, tags=["cards"])
    def sun_registration(uid: Uid):
        return run(sun.view, uid, write=False)

    @api.delete("/cards/{uid}/sun", status_code=204, tags=["cards"])
    def unregister_sun(uid: Uid):
        """The card works on its UID alone again."""
        run(sun.unregister, uid)

    return api

