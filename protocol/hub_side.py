# What only the hub runs: the rules for what controllers send, topic parsing,
# receiving (verify + decode) and new device keys. It builds on the shared core
# (topics, messages, manage); nothing a controller runs imports it, and a
# controller's package does not ship it (hil/micropython.py board_files()).
#
#   up/tap     {"id": "3-17", "card": "04A1B2C3D4", "units": 2}
#              units 0: a balance enquiry (kiosk); the hub books nothing and acks
#              with the balance
#              optional "dir": "entry" | "exit" (a turnstile's direction)
#              optional "sun": the NTAG 424 DNA SUN data read with the card
#              (firmware/readers/ntag424.py), e.g. {"picc_data": "EF96...", "cmac": "94EE..."};
#              keys among SUN_KEYS, each value 1..64 hex digits
#   up/report  {"id": "3-18", "hold": "h-...", "delivered": 1}
#              what was delivered against a hold (0 voids it)
#              {"id": "3-19", "off": "2-7", "card": "04A1B2C3", "delivered": 1, "ago": 40}
#              an offline vend: "off" is the request id the controller took when it
#              vended without the hub (kept in its journal), delivered >= 1, "ago"
#              (optional) whole seconds since the vend
#   up/topup   {"id": "3-20", "ev": "3-11", "card": "04A1B2C3", "amount": 500}
#              a kiosk's counted cash in minor units; "ev" is the request id taken
#              when the session's first coin was counted (the hub credits once per ev)
#   up/status  {"state": "online" | "offline", "fw": "0.1.0"}
#   up/fw      {"k": "get", "v": "0.2.0", "f": "firmware/app.mpy", "o": 4096}
#              a piece of update v's file f (or of its manifest, f "manifest") from offset o;
#              {"k": "hello", "v": "0.2.0", "n": "9f3a..."}  running v on trial: confirm it
#              {"k": "back", "v": "0.2.0", "why": "crashed"}  v did not hold: back on the old
#              (firmware/ota.py; the hub's answers on dn/fw: hub/devices/firmware_updates.py)
import os

from protocol import BAD_FIELD, BAD_TOPIC, ProtocolError, const, manage, messages, topics
from protocol.messages import UNKNOWN_DEVICE, _count, _field, _req_id, check_card

SUN_KEYS = ("picc_data", "enc", "cmac", "uid", "ctr")
MAX_AMOUNT = 100000000  # minor units in one top-up
_MAX_SUN_HEX = const(64)
_MAX_AGO = const(0x7FFFFFFF)
_HEX = "0123456789abcdefABCDEF"


def decode(kind, data):
    """Parse and validate a body (bytes) of a kind the hub receives (an "up" topic).
    Replies and commands (what the hub sends): messages.decode, manage.decode."""
    if kind == topics.HEALTH or kind == topics.CMDACK:
        return manage.decode(kind, data)
    if kind == topics.TAP:
        check = _check_tap
    elif kind == topics.REPORT:
        check = _check_report
    elif kind == topics.TOPUP:
        check = _check_topup
    elif kind == topics.STATUS:
        check = _check_status
    elif kind == topics.FW:
        check = _check_fw
    else:  # replies and commands as well: the hub sends those, it never receives them
        raise ProtocolError(BAD_FIELD, "unknown kind %r" % (kind,))
    body = messages.parse(data)
    check(body)
    return body


def _check_topup(body):
    _req_id(body)
    _req_id(body, "ev")
    check_card(_field(body, "card", str), "card")
    if not 1 <= _field(body, "amount", int) <= MAX_AMOUNT:
        raise ProtocolError(BAD_FIELD, "amount out of range")


def _check_status(body):
    if _field(body, "state", str) not in ("online", "offline"):
        raise ProtocolError(BAD_FIELD, "state")


FW_ASKS = ("get", "hello", "back")


def _check_fw(body):
    ask = _field(body, "k", str)
    if ask not in FW_ASKS:
        raise ProtocolError(BAD_FIELD, "k")
    manage.check_version(body)
    if ask == "get":
        if not check_fw_path(_field(body, "f", str)) and body["f"] != "manifest":
            raise ProtocolError(BAD_FIELD, "f")
        if not 0 <= _field(body, "o", int) <= _MAX_AGO:
            raise ProtocolError(BAD_FIELD, "o out of range")
    elif ask == "hello":
        if not topics.valid_id(_field(body, "n", str)):
            raise ProtocolError(BAD_FIELD, "n")
    elif len(_field(body, "why", str)) > 100:
        raise ProtocolError(BAD_FIELD, "why length")


MAX_FW_PATH = 64  # characters of a file's path in an update
_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_./"


def check_fw_path(path):
    """A file of an update: under firmware/ or protocol/, lower-case names, no way out. The
    controller checks the same (firmware/ota.py check_path: not here, to spare its heap)."""
    if not isinstance(path, str) or not 0 < len(path) <= MAX_FW_PATH or ".." in path or "//" in path:
        return False
    if not (path.startswith("firmware/") or path.startswith("protocol/")) or path.endswith("/"):
        return False
    return not path.strip(_PATH_CHARS)


def _check_tap(body):
    _req_id(body)
    check_card(_field(body, "card", str), "card")
    _count(body, "units", 0)
    if "dir" in body and body["dir"] not in ("entry", "exit"):
        raise ProtocolError(BAD_FIELD, "dir")
    if "sun" in body:
        check_sun(body["sun"])


def check_sun(sun):
    if not isinstance(sun, dict) or not sun:
        raise ProtocolError(BAD_FIELD, "sun must be a non-empty object")
    for name in sun:
        if name not in SUN_KEYS:
            raise ProtocolError(BAD_FIELD, "sun.%s is not a SUN field" % (name,))
        if not _is_hex(sun[name]):
            raise ProtocolError(BAD_FIELD, "sun.%s must be 1..%d hex digits" % (name, _MAX_SUN_HEX))


def _is_hex(value):
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_SUN_HEX:
        return False
    for ch in value:
        if ch not in _HEX:
            return False
    return True


def _check_report(body):
    _req_id(body)
    if "off" in body:
        if "hold" in body:
            raise ProtocolError(BAD_FIELD, "hold and off are exclusive")
        _req_id(body, "off")
        check_card(_field(body, "card", str), "card")
        _count(body, "delivered", 1)
        if "ago" in body and not 0 <= _field(body, "ago", int) <= _MAX_AGO:
            raise ProtocolError(BAD_FIELD, "ago out of range")
        return
    hold = _field(body, "hold", str)
    if not 0 < len(hold) <= 64:
        raise ProtocolError(BAD_FIELD, "hold")
    _count(body, "delivered", 0)


def parse(topic):
    """Split a topic into (site, device, direction, kind) or raise ProtocolError."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "tg":
        raise ProtocolError(BAD_TOPIC, topic)
    _tg, site, device, direction, kind = parts
    topics._check(site, device)
    if direction == "up":
        allowed = (
            topics.TAP,
            topics.REPORT,
            topics.TOPUP,
            topics.STATUS,
            topics.HEALTH,
            topics.CMDACK,
            topics.FW,
        )
    elif direction == "dn":
        allowed = (topics.REPLY, topics.CMD, topics.FW)
    else:
        raise ProtocolError(BAD_TOPIC, "bad direction %r" % direction)
    if kind not in allowed:
        raise ProtocolError(BAD_TOPIC, "bad kind %r" % kind)
    return site, device, direction, kind


def receive(signer_for, topic, payload):
    """Verify and decode one message: (site, device, kind, body).

    signer_for(site, device) returns the device's Signer or None (unknown).
    """
    site, device, _direction, kind = parse(topic)
    signer = signer_for(site, device)
    if signer is None:
        raise ProtocolError(UNKNOWN_DEVICE, device)
    body = signer.open(topic, payload)
    return site, device, kind, decode(kind, body)


def new_key_hex():
    """A fresh 32-byte device key, as hex."""
    return os.urandom(32).hex()
