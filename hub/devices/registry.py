"""Controllers known to the hub: their keys, prices and machine accounts."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from hub.core.clock import utcnow
from hub.core.engine import reader
from hub.core.errors import Conflict, Invalid, NotFound
from hub.ledger import create_account
from hub.ledger.requests import NAMESPACES
from hub.tables.devices import Device
from protocol import hub_side, topics
from protocol.signing import Signer

DEVICES = Device.__table__

# The hub's own MQTT user (and client id: brokers bind one to the other). Every
# hub process has a user named so (tapgift-hub, tapgift-hub-2, ...), allowed all
# of tg/#; a device with such an id would get the hub's rights at the broker.
HUB_USER = "tapgift-hub"


def reserved_device_id(device_id: str) -> bool:
    """True for the names kept for the hub's own broker users (any case)."""
    return device_id.lower().startswith(HUB_USER)


def check_new_device_id(conn: Connection, device_id: str) -> None:
    """A new device's id: free, not the hub's broker identity, not a namespace the hub keys its
    own bookings by (a tap is keyed `<device id>/<request id>`: device `topup` tapping request
    `1-5` would book under a till's top-up with Idempotency-Key `1-5`)."""
    if reserved_device_id(device_id):
        raise Conflict(f"device ids starting with {HUB_USER!r} are reserved for the hub")
    if device_id.lower() in NAMESPACES:
        raise Invalid(f"device id {device_id!r} is reserved: the hub keys its own bookings by it")
    if conn.execute(select(DEVICES.c.id).where(DEVICES.c.id == device_id)).first():
        raise Conflict(f"device {device_id} exists")


@dataclass(frozen=True)
class DeviceInfo:
    id: str
    site: str
    kind: str
    unit_price: int
    account_id: int
    signer: Signer


# Kinds whose profile may give something for nothing: a passage (the exit turnstile that
# resets a visit lets a visitor with an empty card out). Every other kind sells, at least
# one minor unit a unit.
FREE_KINDS = ("turnstile",)


def check_price(kind: str, unit_price: int) -> None:
    if unit_price < 0 or (unit_price == 0 and kind not in FREE_KINDS):
        raise Invalid("unit_price must be positive (0 only for a %s)" % " or ".join(FREE_KINDS))


def add_device(
    conn: Connection,
    device_id: str,
    site: str,
    unit_price: int,
    ledger: str,
    name: str = "",
    kind: str = "dispenser",
    key_hex: str | None = None,
) -> str:
    """Register a controller with its own machine account; returns its secret key (hex)."""
    if not topics.valid_id(device_id) or not topics.valid_id(site):
        raise Invalid("device and site ids: letters, digits, '_', '-', '.'; at most 40")
    check_new_device_id(conn, device_id)
    check_price(kind, unit_price)
    key_hex = key_hex or hub_side.new_key_hex()
    account_id = create_account(conn, ledger, "machine", f"machine {site}/{device_id}", allow_negative=True)
    conn.execute(
        DEVICES.insert().values(
            id=device_id,
            site=site,
            name=name or device_id,
            kind=kind,
            key_hex=key_hex,
            unit_price=unit_price,
            account_id=account_id,
            created_at=utcnow(),
        )
    )
    return key_hex


def change_device(
    conn: Connection, device_id: str, unit_price: int | None = None, name: str | None = None
) -> dict:
    """A new price (or name) for a controller. Holds already granted keep the price they
    were granted at; the next tap is priced anew."""
    values = {k: v for k, v in (("unit_price", unit_price), ("name", name)) if v is not None}
    if "unit_price" in values:
        kind = conn.execute(select(DEVICES.c.kind).where(DEVICES.c.id == device_id)).scalar()
        if kind is None:
            raise NotFound(f"no device {device_id}")
        check_price(kind, values["unit_price"])
    if (
        values
        and conn.execute(DEVICES.update().where(DEVICES.c.id == device_id).values(**values)).rowcount == 0
    ):
        raise NotFound(f"no device {device_id}")
    return device_row(conn, device_id)


def device_row(conn: Connection, device_id: str) -> dict:
    """The device's row, its key left out."""
    row = conn.execute(select(DEVICES).where(DEVICES.c.id == device_id)).mappings().first()
    if row is None:
        raise NotFound(f"no device {device_id}")
    return {k: v for k, v in row.items() if k != "key_hex"}


def rotate_key(conn: Connection, device_id: str) -> dict:
    """A new secret key for a controller (its MQTT password derives from it): the device row
    with the new `key_hex`. The old key signs nothing the hub accepts from then on."""
    key_hex = hub_side.new_key_hex()
    if conn.execute(DEVICES.update().where(DEVICES.c.id == device_id).values(key_hex=key_hex)).rowcount == 0:
        raise NotFound(f"no device {device_id}")
    return dict(conn.execute(select(DEVICES).where(DEVICES.c.id == device_id)).mappings().one())


def mqtt_credentials(device_id: str, key_hex: str) -> tuple[str, str]:
    """The device's MQTT (username, password): its id, and 32 hex digits derived from its key.
    Nothing more is stored; the broker can hold the password without being able to sign."""
    derived = hmac.new(bytes.fromhex(key_hex), b"mqtt-password", hashlib.sha256).hexdigest()
    return device_id, derived[:32]


# On PostgreSQL, where several hub processes share one database, the directory checks the devices
# table's version (its row count and newest row version, xmin, which every insert and update renews)
# at most every VERSION_CHECK_S, as the machines' loyalty cache does (hub.taps.device_loyalty): a
# price or key changed through another hub is used by this one within that, not within `ttl`.
VERSION_CHECK_S = 0.5
_COLUMNS = (DEVICES.c.id, DEVICES.c.site, DEVICES.c.kind, DEVICES.c.unit_price, DEVICES.c.account_id)


def _version(conn: Connection) -> str | None:
    if conn.dialect.name != "postgresql":
        return None  # one hub process per SQLite file: `ttl` and forget() suffice
    return conn.exec_driver_sql(
        "SELECT count(*) || '.' || coalesce(max(xmin::text::bigint), 0) FROM devices"
    ).scalar()


class DeviceDirectory:
    """Device lookups for every incoming message, cached: every device is read in one query,
    again after `ttl` seconds (a device made or changed by another process is seen then) and,
    on PostgreSQL, as soon as the devices table's version changes (VERSION_CHECK_S). A device
    not found there is looked up alone (and remembered as unknown until the next reload)."""

    def __init__(self, engine: Engine, ttl: float = 30.0):
        self.engine = reader(engine)
        self.ttl = ttl
        self._cache: dict[tuple[str, str], DeviceInfo | None] = {}
        self._lock = threading.Lock()
        self._versioned = engine.dialect.name == "postgresql"
        self._version: str | None = None
        self._loaded = self._checked = -ttl
        self._signers: dict[str, tuple[str, Signer]] = {}  # device id -> (its key, its Signer)

    def get(self, site: str, device_id: str) -> DeviceInfo | None:
        now = time.monotonic()
        if now - self._loaded >= self.ttl or (self._versioned and now - self._checked >= VERSION_CHECK_S):
            self._refresh(now)
        try:
            return self._cache[(site, device_id)]
        except KeyError:
            pass
        info = self._load(site, device_id)
        with self._lock:
            self._cache[(site, device_id)] = info
        return info

    def signer(self, site: str, device_id: str) -> Signer | None:
        info = self.get(site, device_id)
        return info.signer if info else None

    def forget(self, device_id: str | None = None) -> None:
        with self._lock:
            if device_id is None:
                self._cache.clear()
                self._loaded = -self.ttl
            else:
                for key in [k for k in self._cache if k[1] == device_id]:
                    del self._cache[key]

    def _refresh(self, now: float) -> None:
        """Every device in one query, when `ttl` is out or (PostgreSQL) another process changed
        the devices table; a Signer is made anew only for a new key."""
        self._checked = now
        with self.engine.connect() as conn:
            version = _version(conn)
            stale = now - self._loaded >= self.ttl or version != self._version
            rows = conn.execute(select(*_COLUMNS, DEVICES.c.key_hex)).all() if stale else ()
            conn.rollback()
        if not stale:
            return
        fresh = {(row.site, row.id): self._info(row) for row in rows}
        with self._lock:
            self._cache, self._version, self._loaded = fresh, version, now

    def _load(self, site: str, device_id: str) -> DeviceInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_COLUMNS, DEVICES.c.key_hex).where(DEVICES.c.id == device_id, DEVICES.c.site == site)
            ).first()
            conn.rollback()
        return None if row is None else self._info(row)

    def _info(self, row) -> DeviceInfo:
        known = self._signers.get(row.id)
        if known is None or known[0] != row.key_hex:
            known = self._signers[row.id] = (row.key_hex, Signer(row.key_hex))
        return DeviceInfo(row.id, row.site, row.kind, row.unit_price, row.account_id, known[1])
