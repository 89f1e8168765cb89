# A timed table: each grant buys `units` minutes (a minute lasts unit_ms). The
# first grant switches the table on (relay 0) and starts a session that runs
# in the background, so a tap during it is served and extends it (a hold of
# its own). The indicator warns warn_s before the end; the release button
# ends the session early. At the end every hold of the session is reported:
# the minutes used, rounded UP to whole minutes (a started minute is a paid
# minute), are given to the holds in the order they were bought, so a hold
# bought for time never used reports 0 and is voided.
import asyncio

from firmware import hal
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from firmware.profiles import base


class Profile(base.Profile):
    def __init__(self, board, profile):
        base.Profile.__init__(self, board, profile)
        self._holds = []  # [(hold, minutes)] of the running session, oldest first
        self._report = None
        self._start = 0
        self._warned = False
        self._task = None

    async def grant(self, hold, units, report):
        self._holds.append((hold, units))
        self._report = report
        self._warned = False  # an extension re-arms the warning
        if self._task is None:
            self._start = ticks_ms()
            self.board.relays[0].on()
            self._task = asyncio.create_task(self._session())

    def stop(self):
        if self._task is not None:
            self._task.cancel()
        hal.all_off(self.board.relays)

    def _left_ms(self):
        bought = 0
        for _hold, minutes in self._holds:
            bought += minutes
        return bought * self.profile["unit_ms"] - ticks_diff(ticks_ms(), self._start)

    async def _session(self):
        # A session that dies (cancelled, crashed) reports nothing: its holds
        # expire at the hub, which voids them.
        try:
            used = await self._play()
        finally:
            self.board.relays[0].off()
            self._task = None
            holds, self._holds = self._holds, []
        self._finish(holds, used)

    async def _play(self):
        """Until the bought time is over or the button is pressed; returns the ms played."""
        button = self.board.button
        if button is not None:
            button.clear()  # a press before the session is no release
        warn_ms = self.profile["warn_s"] * 1000
        while True:
            left = self._left_ms()
            if left <= 0:
                break
            if not self._warned and warn_ms and left <= warn_ms:
                self._warned = True
                self.board.indicator.signal(hal.WARN)
            # Wake at the warning, else at the end; an extension made
            # meanwhile is seen when it wakes.
            wait = left - warn_ms if warn_ms and not self._warned else left
            if button is None:
                await sleep_ms(wait)
            elif await base.wait_edge(button, wait):
                break
        return ticks_diff(ticks_ms(), self._start)

    def _finish(self, holds, used_ms):
        unit = self.profile["unit_ms"]
        used = (used_ms + unit - 1) // unit
        for hold, minutes in holds:
            delivered = min(minutes, used)
            used -= delivered
            self._report(hold, delivered)
