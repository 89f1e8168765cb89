# Simulated board for the HIL suite and the controller tests. Nothing here
# polls: a reader blocks on an Event until a card is injected, so thousands
# of simulated boards can share one event loop.
import asyncio

from firmware import hal
from firmware.hal import sleep_ms, ticks_diff, ticks_ms


class SimRelay:
    """Records each change as (ms, relay index, on) in the board's timeline.
    pulse(ms) ends the pulse from the board's timer (a thread under CPython: it
    switches the relay off on time even while the event loop is blocked, as the
    ESP32's hardware timer does); on MicroPython the caller's off() ends it."""

    def __init__(self, index, timeline):
        self.index = index
        self._timeline = timeline
        self._on = False
        self._pulse = 0  # which pulse the timer may end (a later on() is not its business)

    def on(self):
        self._pulse += 1
        self._set(True)

    def off(self):
        self._set(False)

    def pulse(self, ms):
        self.on()
        if _timer is not None:
            _timer.arm(ms, self._end, self._pulse)

    def _end(self, pulse):
        if pulse == self._pulse:
            self._set(False)

    def value(self):
        return self._on

    def _set(self, on):
        if on != self._on:
            self._on = on
            self._timeline.append((ticks_ms(), self.index, on))


class _TimerThread:
    """One thread for every simulated board's relay timers: a fleet of boards costs
    one thread, not one per pulse."""

    def __init__(self, threading):
        import heapq

        self._heapq = heapq
        self._due = []
        self._n = 0
        self._cv = threading.Condition()
        threading.Thread(target=self._run, name="sim-relay-timers", daemon=True).start()

    def arm(self, ms, fn, arg):
        with self._cv:
            self._n += 1
            self._heapq.heappush(self._due, (ticks_ms() + ms, self._n, fn, arg))
            self._cv.notify()

    def _run(self):
        while True:
            with self._cv:
                while not self._due or self._due[0][0] > ticks_ms():
                    wait = (self._due[0][0] - ticks_ms()) / 1000 if self._due else None
                    self._cv.wait(wait)
                _at, _n, fn, arg = self._heapq.heappop(self._due)
            fn(arg)


try:
    import threading

    _timer = _TimerThread(threading)
except ImportError:  # MicroPython (the lane): no threads; the caller's off() ends a pulse
    _timer = None


class SimReader:
    """Cards come from inject(); last_sun is the SUN data given with the card
    read() just returned (an NTAG 424 DNA tag), as firmware/readers do."""

    def __init__(self):
        self.resets = 0
        self.last_sun = None
        self._cards = []
        self._ready = asyncio.Event()

    def inject(self, uid, sun=None):
        self._cards.append((uid.upper(), sun))
        self._ready.set()

    def clear(self):
        self._cards = []

    async def read(self):
        self.last_sun = None
        while not self._cards:
            self._ready.clear()
            await self._ready.wait()
        uid, self.last_sun = self._cards.pop(0)
        return uid


def hanging_reader():
    """A reader on the real health loop (firmware/readers/base.py) over a
    simulated chip: hang() makes the chip stop answering, as readers do after
    days, until the loop re-initialises it. It polls (every 10 ms): use it for
    a few boards, not for a fleet."""
    from firmware.readers.base import Reader

    class HangingReader(Reader):
        def __init__(self):
            Reader.__init__(self)
            self.poll_ms = 10
            self.check_ms = 200
            self.retry_ms = 50
            self.hung = False
            self.inits = 0
            self._cards = []

        def inject(self, uid, sun=None):
            self._cards.append((uid.upper(), sun))

        def clear(self):
            self._cards = []

        def hang(self):
            self.hung = True

        async def init(self):
            self.inits += 1
            self.hung = False  # a reset brings the chip back

        async def alive(self):
            return not self.hung

        async def poll(self):
            if self.hung:
                raise OSError("reader does not answer (simulated)")
            if not self._cards:
                return None
            uid, self.last_sun = self._cards.pop(0)
            return uid

    return HangingReader()


class SimDisplay:
    """A 2-line text display; lines is what it shows now, log every change."""

    def __init__(self):
        self.lines = ("", "")
        self.log = []

    def show(self, line1, line2=""):
        self.lines = (line1, line2)
        self.log.append(self.lines)


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
    """Counts feeds; armed with expire(), it calls it when timeout_ms pass without one."""

    def __init__(self, timeout_ms, expire=None):
        self.timeout_ms = timeout_ms
        self.feeds = 0
        self._fed = ticks_ms()
        self._task = None if expire is None else asyncio.create_task(self._watch(expire))

    def feed(self):
        self.feeds += 1
        self._fed = ticks_ms()

    async def _watch(self, expire):
        while True:
            left = self.timeout_ms - ticks_diff(ticks_ms(), self._fed)
            if left <= 0:
                self._task = None
                expire()
                return
            await sleep_ms(left)

    def stop(self):
        if self._task is not None:
            self._task.cancel()


class SimBoard:
    """wdt_ms: None, a watchdog that never bites (the default); a number, a
    watchdog that reboots the board (reboot()) when the firmware has not fed it
    for that long (instead of the firmware's own, longer timeout)."""

    def __init__(self, flash_dir, relays=1, reader=None):
        self.flash_dir = flash_dir
        self.timeline = []
        self.relays = [SimRelay(i, self.timeline) for i in range(relays)]
        self.reader = reader or SimReader()
        self.indicator = SimIndicator()
        self.sensor = SimInput()
        self.button = SimInput()
        self.display = SimDisplay()
        self.wdt = None
        self.wdt_ms = None
        self.watchdog_resets = 0
        self.rssi_dbm = -55
        self.reboots = 0
        self.last_reset = "power_on"  # reset_cause(): what started the running app
        self.wifi = True  # network_up(): False while the simulated Wi-Fi is lost
        self.on_reboot = None  # what the simulation does on reboot(), e.g. restart the app

    def rssi(self):
        return self.rssi_dbm

    def reset_cause(self):
        return self.last_reset

    def network_up(self):
        return self.wifi

    def reboot(self):
        self.reboots += 1
        self.last_reset = "soft"
        if self.on_reboot is not None:
            self.on_reboot()

    def watchdog(self, timeout_ms):
        if self.wdt_ms is None:
            self.wdt = SimWatchdog(timeout_ms)
        else:
            self.wdt = SimWatchdog(self.wdt_ms, self._bite)
        return self.wdt

    def _bite(self):
        self.watchdog_resets += 1
        self.reboot()
        self.last_reset = "watchdog"

    def tasks(self, cfg):
        return []

    def power_off(self):
        """What losing power does to the hardware: relays drop, the reader forgets."""
        hal.all_off(self.relays)
        self.reader.clear()
        if self.wdt is not None:
            self.wdt.stop()
        self.wdt = None

    def pulses(self, relay=0):
        n = 0
        for _ms, index, on in self.timeline:
            if index == relay and on:
                n += 1
        return n
