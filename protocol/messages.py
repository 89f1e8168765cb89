# Message bodies (JSON objects) and their validation. A body that fails
# validation raises ProtocolError with a precise code and the field at fault.
#
#   up/tap     {"id": "3-17", "card": "04A1B2C3D4", "units": 2}
#   up/report  {"id": "3-18", "hold": "h-...", "delivered": 1}
#   up/status  {"state": "online" | "offline", "fw": "0.1.0"}
#   dn/reply   {"k": "grant", "re": "3-17", "hold": "...", "units": 2, "amount": 500, "balance": 1500}
#              {"k": "deny",  "re": "3-17", "code": "insufficient_funds", "balance": 100}
#              {"k": "ack",   "re": "3-18", "posted": 250, "voided": 250}
#              {"k": "error", "re": "3-18", "code": "unknown_hold"}
import json

from protocol import ids
from protocol import topics
from protocol.errors import ProtocolError, BAD_JSON, BAD_FIELD, TOO_LARGE

MAX_BODY = 1024
MAX_UNITS = 1000

GRANT = "grant"
DENY = "deny"
ACK = "ack"
ERROR = "error"
REPLY_KINDS = (GRANT, DENY, ACK, ERROR)

# Reason codes in deny/error replies.
INSUFFICIENT_FUNDS = "insufficient_funds"
UNKNOWN_CARD = "unknown_card"
BLOCKED_CARD = "blocked_card"
UNKNOWN_DEVICE = "unknown_device"
UNKNOWN_HOLD = "unknown_hold"
BAD_REQUEST = "bad_request"
HUB_BUSY = "hub_busy"

_HEXISH = "0123456789abcdefABCDEF"
_CARD_CHARS = _HEXISH + "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ_-:."


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


def _card(body):
    card = _field(body, "card", str)
    if not 4 <= len(card) <= 64:
        raise ProtocolError(BAD_FIELD, "card length")
    for ch in card:
        if ch not in _CARD_CHARS:
            raise ProtocolError(BAD_FIELD, "card characters")
    return card


def _count(body, name, lo, hi):
    value = _field(body, name, int)
    if not lo <= value <= hi:
        raise ProtocolError(BAD_FIELD, "%s out of range" % name)
    return value


def _check_tap(body):
    _req_id(body)
    _card(body)
    _count(body, "units", 1, MAX_UNITS)


def _check_report(body):
    _req_id(body)
    hold = _field(body, "hold", str)
    if not 0 < len(hold) <= 64:
        raise ProtocolError(BAD_FIELD, "hold")
    _count(body, "delivered", 0, MAX_UNITS)


def _check_status(body):
    state = _field(body, "state", str)
    if state not in ("online", "offline"):
        raise ProtocolError(BAD_FIELD, "state")


def _check_reply(body):
    kind = _field(body, "k", str)
    if kind not in REPLY_KINDS:
        raise ProtocolError(BAD_FIELD, "k")
    _req_id(body, "re")
    if kind == GRANT:
        _field(body, "hold", str)
        _count(body, "units", 1, MAX_UNITS)
        _field(body, "amount", int)
    elif kind in (DENY, ERROR):
        _field(body, "code", str)
    else:
        _field(body, "posted", int)


_CHECKS = {
    topics.TAP: _check_tap,
    topics.REPORT: _check_report,
    topics.STATUS: _check_status,
    topics.REPLY: _check_reply,
}


def decode(kind, body_bytes):
    """Parse and validate the body of a message of the given topic kind."""
    if len(body_bytes) > MAX_BODY:
        raise ProtocolError(TOO_LARGE, "%d bytes" % len(body_bytes))
    try:
        body = json.loads(body_bytes)
    except (ValueError, TypeError, UnicodeError):
        raise ProtocolError(BAD_JSON, "not JSON")
    if not isinstance(body, dict):
        raise ProtocolError(BAD_JSON, "not an object")
    check = _CHECKS.get(kind)
    if check is None:
        raise ProtocolError(BAD_FIELD, "unknown kind %r" % (kind,))
    check(body)
    return body


def receive(signer_for, topic, payload):
    """Verify and decode one message: (site, device, kind, body).

    signer_for(site, device) returns the device's Signer or None (unknown).
    """
    site, device, _direction, kind = topics.parse(topic)
    signer = signer_for(site, device)
    if signer is None:
        raise ProtocolError(UNKNOWN_DEVICE, device)
    body = signer.open(topic, payload)
    return site, device, kind, decode(kind, body)
