"""The hub's health (/api/v1/health): its version and the MQTT bridge's state."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub import __version__
from hub.api.deps import BridgeDep

router = APIRouter(tags=["hub"])


class HealthOut(BaseModel):
    version: str
    mqtt_connected: bool | None = Field(description="None: this API runs without a bridge")
    stats: dict[str, int] = Field(description="the bridge's counters since start")


@router.get("/health", response_model=HealthOut)
async def health(bridge: BridgeDep):
    stats = dict(bridge.stats) if bridge else {}
    connected = bridge.connected.is_set() if bridge else None
    return {"version": __version__, "mqtt_connected": connected, "stats": stats}
