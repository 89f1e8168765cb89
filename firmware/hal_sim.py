# Simulated board for the HIL suite and the controller tests. Nothing here
# polls: a reader blocks on an Event until a card is injected, so thousands
# of simulated boards can share one event loop.
import asyncio

from firmware import hal
from firmware.hal import ticks_ms


class SimRelay:
    """Records each change as (ms, relay index, on) in the board's timeline."""

    def __init__(self, index, timeline):
        self.index = index
        self._timeline = timeline
        self._on = False

    def on(self):
        self._set(True)

    def off(self):
        self._set(False)

    def value(self):
        return self._on

    def _set(self, on):
        if on != self._on:
            self._on = on
            self._timeline.append((ticks_ms(), self.index, on))


class SimReader:
    def __init__(self):
        self.resets = 0
        self._cards = []
        self._ready = asyncio.Event()

    def inject(self, uid):
        self._cards.append(uid.upper())
        self._ready.set()

    def clear(self):
        self._cards = []

    async def read(self):
        while not self._cards:
            self._ready.clear()
            await self._ready.wait()
        return self._cards.pop(0)


class SimIndicator:
    def __init__(self):
        self.signals = []
        self.log = []  # (ms, kind)

    def signal(self, kind):
        self.signals.append(kind)
        self.log.append((ticks_ms(), kind))


class SimInput:
    """A pulse input or button; tests call pulse(n) / press() to inject edges."""

    def __init__(self):
        self.count = 0
        self._edge = asyncio.Event()

    def pulse(self, n=1):
        self.count += n
        self._edge.set()

    press = pulse

    def clear(self):
        self._edge.clear()

    async def wait(self):
        await self._edge.wait()
        self._edge.clear()


class SimWatchdog:
    def __init__(self, timeout_ms):
        self.timeout_ms = timeout_ms
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class SimBoard:
    def __init__(self, flash_dir, relays=1):
        self.flash_dir = flash_dir
        self.timeline = []
        self.relays = [SimRelay(i, self.timeline) for i in range(relays)]
        self.reader = SimReader()
        self.indicator = SimIndicator()
        self.sensor = SimInput()
        self.button = SimInput()
        self.wdt = None
        self.rssi_dbm = -55
        self.reboots = 0
        self.on_reboot = None  # what the simulation does on reboot(), e.g. restart the app

    def rssi(self):
        return self.rssi_dbm

    def reboot(self):
        self.reboots += 1
        if self.on_reboot is not None:
            self.on_reboot()

    def watchdog(self, timeout_ms):
        self.wdt = SimWatchdog(timeout_ms)
        return self.wdt

    def tasks(self, cfg):
        return []

    def power_off(self):
        """What losing power does to the hardware: relays drop, the reader forgets."""
        hal.all_off(self.relays)
        self.reader.clear()
        self.wdt = None

    def pulses(self, relay=0):
        n = 0
        for _ms, index, on in self.timeline:
            if index == relay and on:
                n += 1
        return n
