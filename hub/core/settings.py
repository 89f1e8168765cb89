"""Hub settings: command-line options override TAPGIFT_* environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAPGIFT_")

    db: str = "sqlite:///data/tapgift.db"
    mqtt: str = "mqtt://127.0.0.1:1883"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    currency: str = "CHF"
    # Group commit: requests arriving while a batch commits join the next one.
    batch_max: int = 512
    # A tap's hold that is never reported is voided after this many seconds.
    hold_ttl_s: int = 600
    sweep_interval_s: float = 5.0
    # "$share/<group>/..." lets several hub processes split the device traffic.
    share_group: str = ""
    client_id: str = "tapgift-hub"
