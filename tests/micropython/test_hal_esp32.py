# The ESP32 board's pulse inputs and relays (firmware/hal_esp32.py) on stand-ins
# for `machine` and `network` that behave as the ESP32 port documents them: no
# hard pin IRQs (irq(hard=...) is an unknown keyword), soft timer callbacks only
# (Timer.init(hard=True) raises ValueError), and machine.Counter on the PCNT from
# MicroPython 1.26. Runs under the real MicroPython interpreter and CPython.
import sys

from firmware.hal import sleep_ms


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 2
    IRQ_FALLING = 2

    def __init__(self, number, mode=None, pull=None, value=None):
        self.number = number
        self.level = 1 if value is None else value
        self.handler = None

    def value(self, level=None):
        if level is None:
            return self.level
        self.level = level

    def irq(self, handler=None, trigger=3, wake=None):
        self.handler = handler


class Timer:
    ONE_SHOT = 0

    def __init__(self, index):
        self.index = index
        self.period = None
        self.callback = None

    def init(self, mode=1, period=-1, callback=None, hard=False):
        if hard:
            raise ValueError("hard timers not supported")  # the ESP32 port
        self.period = period
        self.callback = callback


class Counter:
    FALLING = 2

    def __init__(self, unit, src, edge=1, filter_ns=0):
        self.unit = unit
        self.src = src
        self.edge = edge
        self.filter_ns = filter_ns
        self.edges = 0

    def value(self):
        return self.edges


class Machine:
    Pin = Pin
    Timer = Timer

    def __init__(self, counter=False):
        if counter:
            self.Counter = Counter


class Flag:
    """asyncio.ThreadSafeFlag where the port lacks it (the WebAssembly one has no IRQs)."""

    def __init__(self):
        import asyncio

        self._event = asyncio.Event()

    def set(self):
        self._event.set()

    def clear(self):
        self._event.clear()

    async def wait(self):
        await self._event.wait()
        self._event.clear()


_added = []  # asyncio, when load() gave it the stand-in flag


def load(counter=False):
    """firmware.hal_esp32 imported against a fresh stand-in for machine."""
    import asyncio

    if not hasattr(asyncio, "ThreadSafeFlag"):
        asyncio.ThreadSafeFlag = Flag
        _added.append(asyncio)
    sys.modules["machine"] = Machine(counter)
    sys.modules["network"] = Machine()
    sys.modules.pop("firmware.hal_esp32", None)
    import firmware.hal_esp32 as hal_esp32

    return hal_esp32


def unload():
    while _added:
        del _added.pop().ThreadSafeFlag
    for name in ("machine", "network", "firmware.hal_esp32"):
        sys.modules.pop(name, None)
    import firmware

    try:
        delattr(firmware, "hal_esp32")
    except (AttributeError, TypeError):
        pass


async def test_an_irq_counted_input_drops_bounce_and_spikes():
    hal_esp32 = load()
    clock = [0]  # µs, set by the test: a busy machine must not turn a bounce into a coin
    hal_esp32.ticks_us = lambda: clock[0]
    try:
        sensor = hal_esp32.Input(25, 0)  # no Counter on this port: the IRQ counts
        pin = sensor._pin
        clock[0] = 2000
        pin.level = 0
        pin.handler(pin)  # a coin
        clock[0] = 2300
        pin.handler(pin)  # its contact bouncing, 0.3 ms later
        assert sensor.count == 1
        clock[0] = 4000
        pin.level = 1  # a spike: the line is high again when the IRQ looks
        pin.handler(pin)
        assert sensor.count == 1
        pin.level = 0
        pin.handler(pin)  # the next coin, 2 ms after the first
        assert sensor.count == 2
    finally:
        unload()


async def test_a_pcnt_counted_input_counts_in_hardware_and_wakes_waiters():
    hal_esp32 = load(counter=True)
    try:
        sensor = hal_esp32.Input(25, 0)
        counter = sensor._counter
        assert counter.edge == Counter.FALLING and 0 < counter.filter_ns <= 12800
        assert sensor._pin.handler is None  # no IRQ: the chip counts
        counter.edges = 5  # counted while the VM was busy
        assert sensor.count == 5
        sensor.clear()
        woke = []

        async def waiter():
            await sensor.wait()
            woke.append(sensor.count)

        import asyncio

        task = asyncio.create_task(waiter())
        await sleep_ms(30)
        assert woke == []
        counter.edges = 7
        await sleep_ms(40)
        assert woke == [7]
        task.cancel()
    finally:
        unload()


async def test_a_relay_pulse_is_ended_by_the_timer_not_by_the_event_loop():
    hal_esp32 = load()
    try:
        timer = Timer(0)
        relay = hal_esp32.Relay(26, False, timer)
        relay.pulse(120)
        assert relay.value() and timer.period == 120
        timer.callback(timer)  # the timer fires: whatever the event loop is doing
        assert not relay.value()
        low = hal_esp32.Relay(27, True, Timer(1))
        assert not low.value() and low._pin.level == 1
        low.pulse(50)
        assert low.value() and low._pin.level == 0
    finally:
        unload()


class WLAN:
    """A station that fails as scripted: statuses to report while connecting."""

    def __init__(self, script):
        self.script = list(script)  # per connect(): list of statuses; GOT_IP (1010) connects
        self.calls = []
        self.connected = False
        self.PM_NONE = 0

    def active(self, on=None):
        return True

    def config(self, **kw):
        self.calls.append(("config", kw))

    def isconnected(self):
        return self.connected

    def disconnect(self):
        self.calls.append("disconnect")
        self.connected = False

    def connect(self, ssid, password):
        self.calls.append("connect")
        self.statuses = self.script.pop(0) if self.script else [1001]

    def status(self, name=None):
        st = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if st == 1010:
            self.connected = True
        return st

    def ifconfig(self):
        return ("10.0.0.9", "255.255.255.0", "10.0.0.1", "10.0.0.1")


async def test_wifi_is_kept_as_mqtt_as_does_it():
    import asyncio

    hal_esp32 = load()
    wlan = WLAN([[1001, 202], [1001, 1001, 1010]])  # a wrong password, then it connects
    sys.modules["network"].WLAN = lambda interface=0: wlan
    sys.modules["network"].STA_IF = 0
    hal_esp32._WIFI_PAUSE_MS = hal_esp32._WIFI_POLL_MS = 5
    hal_esp32._WIFI_STEADY_MS = 20
    try:
        task = asyncio.create_task(hal_esp32._keep_wifi({"ssid": "park", "password": "x"}))
        for _ in range(200):
            await sleep_ms(5)
            if wlan.connected:
                break
        await sleep_ms(60)
        task.cancel()
        assert wlan.calls[0] == ("config", {"pm": 0})  # power saving off
        # Each attempt: disconnect first (the port's own reconnection stops), then connect.
        assert wlan.calls[1:5] == ["disconnect", "connect", "disconnect", "connect"], wlan.calls
        assert wlan.connected
    finally:
        unload()


def test_the_broker_is_resolved_once_and_a_failed_connect_closes_its_socket():
    hal_esp32 = load()
    resolved, sockets = [], []

    class Socket:
        def __init__(self, *args):
            self.closed = False
            sockets.append(self)

        def setblocking(self, flag):
            pass

        def connect(self, addr):
            raise OSError(111, "ECONNREFUSED")

        def close(self):
            self.closed = True

    class SocketModule:
        SOCK_STREAM = 1
        socket = Socket

        @staticmethod
        def getaddrinfo(host, port, family=0, kind=0):
            resolved.append(host)
            return [(2, 1, 0, "", ("10.0.0.2", port))]

    sys.modules["socket"] = SocketModule
    try:
        link = hal_esp32.BrokerLink()
        for _ in range(2):
            attempt = link.open("broker.park", 1883)
            try:
                next(attempt)
                raise AssertionError("connected to nothing")
            except OSError:
                pass
        assert resolved == ["broker.park"]  # once: getaddrinfo blocks the event loop
        assert len(sockets) == 2 and all(s.closed for s in sockets)
        assert link.addr == ("10.0.0.2", 1883)
    finally:
        sys.modules.pop("socket", None)
        unload()
