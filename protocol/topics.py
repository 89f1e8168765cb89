# Topic scheme: tg/<site>/<device>/<direction>/<kind>
#   up   = controller -> hub  (tap, report, topup, status, health, cmdack, fw)
#   dn   = hub -> controller  (reply, cmd, fw)
# A device's broker ACL allows it to publish only under its own "up" topics
# and to subscribe only to its own "dn" topics. Only the hub parses topics:
# protocol/hub_side.py parse().
from protocol import BAD_TOPIC, ProtocolError, const

TAP = "tap"
REPORT = "report"
STATUS = "status"
REPLY = "reply"
HEALTH = "health"
CMDACK = "cmdack"
CMD = "cmd"
TOPUP = "topup"  # a kiosk's counted cash (checked by protocol/hub_side.py)
FW = "fw"  # updates over the air, both ways (firmware/ota.py, hub/devices/firmware_updates.py)

# What the hub subscribes to (prefix with "$share/<group>/" to spread the
# load over several hub processes).
HUB_FILTER = "tg/+/+/up/+"

_ID_CHARS = const("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_MAX_ID_LEN = const(40)


def valid_id(name):
    if not isinstance(name, str) or not 0 < len(name) <= _MAX_ID_LEN:
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
    return "tg/%s/%s/up/%s" % (site, device, kind)


def down(site, device, kind=REPLY):
    _check(site, device)
    return "tg/%s/%s/dn/%s" % (site, device, kind)
