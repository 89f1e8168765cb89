# What every machine profile shares. The controller hands each tap to
# `await profile.serve(card)`; a machine that sells units lets the controller
# ask the hub (ctl.vend), which on a grant calls
# `await profile.grant(hold, units, report)`: the profile delivers and calls
# report(hold, delivered) with what it really delivered (the controller
# journals it and sends it). Relays are off whenever grant() leaves, except in
# a profile that delivers in the background (billiard): it returns at once,
# reports later, and stop() ends that work (relays off) when the controller
# stops. A profile with its own way of serving (kiosk) overrides serve(); the
# controller tells it what the hub answered to journaled entries (settled).
import asyncio

from firmware import hal
from firmware.hal import sleep_ms, ticks_diff, ticks_ms, wait_for_ms


class Profile:
    def __init__(self, board, profile):
        self.board = board
        self.profile = profile
        self.ctl = None

    def attach(self, ctl):
        """Called once by the controller, after it has read its journal."""
        self.ctl = ctl

    def serve(self, card):
        return self.ctl.vend(card)

    def settled(self, entry, reply):
        """The hub answered a journaled entry (report, top-up)."""

    def tap_fields(self, body):
        """Add kind-specific fields to the tap request body."""

    async def grant(self, hold, units, report):
        try:
            delivered = await self.deliver(units)
        finally:
            hal.all_off(self.board.relays)
        report(hold, min(delivered, units))

    async def deliver(self, units):
        raise NotImplementedError

    def stop(self):
        pass

    async def pulse(self, units):
        """units relay pulses of pulse_ms, gap_ms apart; returns how many were given.
        relay.pulse() arms the board's timer to end each pulse on time even when the
        event loop is held up (a DNS lookup, a flash erase, a garbage collection); the
        off() after the sleep is the second line of defence."""
        relay = self.board.relays[0]
        ms = self.profile["pulse_ms"]
        delivered = 0
        for i in range(units):
            if i:
                await sleep_ms(self.profile["gap_ms"])
            relay.pulse(ms)
            await sleep_ms(ms)
            relay.off()
            delivered += 1
        return delivered

    async def wait_count(self, want, ms):
        """Wait until board.sensor has counted `want` (or ms passed); returns its count."""
        sensor = self.board.sensor
        start = ticks_ms()
        while sensor.count < want:
            left = ms - ticks_diff(ticks_ms(), start)
            if left <= 0 or not await wait_edge(sensor, left):
                break
        return sensor.count


async def wait_edge(source, ms):
    """True when source.wait() returned within ms, False on timeout."""
    try:
        await wait_for_ms(source.wait(), ms)
        return True
    except asyncio.TimeoutError:
        return False
