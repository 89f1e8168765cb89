# Remote management: health telemetry, commands from the hub and their acks.
# Kept out of messages.py so that a controller loads these rules only when the
# first command comes (commands are rare; heap is not). Builds on messages
# (manage -> messages, never the reverse); the hub decodes health and cmdack
# through protocol/hub_side.py, which uses this module.
#
#   up/health  {"uptime_seconds": 3600, "free_heap_bytes": 61234, "heap_alloc_bytes": 40102,
#               "rssi": -61, "reconnects": 1, "reader_resets": 0, "journal_depth": 0,
#               "fw": "0.1.0", "reset_cause": "watchdog", "last_traceback": "Traceback ..."}
#              free_heap_bytes, heap_alloc_bytes: MicroPython's heap (gc.mem_free, gc.mem_alloc);
#              rssi: dBm; each null where the platform cannot tell. reset_cause: why the
#              board last started; last_traceback: the end (<= 300 characters) of what
#              last killed the app or kept it from starting, or null (both optional);
#              journal_depth: delivery reports waiting on flash. Sent every
#              profile.health_s, at QoS 0 (the next one follows soon).
#   dn/cmd     {"seq": 7, "k": "config", "set": {"pulse_ms": 80, "gap_ms": 60}}
#              {"seq": 8, "k": "deny", "add": ["04A1B2C3"], "remove": ["0455AA11"]}
#              {"seq": 9, "k": "deny", "clear": true, "add": [...]}  (the list starts afresh)
#              {"seq": 10, "k": "reboot"}
#              {"seq": 11, "k": "network", "set": {"wifi": {"ssid": "park2", "password": "..."},
#                                                 "broker": "mqtts://10.0.0.3:8883", "ca": "-----BEGIN..."}}
#              (any of wifi, broker - without user:password, the device keeps its own - and ca;
#              the device tries them after a reboot and goes back to its old settings if they
#              do not reach the broker: firmware/commands.py)
#              {"seq": 12, "k": "fw", "v": "0.2.0", "size": 2345, "sig": "<64 hex digits>"}
#              (an update: the manifest of bundle v is size bytes, fetched over up/fw and dn/fw,
#              and sig = HMAC(device key, "tapgift-fw\n" + v + "\n" + its SHA-256): firmware/ota.py;
#              acked once staged, or refused with a code of firmware/ota.py)
#              seq: assigned by the hub, strictly increasing per device. A controller
#              applies a command only if its seq is above the last one it applied
#              (kept on flash), so a recorded command cannot be replayed.
#   up/cmdack  {"seq": 7, "ok": true}
#              {"seq": 7, "ok": false, "code": "bad_config", "detail": "profile.pulse_ms ..."}
from protocol import BAD_FIELD, BAD_TOPIC, TOO_LARGE, ProtocolError, const, topics
from protocol.messages import DENY, _field, check_card, parse

CONFIG = "config"
REBOOT = "reboot"
NETWORK = "network"
FW = "fw"
COMMANDS = (CONFIG, DENY, REBOOT, NETWORK, FW)
_NETWORK_FIELDS = ("wifi", "broker", "ca")

# Why a command was refused (cmdack "code").
BAD_CONFIG = "bad_config"  # the new profile breaks firmware/config.py's rules
DENY_FULL = "deny_full"  # the device's deny list would exceed MAX_DENY

MAX_DENY_CARDS = 32  # cards (add + remove) in one deny command
MAX_DENY = 256  # cards a controller keeps on its deny list
_MAX_SET = const(16)  # fields in one config command
_MAX_SEQ = const(0x7FFFFFFF)
MAX_MANIFEST = 16384  # bytes of an update's manifest
MAX_VERSION = 16  # characters of a firmware version (health's "fw")
_HEALTH_COUNTS = ("uptime_seconds", "reconnects", "reader_resets", "journal_depth")


def decode(kind, data):
    """Parse and validate a body (bytes) of dn/cmd, up/health or up/cmdack."""
    if kind == topics.CMD:
        check = _check_cmd
    elif kind == topics.HEALTH:
        check = _check_health
    elif kind == topics.CMDACK:
        check = _check_cmdack
    else:
        raise ProtocolError(BAD_TOPIC, "%r is not cmd, health or cmdack" % (kind,))
    body = parse(data)
    check(body)
    return body


def _check_cmdack(body):
    _seq(body)
    if not _field(body, "ok", bool):
        _field(body, "code", str)


def _seq(body):
    if not 0 < _field(body, "seq", int) <= _MAX_SEQ:
        raise ProtocolError(BAD_FIELD, "seq out of range")


def _check_health(body):
    for name in _HEALTH_COUNTS:
        if _field(body, name, int) < 0:
            raise ProtocolError(BAD_FIELD, name + " is negative")
    for name in ("free_heap_bytes", "rssi", "heap_alloc_bytes"):
        if body.get(name) is not None:
            _field(body, name, int)
    for name, longest in (("reset_cause", 16), ("last_traceback", 300)):
        if body.get(name) is not None and len(_field(body, name, str)) > longest:
            raise ProtocolError(BAD_FIELD, name + " length")
    if len(_field(body, "fw", str)) > 16:
        raise ProtocolError(BAD_FIELD, "fw length")


def _check_cmd(body):
    _seq(body)
    kind = _field(body, "k", str)
    if kind == CONFIG:
        changes = _field(body, "set", dict)
        if not 0 < len(changes) <= _MAX_SET:
            raise ProtocolError(BAD_FIELD, "set size")
        for name in changes:
            # Numbers and words only; their ranges are firmware/config.py's rules.
            if isinstance(changes[name], (dict, list)):
                raise ProtocolError(BAD_FIELD, "set." + name)
    elif kind == DENY:
        _check_deny(body)
    elif kind == NETWORK:
        changes = _field(body, "set", dict)
        if not changes:
            raise ProtocolError(BAD_FIELD, "set size")
        for name in changes:
            if name not in _NETWORK_FIELDS:
                raise ProtocolError(BAD_FIELD, "set." + name)
        if "wifi" in changes:
            wifi = _field(changes, "wifi", dict)
            _field(wifi, "ssid", str)
            _field(wifi, "password", str)
        for name in ("broker", "ca"):
            if name in changes:
                _field(changes, name, str)
    elif kind == FW:
        check_version(body)
        if not 0 < _field(body, "size", int) <= MAX_MANIFEST:
            raise ProtocolError(BAD_FIELD, "size out of range")
        sig = _field(body, "sig", str)
        if len(sig) != 64 or sig.strip("0123456789abcdef"):
            raise ProtocolError(BAD_FIELD, "sig must be 64 hex digits")
    elif kind != REBOOT:
        raise ProtocolError(BAD_FIELD, "k")


def check_version(body, name="v"):
    """A firmware version: 1..MAX_VERSION of the characters a device id may have."""
    version = _field(body, name, str)
    if len(version) > MAX_VERSION or not topics.valid_id(version):
        raise ProtocolError(BAD_FIELD, name)
    return version


def _check_deny(body):
    n = 0
    for name in ("add", "remove"):
        cards = body.get(name, [])
        if not isinstance(cards, list):
            raise ProtocolError(BAD_FIELD, name + " must be a list")
        for card in cards:
            check_card(card, name)
        n += len(cards)
    if n > MAX_DENY_CARDS:
        raise ProtocolError(TOO_LARGE, "%d cards (at most %d)" % (n, MAX_DENY_CARDS))
    if not isinstance(body.get("clear", False), bool):
        raise ProtocolError(BAD_FIELD, "clear")
