# Message bodies (JSON objects), the field checks every rule set shares, and
# the rules for what a controller receives: replies. A body that fails
# validation raises ProtocolError with a precise code and the field at fault.
# Imports run one way: manage and hub_side build on this module, never the reverse.
#
#   up/tap, up/report, up/topup, up/status: see protocol/hub_side.py (what
#              controllers send; the hub checks it, a controller never loads it)
#   dn/reply   {"k": "grant", "re": "3-17", "hold": "...", "units": 2, "amount": 500, "balance": 1500}
#              {"k": "deny",  "re": "3-17", "code": "insufficient_funds", "balance": 100}
#              {"k": "ack",   "re": "3-18", "posted": 250, "voided": 250}
#              {"k": "error", "re": "3-18", "code": "unknown_hold"}
#              an ack may carry "balance" (a balance enquiry, a top-up), "bonus"
#              (a top-up's bonus) and "short" (an offline vend the wallet could
#              not cover); each an integer when present.
#   up/health, dn/cmd, up/cmdack: see protocol/manage.py (a controller loads it
#              with the first command)
import json

from protocol import BAD_FIELD, BAD_JSON, BAD_TOPIC, TOO_LARGE, ProtocolError, const, ids, topics

MAX_BODY = 1024
_MAX_UNITS = const(1000)

GRANT = "grant"
DENY = "deny"
ACK = "ack"
ERROR = "error"

# Reason codes in deny/error replies.
INSUFFICIENT_FUNDS = "insufficient_funds"
UNKNOWN_CARD = "unknown_card"
BLOCKED_CARD = "blocked_card"
UNKNOWN_DEVICE = "unknown_device"
UNKNOWN_HOLD = "unknown_hold"
BAD_REQUEST = "bad_request"
HUB_BUSY = "hub_busy"
BAD_SUN = "bad_sun"  # NTAG 424 SUN data missing, forged or replayed
# The request id names another request the hub answered before (a board replaced or its
# flash erased, counting its ids again): refused, nothing booked, flagged at the hub.
ID_REUSED = "id_reused"

_CARD_CHARS = const("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-:.")


def encode(body):
    return json.dumps(body).encode()


def _field(body, name, kind):
    if name not in body:
        raise ProtocolError(BAD_FIELD, "missing " + name)
    value = body[name]
    # bool is an int in Python; a true/false is never a count or an amount.
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ProtocolError(BAD_FIELD, name + " must be an integer")
    if kind is not int and not isinstance(value, kind):
        raise ProtocolError(BAD_FIELD, name + " has the wrong type")
    return value


def _req_id(body, name="id"):
    value = _field(body, name, str)
    if not ids.valid(value):
        raise ProtocolError(BAD_FIELD, name + " is not a request id")
    return value


def _count(body, name, lo):
    value = _field(body, name, int)
    if not lo <= value <= _MAX_UNITS:
        raise ProtocolError(BAD_FIELD, "%s out of range" % name)
    return value


def check_card(card, name):
    if not isinstance(card, str) or not 4 <= len(card) <= 64:
        raise ProtocolError(BAD_FIELD, name + " length")
    for ch in card:
        if ch not in _CARD_CHARS:
            raise ProtocolError(BAD_FIELD, name + " characters")


def _check_reply(body):
    kind = _field(body, "k", str)
    if kind not in (GRANT, DENY, ACK, ERROR):
        raise ProtocolError(BAD_FIELD, "k")
    _req_id(body, "re")
    if kind == GRANT:
        _field(body, "hold", str)
        _count(body, "units", 1)
        _field(body, "amount", int)
    elif kind == ACK:
        _field(body, "posted", int)
        for name in ("balance", "bonus", "short"):
            if name in body:
                _field(body, name, int)
    else:
        _field(body, "code", str)


def parse(data):
    """The JSON object in a message body (bytes), not yet checked against any rules."""
    if len(data) > MAX_BODY:
        raise ProtocolError(TOO_LARGE, "%d bytes" % len(data))
    try:
        body = json.loads(data)
    except (ValueError, TypeError, UnicodeError, RuntimeError):
        # RuntimeError: CPython's RecursionError (deep nesting; about 1,000 "["
        # fit in MAX_BODY). MicroPython's json parses nesting without recursing.
        raise ProtocolError(BAD_JSON, "not JSON")
    if not isinstance(body, dict):
        raise ProtocolError(BAD_JSON, "not an object")
    return body


def decode(kind, data):
    """Parse and validate a reply (dn/reply): the one kind checked here.
    Commands: protocol/manage.py; what controllers send: protocol/hub_side.py."""
    if kind != topics.REPLY:
        raise ProtocolError(BAD_TOPIC, "%r is not a reply" % (kind,))
    body = parse(data)
    _check_reply(body)
    return body
