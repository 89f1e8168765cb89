"""Tables. Money and points are integers in minor units; times are aware UTC."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database: SQLite keeps no zone, so times
    are stored as UTC and read back with it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def _money(**kw):
    return Field(default=0, sa_column=Column(BigInteger, nullable=False, **kw))


def _when():
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Account(SQLModel, table=True):
    """One account on one ledger (asset). A wallet never goes below minus its credit
    limit (0 but for a debit card's wallet, which is paid later)."""

    __tablename__ = "accounts"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True)
    kind: str  # wallet, machine, cash
    name: str
    allow_negative: bool = False
    credit_limit: int = _money()
    debits_posted: int = _money()
    credits_posted: int = _money()
    debits_pending: int = _money()
    credits_pending: int = _money()
    created_at: datetime = _when()


class Transfer(SQLModel, table=True):
    """An immutable double-entry movement. Corrections are new transfers."""

    __tablename__ = "transfers"
    id: str = Field(primary_key=True)
    idempotency_key: str = Field(unique=True)
    ledger: str
    debit_account_id: int = Field(foreign_key="accounts.id", index=True)
    credit_account_id: int = Field(foreign_key="accounts.id", index=True)
    amount: int = _money()
    # posted: final; pending: a hold; post/void: resolves the pending transfer pending_id
    flags: str = "posted"
    pending_id: str | None = Field(default=None, index=True)
    code: str
    reason: str
    created_at: datetime = _when()


class Hold(SQLModel, table=True):
    """State of a tap's pending transfer; it is resolved (posted/voided/expired) once."""

    __tablename__ = "holds"
    id: str = Field(primary_key=True)  # the pending transfer's id
    device_id: str = Field(index=True)
    request_id: str
    card_uid: str
    wallet_account_id: int
    machine_account_id: int
    units: int
    unit_price: int = _money()
    amount: int = _money()
    status: str = Field(default="pending", index=True)  # pending, posted, voided, expired
    posted: int = _money()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Card(SQLModel, table=True):
    """A credential: an RFID card/wristband or a digital card (a QR code). account_id is
    the wallet a tap with it debits; a linked RFID card shares its digital card's wallet."""

    __tablename__ = "cards"
    uid: str = Field(primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    status: str = "active"  # active, blocked
    label: str = ""
    medium: str = "rfid"  # rfid, digital
    kind: str = "value"  # value (stored balance), debit (paid later), employee
    holder_name: str = ""  # empty: an anonymous card
    holder_email: str = ""
    linked_to: str | None = Field(default=None, index=True)  # the digital card whose wallet it uses
    created_at: datetime = _when()


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    id: str = Field(primary_key=True)
    site: str
    name: str = ""
    kind: str = "dispenser"
    key_hex: str
    unit_price: int = _money()
    account_id: int = Field(foreign_key="accounts.id")
    created_at: datetime = _when()


class DeviceRequest(SQLModel, table=True):
    """The answer given to each device request id, so a repeat gets the same answer."""

    __tablename__ = "device_requests"
    __table_args__ = (UniqueConstraint("device_id", "request_id"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str
    request_id: str
    reply: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _when()


class DeviceHealth(SQLModel, table=True):
    """The latest health telemetry (up/health) of each controller."""

    __tablename__ = "device_health"
    device_id: str = Field(primary_key=True)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    uptime_seconds: int = Field(sa_column=Column(BigInteger, nullable=False))
    free_heap_bytes: int | None = None  # None: the platform cannot tell
    rssi: int | None = None  # dBm; None: not on Wi-Fi
    reconnects: int
    reader_resets: int
    journal_depth: int  # delivery reports waiting on the device's flash
    fw: str


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
    created_at: datetime = _when()
    acked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class DeviceDeny(SQLModel, table=True):
    """The cards each controller has been told to refuse (its cached deny list)."""

    __tablename__ = "device_deny"
    device_id: str = Field(primary_key=True)
    card_uid: str = Field(primary_key=True)
