# Offline vends: the hub did not answer a tap (firmware.controller.vend) and
# the profile allows them (offline_units_card / offline_units_device > 0).
#
# The units still allowed are read from the journal: units delivered offline
# that the hub has not yet booked count against both limits. So the limits
# come back as the hub acknowledges the replayed vends - not merely when it
# answers again (a flaky link would reset them over and over), and not at a
# reboot (the journal is on flash).
#
# An offline vend is journaled before the relay moves, like a grant, under a
# request id taken now ("off", the hub books it once per id); when the machine
# is done the entry gets what it delivered (0 drops it: nothing to book). At
# most MAX_EVENTS are kept: when they are all waiting for the hub, further
# offline vends are refused, so the journal stays small.
from firmware import hal
from firmware.hal import ticks_ms
from protocol import topics

MAX_EVENTS = 32
LIMIT = "offline_limit"  # the result code of a vend refused offline


def allowed(journal, card, profile):
    """Units card may still get offline."""
    events = device = mine = 0
    for entry in journal:
        body = entry["body"]
        if "off" in body:
            events += 1
            n = entry["units"] if entry.get("open") else body["delivered"]
            device += n
            if body["card"] == card:
                mine += n
    if events >= MAX_EVENTS:
        return 0
    return min(profile["offline_units_card"] - mine, profile["offline_units_device"] - device)


async def vend(ctl, card, units):
    """Deliver without the hub if the limits allow: (outcome, code) for the result."""
    n = min(units, allowed(ctl.journal, card, ctl.profile))
    if n <= 0:
        ctl.counters["denied"] += 1
        ctl.board.indicator.signal(hal.DENY)
        return "deny", LIMIT
    off = ctl.link.ids.next()
    ctl.add(
        topics.REPORT,
        {"off": off, "card": card, "delivered": 0},
        units=n,
        open=True,
        ms=ticks_ms(),
        boot=ctl.link.ids.boot,
    )
    ctl.counters["offline"] += 1
    ctl.board.indicator.signal(hal.GRANT)
    await ctl.machine.grant(off, n, ctl.report)
    return "offline", None
