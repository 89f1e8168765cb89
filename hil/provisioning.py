"""Per-device provisioning files (``/provision.json`` on a controller).

Built here, checked with the firmware's own parser (``firmware.config.from_dict``)
so the hub never hands a technician a file the controller would refuse, and
written atomically (temp file + rename, owner-only: it holds the device key).
Also: registering a controller for ``tapgift device add`` / ``fw flash``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import Engine, select

from firmware import config as fwconfig
from hub.core.errors import Invalid
from hub.devices import provisioning as hub_provisioning
from hub.devices.registry import DEVICES, FREE_KINDS, add_device
from protocol import topics

# Stands in for the real key when inputs are checked before a device exists.
PLACEHOLDER_KEY = "00" * 32


class ProvisioningError(ValueError):
    """Input that cannot make a provisioning file or a device; the message says why."""


# --- the file ------------------------------------------------------------------


def device_broker_url(broker: str, device_id: str, key_hex: str) -> str:
    """The broker URL a device connects with: the given host:port plus its own credentials."""
    try:
        return hub_provisioning.device_broker_url(broker, device_id, key_hex)
    except Invalid as e:
        raise ProvisioningError(str(e)) from None


def build(
    device_id: str,
    site: str,
    key_hex: str,
    broker: str,
    wifi_ssid: str | None,
    wifi_password: str | None,
    kind: str = "dispenser",
    profile: dict | None = None,
    pins: dict | None = None,
    ca: str | None = None,
) -> dict:
    """The complete provisioning dict (hub.devices.provisioning's, with the firmware's defaults
    written out), checked by the firmware's parser. ca: the PEM of the CA that signed an
    mqtts:// broker's certificate."""
    try:
        data = hub_provisioning.provision_dict(
            device_id, site, key_hex, broker, wifi_ssid, wifi_password, kind, profile, pins, ca
        )
    except Invalid as e:
        raise ProvisioningError(str(e)) from None
    cfg = validate(data)
    # The firmware's merged view: every field written out, nothing left to defaults.
    return {**data, "profile": cfg.profile, "pins": cfg.pins}


def validate(data: dict) -> fwconfig.Config:
    """Parse data exactly as the controller will; ProvisioningError if it would refuse it."""
    try:
        return fwconfig.from_dict(data)
    except fwconfig.ConfigError as e:
        raise ProvisioningError(f"the firmware would refuse this provisioning: {e}") from None


def load(path: Path) -> dict:
    """Read and check a provisioning file."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise ProvisioningError(f"cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise ProvisioningError(f"{path} is not valid JSON: {e}") from None
    validate(data)
    return data


def write(data: dict, path: Path) -> Path:
    """Write atomically (temp file in the same folder, fsync, rename), readable by the owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def parse_json_option(text: str | None, name: str) -> dict | None:
    """A --profile / --pins option: a JSON object, or None when not given."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ProvisioningError(f"--{name} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ProvisioningError(f"--{name} must be a JSON object, e.g. '{{\"relays\": [25]}}'")
    return value


# --- the hub's side: the device record -----------------------------------------


def check_device_input(device_id: str, site: str, kind: str, price: int | None) -> None:
    for label, value in (("device id", device_id), ("site", site)):
        if not topics.valid_id(value):
            raise ProvisioningError(f"{label} {value!r}: letters, digits, '_', '-', '.'; 1 to 40")
    if kind not in fwconfig.PROFILE_KINDS:
        raise ProvisioningError(f"kind {kind!r}: the firmware knows {', '.join(fwconfig.PROFILE_KINDS)}")
    if price is not None and (price < 0 or (price == 0 and kind not in FREE_KINDS)):
        raise ProvisioningError(
            "price must be a positive number of minor units (cents); 0 only for a " + " or ".join(FREE_KINDS)
        )


def find_device(engine: Engine, device_id: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(DEVICES).where(DEVICES.c.id == device_id)).mappings().first()
        conn.rollback()
    return dict(row) if row else None


def register(
    engine: Engine,
    device_id: str,
    site: str,
    price: int,
    ledger: str,
    kind: str = "dispenser",
    name: str = "",
    then=None,
) -> str:
    """Add a device; returns its key. `then(key)` runs inside the transaction (e.g. writing
    its provisioning file), so if it fails the device is not registered either."""
    check_device_input(device_id, site, kind, price)
    with engine.begin() as conn:
        if conn.execute(select(DEVICES.c.id).where(DEVICES.c.id == device_id)).first():
            raise ProvisioningError(f"device {device_id} is already registered")
        key = add_device(conn, device_id, site, price, ledger, name, kind)
        if then is not None:
            then(key)
    return key


def fetch_or_register(
    engine: Engine,
    device_id: str,
    site: str,
    price: int | None,
    ledger: str,
    kind: str = "dispenser",
    name: str = "",
    then=None,
) -> tuple[str, bool]:
    """(key, created): the registered device's key (re-flashing a board), else a new device."""
    found = find_device(engine, device_id)
    if found is None:
        if price is None:
            raise ProvisioningError(f"device {device_id} is not registered: give --price to add it")
        return register(engine, device_id, site, price, ledger, kind, name, then), True
    if found["site"] != site:
        raise ProvisioningError(f"device {device_id} is registered at site {found['site']}, not {site}")
    if found["kind"] != kind:
        raise ProvisioningError(f"device {device_id} is a {found['kind']}: give --kind {found['kind']}")
    if then is not None:
        then(found["key_hex"])
    return found["key_hex"], False
