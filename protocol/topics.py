# Topic scheme: tg/<site>/<device>/<direction>/<kind>
#   up   = controller -> hub  (tap, report, status)
#   dn   = hub -> controller  (reply)
# A device's broker ACL allows it to publish only under its own "up" topics
# and to subscribe only to its own "dn" topics.
from protocol.errors import ProtocolError, BAD_TOPIC

PREFIX = "tg"
UP = "up"
DOWN = "dn"

TAP = "tap"
REPORT = "report"
STATUS = "status"
REPLY = "reply"

UP_KINDS = (TAP, REPORT, STATUS)
DOWN_KINDS = (REPLY,)

# What the hub subscribes to (prefix with "$share/<group>/" to spread the
# load over several hub processes).
HUB_FILTER = PREFIX + "/+/+/" + UP + "/+"

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
MAX_ID_LEN = 40


def valid_id(name):
    if not isinstance(name, str) or not 0 < len(name) <= MAX_ID_LEN:
        return False
    for ch in name:
        if ch not in _ID_CHARS:
            return False
    return True


def _check(site, device):
    if not valid_id(site):
        raise ProtocolError(BAD_TOPIC, "bad site id %r" % (site,))
    if not valid_id(device):
        raise ProtocolError(BAD_TOPIC, "bad device id %r" % (device,))


def up(site, device, kind):
    _check(site, device)
    return "%s/%s/%s/%s/%s" % (PREFIX, site, device, UP, kind)


def down(site, device, kind=REPLY):
    _check(site, device)
    return "%s/%s/%s/%s/%s" % (PREFIX, site, device, DOWN, kind)


def parse(topic):
    """Split a topic into (site, device, direction, kind) or raise ProtocolError."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != PREFIX:
        raise ProtocolError(BAD_TOPIC, topic)
    site, device, direction, kind = parts[1], parts[2], parts[3], parts[4]
    _check(site, device)
    if direction == UP:
        allowed = UP_KINDS
    elif direction == DOWN:
        allowed = DOWN_KINDS
    else:
        raise ProtocolError(BAD_TOPIC, "bad direction %r" % direction)
    if kind not in allowed:
        raise ProtocolError(BAD_TOPIC, "bad kind %r" % kind)
    return site, device, direction, kind
