# The per-device provisioning file (JSON), written by the technician's
# mpremote deploy:
#
# {"device": "d17", "site": "aqua", "key": "<64 hex digits>",
#  "broker": "mqtt://d17:secret@10.0.0.2:1883",   (mqtts://...:8883 for TLS, with "ca")
#  "ca": "-----BEGIN CERTIFICATE-----\n...",     (PEM of the CA that signed the broker's certificate)
#  "wifi": {"ssid": "park", "password": "..."},
#  "profile": {"kind": "dispenser", "units": 1, "pulse_ms": 120, "gap_ms": 120,
#              "cooldown_ms": 3000, "reply_timeout_ms": 1500, "retries": 2, "health_s": 60,
#              "sensor_pulses": 0, "sensor_timeout_ms": 2000},
#  "pins": {"relays": [26], "relay_active_low": false, "indicator": 2, "maintenance": 0,
#           "reader": {"type": "mfrc522", "spi": 2, "sck": 18, "mosi": 23, "miso": 19,
#                      "cs": 5, "rst": 22},
#           "sensor": null, "button": null, "buzzer": null, "display": null}}
#
# "profile" and "pins" (and each of their fields) may be left out: the
# defaults below apply. Everything else is required.
#
# pins.reader.type chooses the card reader; each type has its own fields
# (READER_FIELDS; a field left out takes its default there, "rst" may be null):
#   mfrc522     SPI bus id, sck/mosi/miso/cs pins, rst pin
#   pn532_i2c   I2C bus id, scl/sda pins, 7-bit address (36 = 0x24), RSTPDN pin
#   pn532_uart  UART id (1 or 2; 0 is the console), tx/rx pins, baud, RSTPDN pin
#   qr_uart     QR/barcode scanner: UART id, tx/rx pins, baud
# A reader without "type" is an MFRC522 (provisioning files from before).
#
# pins.display: null (the kiosk then speaks through the indicator's LED and
# buzzer) or a 16x2 character LCD on an I2C backpack (PCF8574):
#   {"i2c": 1, "scl": 32, "sda": 33, "addr": 39}   (its own bus: not shared with a PN532)
import binascii
import json

from protocol import topics

PATH = "/provision.json"

# Profile fields every kind has; each kind adds its own (KIND_FIELDS). What
# each kind does with them:
#   dispenser     units per tap, each one relay pulse of pulse_ms, gap_ms apart.
#                 sensor_pulses > 0: a flow/coin meter on pins.sensor gives that
#                 many pulses per unit; delivered = units it confirmed by
#                 sensor_timeout_ms after the last relay pulse (never more than granted).
#   slot_machine  units = credits per tap, each one pulse on the machine's coin
#                 input (relay 0) of pulse_ms, gap_ms apart.
#   billiard      units = minutes bought per tap, a minute lasting unit_ms (60000;
#                 shorter only for tests); the relay holds the table on, the
#                 indicator warns warn_s before the end (0: no warning), a tap
#                 during the session extends it, pins.button ends it early.
#   turnstile     one passage per grant (units must be 1): the relay unlocks until
#                 pins.sensor counts a passage or pass_timeout_ms passes;
#                 direction "entry" or "exit" is sent with the tap as "dir".
#   kiosk         a tap asks for the card's balance (units are not used) and shows
#                 it; relay 0 enables the coin/bill acceptor, whose pulse output
#                 (pins.sensor) is counted at coin_value minor units a pulse. Each
#                 coin is kept on flash at once; a second tap of the card, or idle_ms
#                 without a coin, ends the session and the sum is sent as a top-up.
# Offline vends (dispenser, slot_machine, turnstile): when the hub does not
# answer a tap, up to offline_units_card units per card and offline_units_device
# units in all are delivered anyway (0, the default: never), journaled and
# replayed to the hub when it answers again (firmware/offline.py).
# health_s (every kind): seconds between health telemetry messages.
# The hub may change profile fields (not kind) with a config command; those
# changes are kept on flash over the provisioned ones (see firmware/commands.py).
_COMMON_DEFAULTS = {
    "kind": "dispenser",
    "units": 1,
    "cooldown_ms": 3000,
    "reply_timeout_ms": 1500,
    "retries": 2,
    "health_s": 60,
}

KIND_FIELDS = {
    "dispenser": {
        "pulse_ms": 120,
        "gap_ms": 120,
        "sensor_pulses": 0,
        "sensor_timeout_ms": 2000,
        "offline_units_card": 0,
        "offline_units_device": 0,
    },
    "slot_machine": {"pulse_ms": 50, "gap_ms": 50, "offline_units_card": 0, "offline_units_device": 0},
    "billiard": {"unit_ms": 60000, "warn_s": 60},
    "turnstile": {
        "pass_timeout_ms": 10000,
        "direction": "entry",
        "offline_units_card": 0,
        "offline_units_device": 0,
    },
    "kiosk": {"coin_value": 100, "idle_ms": 30000},
}

PROFILE_KINDS = ("dispenser", "slot_machine", "billiard", "turnstile", "kiosk")

# (low, high) bounds of each profile number, whichever kind has it.
_PROFILE_RANGES = {
    "units": (1, 1000),
    "cooldown_ms": (0, 3600000),
    "reply_timeout_ms": (10, 60000),
    "retries": (0, 20),
    "health_s": (1, 86400),
    "pulse_ms": (1, 60000),
    "gap_ms": (0, 60000),
    "sensor_pulses": (0, 100000),
    "sensor_timeout_ms": (0, 600000),
    "unit_ms": (10, 3600000),
    "warn_s": (0, 3600),
    "pass_timeout_ms": (100, 600000),
    "offline_units_card": (0, 1000),
    "offline_units_device": (0, 100000),
    "coin_value": (1, 1000000),
    "idle_ms": (100, 3600000),
}

DIRECTIONS = ("entry", "exit")


def profile_defaults(kind):
    """Every field of a kind's profile, with its default."""
    out = dict(_COMMON_DEFAULTS)
    out["kind"] = kind
    out.update(KIND_FIELDS[kind])
    return out


# A profile left out of the provisioning file is this one.
DEFAULT_PROFILE = profile_defaults("dispenser")

DEFAULT_PINS = {
    "relays": [26],
    "relay_active_low": False,
    "indicator": 2,
    "maintenance": 0,
    "reader": {"type": "mfrc522"},
    "sensor": None,  # pulse input: flow/coin meter, turnstile passage sensor
    "button": None,  # billiard release button
    "buzzer": None,  # sounds with the indicator
    "display": None,  # a kiosk's 2-line LCD (I2C), or null
    "psram": False,  # a WROVER (PSRAM on GPIO 16, 17): no pin of ours may use those
}

# Pins that are a pin number or null.
_OPTIONAL_PINS = ("indicator", "maintenance", "sensor", "button", "buzzer")

DISPLAY_FIELDS = {"i2c": 1, "scl": 32, "sda": 33, "addr": 0x27}

READER_TYPES = ("mfrc522", "pn532_i2c", "pn532_uart", "qr_uart")

READER_FIELDS = {
    "mfrc522": {"spi": 2, "sck": 18, "mosi": 23, "miso": 19, "cs": 5, "rst": 22},
    "pn532_i2c": {"i2c": 0, "scl": 22, "sda": 21, "addr": 0x24, "rst": None},
    "pn532_uart": {"uart": 2, "tx": 17, "rx": 16, "baud": 115200, "rst": None},
    "qr_uart": {"uart": 2, "tx": 17, "rx": 16, "baud": 9600},
}

# (low, high) of the reader's non-pin fields; every other field is a GPIO.
_READER_RANGES = {
    "spi": (1, 2),  # SPI1 holds the flash
    "i2c": (0, 1),
    "uart": (1, 2),  # UART0 is the console mpremote talks to
    "addr": (0x08, 0x77),
    "baud": (1200, 1000000),
}
_MAX_GPIO = 48

# What an ESP32 (WROOM; WROVER with psram) allows on its GPIOs. A pin number that breaks
# one of these rules is refused with the reason: on the board it would not work, or would
# stop the board from booting or from talking to mpremote.
_NO_GPIO = (20, 24, 28, 29, 30, 31)  # not on the chip (and nothing above 39)
_FLASH = (6, 7, 8, 9, 10, 11)  # the SPI flash the firmware runs from
_REPL = (1, 3)  # UART0 TX/RX: the console mpremote talks to
_INPUT_ONLY = (34, 35, 36, 37, 38, 39)  # no output driver, no internal pull-up
# A relay module pulling these at reset changes how the chip boots: 12 high sets the flash
# to 1.8 V (no boot), 0 low enters the ROM bootloader.
_RELAY_STRAPPING = (0, 12)
_PSRAM = (16, 17)  # a WROVER's PSRAM
# Pins the firmware drives (or that must be able to drive: I2C lines): never input-only.
_OUTPUT_FIELDS = ("relays", "indicator", "buzzer", "cs", "rst", "sck", "mosi", "tx", "scl", "sda")


class ConfigError(Exception):
    pass


class Config:
    def __init__(self, device, site, key, broker, wifi, profile, pins):
        self.device = device
        self.site = site
        self.key = key
        self.broker = broker
        self.wifi = wifi
        self.profile = profile
        self.pins = pins


def load(path=PATH):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise ConfigError("cannot read " + path)
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(path + " is not valid JSON")
    return from_dict(data)


def from_dict(data):
    if not isinstance(data, dict):
        raise ConfigError("provisioning must be a JSON object")
    device = _name(data, "device")
    site = _name(data, "site")
    profile = _profile(data.get("profile", {}))
    pins = _pins(data.get("pins", {}))
    _check_sensor(profile, pins)
    broker = parse_broker(_required(data, "broker", str))
    cfg = Config(device, site, _key(data), broker, _wifi(data), profile, pins)
    cfg.ca = _ca(data, broker)
    return cfg


def _ca(data, broker):
    """The CA certificate (PEM) that signed the broker's: required with mqtts://."""
    ca = data.get("ca")
    if ca is None:
        if broker["tls"]:
            raise ConfigError("an mqtts:// broker needs ca: the PEM of the CA that signed its certificate")
        return None
    if not isinstance(ca, str) or "-----BEGIN CERTIFICATE-----" not in ca:
        raise ConfigError("ca must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)")
    return ca


def parse_broker(url):
    """mqtt://user:pass@host:port (mqtts:// for TLS, port 8883 by default) ->
    {"host", "port", "user", "password", "tls"}."""
    tls = url.startswith("mqtts://")
    prefix = "mqtts://" if tls else "mqtt://"
    if not url.startswith(prefix):
        raise ConfigError("broker must start with mqtt:// or mqtts://")
    rest = url[len(prefix) :].rstrip("/")
    user = password = None
    if "@" in rest:
        cred, _, rest = rest.rpartition("@")
        user, _, password = cred.partition(":")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "8883" if tls else "1883")
    if not host:
        raise ConfigError("broker has no host")
    try:
        port = int(port)
    except ValueError:
        raise ConfigError("broker port is not a number")
    if not 0 < port < 65536:
        raise ConfigError("broker port out of range")
    return {"host": host, "port": port, "user": user or None, "password": password or None, "tls": tls}


def _required(data, name, kind, where=""):
    if name not in data:
        raise ConfigError("missing " + where + name)
    value = data[name]
    if not isinstance(value, kind):
        raise ConfigError(where + name + " has the wrong type")
    return value


def _name(data, name):
    value = _required(data, name, str)
    if not topics.valid_id(value):
        raise ConfigError(name + " may only hold letters, digits, _ - . (max 40)")
    return value


def _key(data):
    key = _required(data, "key", str)
    try:
        raw = binascii.unhexlify(key)
    except ValueError:
        raise ConfigError("key is not hex")
    if len(raw) < 16:
        raise ConfigError("key is shorter than 16 bytes")
    return key


def _wifi(data):
    wifi = _required(data, "wifi", dict)
    return {
        "ssid": _required(wifi, "ssid", str, "wifi."),
        "password": _required(wifi, "password", str, "wifi."),
    }


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _all_ints(values):
    for v in values:
        if not _is_int(v):
            return False
    return True


def _merged(defaults, given, where):
    if not isinstance(given, dict):
        raise ConfigError(where + " must be an object")
    out = dict(defaults)
    for name in given:
        if name not in defaults:
            raise ConfigError("unknown field " + where + "." + name)
        out[name] = given[name]
    return out


def _profile(given):
    if not isinstance(given, dict):
        raise ConfigError("profile must be an object")
    kind = given.get("kind", "dispenser")
    if kind not in PROFILE_KINDS:
        raise ConfigError("profile.kind must be one of " + ", ".join(PROFILE_KINDS))
    profile = profile_defaults(kind)
    for name in given:
        if name not in profile:
            raise ConfigError(
                "unknown field profile.%s (a %s profile has %s)" % (name, kind, ", ".join(sorted(profile)))
            )
        profile[name] = given[name]
    for name in profile:
        if name in _PROFILE_RANGES:
            lo, hi = _PROFILE_RANGES[name]
            value = profile[name]
            if not _is_int(value) or not lo <= value <= hi:
                raise ConfigError("profile.%s must be an integer in %d..%d" % (name, lo, hi))
    if kind == "turnstile":
        if profile["units"] != 1:
            raise ConfigError("profile.units of a turnstile must be 1 (one passage per grant)")
        if profile["direction"] not in DIRECTIONS:
            raise ConfigError("profile.direction must be one of " + ", ".join(DIRECTIONS))
    if "offline_units_card" in profile and profile["offline_units_card"] > profile["offline_units_device"]:
        raise ConfigError("profile.offline_units_card cannot exceed profile.offline_units_device")
    return profile


def _check_sensor(profile, pins):
    if pins["sensor"] is not None:
        return
    if profile["kind"] == "turnstile":
        raise ConfigError("a turnstile needs pins.sensor (its passage sensor)")
    if profile["kind"] == "kiosk":
        raise ConfigError("a kiosk needs pins.sensor (the coin/bill acceptor's pulse output)")
    if profile.get("sensor_pulses"):
        raise ConfigError("profile.sensor_pulses needs pins.sensor (the flow/coin meter)")


def _pins(given):
    pins = _merged(DEFAULT_PINS, given, "pins")
    relays = pins["relays"]
    if not isinstance(relays, list) or not relays or not _all_ints(relays):
        raise ConfigError("pins.relays must be a non-empty list of pin numbers")
    if not isinstance(pins["relay_active_low"], bool):
        raise ConfigError("pins.relay_active_low must be true or false")
    if not isinstance(pins["psram"], bool):
        raise ConfigError("pins.psram must be true or false")
    for name in _OPTIONAL_PINS:
        if pins[name] is not None and not _is_int(pins[name]):
            raise ConfigError("pins.%s must be a pin number or null" % name)
    pins["reader"] = _reader(pins["reader"])
    pins["display"] = _display(pins["display"])
    used = {}
    for name in _OPTIONAL_PINS:
        if pins[name] is not None:
            used[pins[name]] = "pins." + name
    for n in relays:
        if n in used:
            raise ConfigError("pins.relays: pin %d is also %s" % (n, used[n]))
        used[n] = "pins.relays"
    for part in ("reader", "display"):
        fields = pins[part] or {}
        for name in fields:
            n = fields[name]
            if name in _READER_RANGES or name == "type" or n is None:
                continue
            if n in used:
                raise ConfigError("pins.%s.%s: pin %d is also %s" % (part, name, n, used[n]))
            used[n] = "pins.%s.%s" % (part, name)
    for n in used:
        where = used[n]
        _check_gpio(where, n, where.rpartition(".")[2], pins["psram"])
    return pins


def _check_gpio(where, n, role, psram):
    """Refuse GPIO n for `where` (role: its last name, e.g. "relays", "cs") if an ESP32 cannot
    have it there."""
    why = None
    if n < 0 or n > 39 or n in _NO_GPIO:
        why = "GPIO %d does not exist on an ESP32"
    elif n in _FLASH:
        why = "GPIO %d is wired to the flash the firmware runs from"
    elif n in _REPL:
        why = "GPIO %d is UART0, the REPL console mpremote uses"
    elif psram and n in _PSRAM:
        why = "GPIO %d belongs to the PSRAM of this board (pins.psram)"
    elif role in _OUTPUT_FIELDS and n in _INPUT_ONLY:
        why = "GPIO %d is input only (34..39): it cannot drive anything"
    elif role == "relays" and n in _RELAY_STRAPPING:
        why = "GPIO %d is a strapping pin: a relay module on it changes how the board boots"
    if why:
        raise ConfigError(where + ": " + why % n)


def _display(given):
    if given is None:
        return None
    if not isinstance(given, dict):
        raise ConfigError("pins.display must be an object or null")
    display = _merged(DISPLAY_FIELDS, given, "pins.display")
    for name in display:
        value = display[name]
        lo, hi = _READER_RANGES[name] if name in _READER_RANGES else (0, _MAX_GPIO)
        if not _is_int(value) or not lo <= value <= hi:
            raise ConfigError("pins.display.%s must be an integer in %d..%d" % (name, lo, hi))
    return display


def _reader(given):
    if not isinstance(given, dict):
        raise ConfigError("pins.reader must be an object")
    kind = given.get("type", "mfrc522")
    if kind not in READER_TYPES:
        raise ConfigError("pins.reader.type must be one of " + ", ".join(READER_TYPES))
    fields = READER_FIELDS[kind]
    reader = {"type": kind}
    for name in given:
        if name != "type" and name not in fields:
            raise ConfigError(
                "unknown field pins.reader.%s (a %s reader has %s)" % (name, kind, ", ".join(sorted(fields)))
            )
    for name in fields:
        value = given.get(name, fields[name])
        if name in _READER_RANGES:
            lo, hi = _READER_RANGES[name]
            if not _is_int(value) or not lo <= value <= hi:
                raise ConfigError("pins.reader.%s must be an integer in %d..%d" % (name, lo, hi))
        elif value is None and name == "rst":
            pass
        elif not _is_int(value) or not 0 <= value <= _MAX_GPIO:
            raise ConfigError(
                "pins.reader.%s must be a pin number (0..%d)%s"
                % (name, _MAX_GPIO, " or null" if name == "rst" else "")
            )
        reader[name] = value
    return reader
