"""A controller's provisioning file (`/provision.json` on the board) as the hub can make it: its
id, site and key, the broker with the device's own MQTT credentials, the Wi-Fi, its profile and
pins. Shared by `tapgift device add` / `fw flash` (hil.provisioning, which then checks the file
with the firmware's own parser and writes the firmware's defaults out) and the console's download
(which cannot import the firmware: the board, and `tapgift fw flash --provision`, check it there).

Pure: no database, no files. Mistakes raise hub.core.errors.Invalid naming the field."""

from __future__ import annotations

from hub.core.errors import Invalid
from hub.devices.registry import mqtt_credentials

# What a controller's firmware can run (firmware/config.py PROFILE_KINDS; the hub does not import it).
KINDS = ("dispenser", "slot_machine", "billiard", "turnstile", "kiosk")
# Kinds whose firmware refuses a file without pins.sensor (firmware/config.py _check_sensor).
NEEDS_SENSOR = ("turnstile", "kiosk")


def broker_address(broker: str) -> tuple[bool, str, int]:
    """mqtt://host[:port] or mqtts://host[:port] → (tls, host, port), read as the firmware's
    config.parse_broker reads it; Invalid with credentials in it (each device has its own)."""
    tls = broker.startswith("mqtts://")
    prefix = "mqtts://" if tls else "mqtt://"
    if not broker.startswith(prefix):
        raise Invalid(
            f"broker must start with mqtt:// or mqtts:// (e.g. mqtt://10.0.0.2:1883), not {broker!r}"
        )
    rest = broker[len(prefix) :].rstrip("/")
    if "@" in rest:
        raise Invalid("give the broker without user:password: each device gets its own")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "8883" if tls else "1883")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise Invalid(f"broker {broker!r}: a host and a port from 1 to 65535 (e.g. mqtt://10.0.0.2:1883)")
    return tls, host, int(port)


def device_broker_url(broker: str, device_id: str, key_hex: str) -> str:
    """The broker URL a device connects with: the given host:port plus its own credentials."""
    tls, host, port = broker_address(broker)
    user, password = mqtt_credentials(device_id, key_hex)
    return f"{'mqtts' if tls else 'mqtt'}://{user}:{password}@{host}:{port}"


def provision_dict(
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
    """The provisioning file's fields, as given (the firmware fills in what is left out).
    ca: the PEM of the CA that signed an mqtts:// broker's certificate."""
    if not wifi_ssid:
        raise Invalid("Wi-Fi SSID missing (--wifi-ssid or TAPGIFT_WIFI_SSID)")
    if wifi_password is None:
        raise Invalid(
            "Wi-Fi password missing (--wifi-password or TAPGIFT_WIFI_PASSWORD; '' for an open network)"
        )
    profile = dict(profile or {})
    if profile.setdefault("kind", kind) != kind:
        raise Invalid(f"profile kind {profile['kind']!r} differs from --kind {kind!r}")
    data = {
        "device": device_id,
        "site": site,
        "key": key_hex,
        "broker": device_broker_url(broker, device_id, key_hex),
        "wifi": {"ssid": wifi_ssid, "password": wifi_password},
        "profile": profile,
        "pins": dict(pins or {}),
    }
    if ca is not None:
        data["ca"] = ca
    return data
