"""Controllers (devices) and their remote management: health telemetry, commands, deny lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from hub.tables.types import UTCDateTime, created, money


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    id: str = Field(primary_key=True)
    site: str
    name: str = ""
    kind: str = "dispenser"
    key_hex: str
    unit_price: int = money()
    account_id: int = Field(foreign_key="accounts.id")
    created_at: datetime = created()


class DeviceHealth(SQLModel, table=True):
    """The latest health telemetry (up/health) of each controller."""

    __tablename__ = "device_health"
    device_id: str = Field(primary_key=True)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    uptime_seconds: int = Field(sa_column=Column(BigInteger, nullable=False))
    free_heap_bytes: int | None = None  # MicroPython's gc.mem_free(); None: the platform cannot tell
    heap_alloc_bytes: int | None = None  # gc.mem_alloc()
    reset_cause: str | None = None  # power_on, hard, watchdog, deep_sleep, soft, unknown
    last_traceback: str | None = None  # the end of what last killed the app, or kept it from starting
    rssi: int | None = None  # dBm; None: not on Wi-Fi
    reconnects: int
    reader_resets: int
    journal_depth: int  # delivery reports waiting on the device's flash
    fw: str


class DeviceStatus(SQLModel, table=True):
    """What each controller last said on its status topic: online when it connects, offline when
    it leaves or when its connection drops (its MQTT will, which the broker publishes). Written by
    whichever hub heard it (hub.devices.management.store_reports), so that every hub shows it;
    changed_at is when that hub heard it, and an older one never replaces a newer one."""

    __tablename__ = "device_status"
    device_id: str = Field(primary_key=True)
    state: str  # online, offline
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DeviceCommand(SQLModel, table=True):
    """A command sent to a controller (dn/cmd). seq is strictly increasing per device:
    the device applies only a seq above the last one it applied."""

    __tablename__ = "device_commands"
    device_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str  # config, deny, reboot
    body: str  # the JSON body as sent (with seq)
    status: str = "pending"  # pending (no ack yet), applied, refused
    code: str | None = None  # why it was refused
    detail: str | None = None
    created_at: datetime = created()
    acked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # When a hub last handed it to the broker; None: not yet, or its publish failed. A pending
    # command is sent again to a device whose stored online is newer (management.claim_resends).
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class DeviceDeny(SQLModel, table=True):
    """The cards each controller has been told to refuse (its cached deny list)."""

    __tablename__ = "device_deny"
    device_id: str = Field(primary_key=True)
    card_uid: str = Field(primary_key=True)


class DeviceRefusal(SQLModel, table=True):
    """Messages the hub refused, counted per device (as its topic names it) and reason: a
    forged signature, a wrong key, a malformed body. The bridge counts in memory and adds its
    counts here every few seconds, so a flood costs one row update, not one per message."""

    __tablename__ = "device_refusals"
    site: str = Field(primary_key=True)
    device_id: str = Field(primary_key=True)
    reason: str = Field(primary_key=True)  # the protocol's error code, e.g. bad_signature
    count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    detail: str = ""  # the last one's
    first_at: datetime = created()
    last_at: datetime = created()
