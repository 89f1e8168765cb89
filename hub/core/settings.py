"""Hub settings: command-line options override TAPGIFT_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAPGIFT_")

    db: str = "sqlite:///data/tapgift.db"
    mqtt: str = "mqtt://127.0.0.1:1883"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    currency: str = "CHF"
    # Group commit: requests arriving while a batch commits join the next one; a small batch
    # waits this long for more (hub/mqtt/bridge.py: fewer commits, each answer that much later).
    batch_max: int = 512
    batch_window_ms: float = Field(1.0, ge=0, le=100, allow_inf_nan=False)
    # A tap's hold that is never reported is voided after this many seconds.
    hold_ttl_s: int = 600
    sweep_interval_s: float = 5.0
    # "$share/<group>/..." lets several hub processes split the device traffic.
    share_group: str = ""
    client_id: str = "tapgift-hub"
    # mqtts:// brokers: the CA that signed the broker's certificate (None: the system's CAs).
    mqtt_ca: str | None = None
    # What one cashier or kiosk (operator or API key) may book per day, and a cashier's largest
    # refund without a manager; minor units.
    topup_ceiling_per_day: int | None = 2_000_000
    refund_ceiling_per_day: int | None = 500_000
    cashier_refund_limit: int = 10_000
    # The hub's MQTT user administers Mosquitto's dynamic security plugin: registering a
    # device admits it at the broker, rotating its key sets its broker password
    # (hub/devices/admission.py). Off: the broker's users are managed apart.
    dynsec: bool = False
    # Vouchers (hub/vouchers): the secret their codes are signed with ("": one is made and stored
    # in the database on first use); the mail server vouchers are e-mailed through,
    # smtp://[user:password@]host[:port] or smtps://… ("": no e-mail), and the sender.
    voucher_secret: str = ""
    smtp: str = ""
    mail_from: str = "tapgift@localhost"
