# The real board: relays and indicator on GPIO, the card reader chosen by the
# provisioning file (pins.reader, see firmware/config.py and firmware/readers),
# the hardware watchdog and Wi-Fi. Imported only on an ESP32 (by app.main).
import asyncio

import machine
import network

try:
    from time import ticks_diff, ticks_us
except ImportError:  # CPython: the tests' stand-in board
    from firmware.hal_cpython import ticks_diff, ticks_us

from firmware import hal
from firmware.hal import sleep_ms


class Relay:
    """timer: a machine.Timer for pulse(), or None. A pulse's end is armed on the
    timer when the relay goes on, so it ends on time however busy the event loop
    is (a DNS lookup, a flash erase, a garbage collection)."""

    def __init__(self, number, active_low, timer=None):
        self._on_level = 0 if active_low else 1
        self._pin = machine.Pin(number, machine.Pin.OUT, value=1 - self._on_level)
        self._timer = timer
        self._expire = self._timed_off  # bound once: a hard IRQ must not allocate

    def on(self):
        self._pin.value(self._on_level)

    def off(self):
        self._pin.value(1 - self._on_level)

    def value(self):
        return self._pin.value() == self._on_level

    def pulse(self, ms):
        """On now, off after ms by the timer (the caller's off() after its own sleep is a
        second line of defence, and a no-op when the timer was first)."""
        timer = self._timer
        self.on()
        if timer is not None:
            try:
                timer.init(mode=machine.Timer.ONE_SHOT, period=ms, callback=self._expire, hard=True)
            except (TypeError, ValueError):  # MicroPython < 1.26: no hard timer callbacks
                timer.init(mode=machine.Timer.ONE_SHOT, period=ms, callback=self._expire)

    def _timed_off(self, _timer):
        self._pin.value(1 - self._on_level)


class Indicator:
    """An LED and an optional buzzer that follows it: one long blink = grant,
    three short = deny, six fast = error, ten slow = warning (session ends soon)."""

    _PATTERNS = {hal.GRANT: (1, 600), hal.DENY: (3, 150), hal.ERROR: (6, 60), hal.WARN: (10, 250)}

    def __init__(self, number, buzzer=None):
        self._pins = [machine.Pin(n, machine.Pin.OUT, value=0) for n in (number, buzzer) if n is not None]

    def signal(self, kind):
        if self._pins:
            count, ms = self._PATTERNS[kind]
            asyncio.create_task(self._blink(count, ms))

    async def _blink(self, count, ms):
        for _ in range(count):
            self._set(1)
            await sleep_ms(ms)
            self._set(0)
            await sleep_ms(ms)

    def _set(self, level):
        for pin in self._pins:
            pin.value(level)


GLITCH_US = 1000  # edges closer than this to the last counted one are noise (bounce, spikes)


class Input:
    """A pulse input or button, active low, counted on falling edges.

    unit: a hardware pulse counter unit (PCNT) for this pin, or None. With one
    (machine.Counter of MicroPython >= 1.26, or esp32.PCNT), the chip counts every
    edge whatever the VM is doing and drops glitches shorter than its filter; wait()
    looks at the count every _POLL_MS. Without one, an IRQ counts (a soft one on the
    ESP32: the port has no hard pin IRQs), and takes an edge only while the pin
    still reads low and GLITCH_US after the last edge it took: bounce and spikes
    on the acceptor's or flow meter's line make no credit."""

    def __init__(self, number, unit=None):
        Pin = machine.Pin
        # GPIO 34..39 have no internal pull-up: those need one on the board.
        self._pin = Pin(number, Pin.IN, Pin.PULL_UP if number < 34 else None)
        self._irq_count = 0
        self._last_us = ticks_us()
        self._seen = 0  # the count when wait() last returned (hardware counter)
        self._flag = None
        self._counter = None if unit is None else _hardware_counter(unit, self._pin)
        if self._counter is None:
            self._flag = asyncio.ThreadSafeFlag()
            self._edge_cb = self._edge  # bound once: a hard IRQ must not allocate
            try:
                self._pin.irq(self._edge_cb, Pin.IRQ_FALLING, hard=True)
            except (TypeError, ValueError):  # no hard pin IRQs on this port (the ESP32)
                self._pin.irq(self._edge_cb, Pin.IRQ_FALLING)
        else:
            self._base = self._counter.value()

    @property
    def count(self):
        if self._counter is None:
            return self._irq_count
        return self._counter.value() - self._base

    def _edge(self, pin):
        now = ticks_us()
        if pin.value() == 0 and ticks_diff(now, self._last_us) >= GLITCH_US:
            self._last_us = now
            self._irq_count += 1
            self._flag.set()

    def clear(self):
        if self._flag is None:
            self._seen = self.count
        else:
            self._flag.clear()

    async def wait(self):
        if self._flag is not None:
            await self._flag.wait()
            return
        while self.count == self._seen:
            await sleep_ms(_POLL_MS)
        self._seen = self.count


_POLL_MS = 10
_FILTER_NS = 12000  # PCNT's glitch filter: at most 1023 APB cycles (12.8 us)


def _hardware_counter(unit, pin):
    """A pulse counter on pin counting falling edges, or None where the port has none."""
    Counter = getattr(machine, "Counter", None)
    if Counter is not None:
        try:
            return Counter(unit, pin, edge=Counter.FALLING, filter_ns=_FILTER_NS)
        except (TypeError, ValueError, OSError):
            pass
    try:
        import esp32

        PCNT = esp32.PCNT
    except (ImportError, AttributeError):
        return None
    try:
        # filter: in ticks of the 80 MHz clock (12.5 ns), at most 1023.
        return PCNT(unit, pin=pin, rising=PCNT.IGNORE, falling=PCNT.INCREMENT, filter=_FILTER_NS * 2 // 25)
    except (TypeError, ValueError, OSError):
        return None


class Watchdog:
    def __init__(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        self._wdt.feed()


class Board:
    def __init__(self, pins):
        self.flash_dir = ""  # state files sit at the root of the flash
        # Built by a module of its own, dropped once built: start-up code leaves the heap.
        from firmware import esp32_setup

        esp32_setup.build(self, pins)
        esp32_setup = None
        hal.unload("firmware.esp32_setup")

    def watchdog(self, timeout_ms):
        return Watchdog(timeout_ms)

    def tasks(self, cfg):
        return [_keep_wifi(cfg.wifi)]

    def open_connection(self, host, port, ssl=None):
        return self._broker.open(host, port, ssl)

    def rssi(self):
        wlan = network.WLAN(network.STA_IF)
        return wlan.status("rssi") if wlan.isconnected() else None

    def network_up(self):
        return network.WLAN(network.STA_IF).isconnected()

    def reboot(self):
        machine.reset()

    def reset_cause(self):
        cause = machine.reset_cause()
        for name, label in _RESET_CAUSES:
            if getattr(machine, name, None) == cause:
                return label
        return "unknown"


_RESET_CAUSES = (
    ("PWRON_RESET", "power_on"),
    ("HARD_RESET", "hard"),
    ("WDT_RESET", "watchdog"),
    ("DEEPSLEEP_RESET", "deep_sleep"),
    ("SOFT_RESET", "soft"),
)
_STAT_IDLE = 1000  # network.STAT_IDLE: below it, the ESP32's Wi-Fi error codes (200..204)
_WIFI_TIMEOUT_MS = 30000
_WIFI_STEADY_MS = 3000
_WIFI_PAUSE_MS = 1000
_WIFI_POLL_MS = 500


async def _keep_wifi(wifi):
    """Keep the station connected, as mqtt_as does on an ESP32: power saving off (it loses
    packets); before connecting again, disconnect and pause (connect() on top of the port's
    own reconnection fails for good); give up an attempt on an error status or after
    _WIFI_TIMEOUT_MS; count a connection only once it has stayed up _WIFI_STEADY_MS. Each
    failure is printed on the console, as the technicians' guide promises."""
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    try:
        wlan.config(pm=wlan.PM_NONE)
    except (AttributeError, ValueError, OSError):
        pass  # an older port without power management settings
    ssid = wifi["ssid"]
    steady = False
    while True:
        if wlan.isconnected():
            if not steady:
                await sleep_ms(_WIFI_STEADY_MS)
                steady = wlan.isconnected()
                if steady:
                    print("tapgift: Wi-Fi %s up, %s" % (ssid, wlan.ifconfig()[0]))
                continue
            await sleep_ms(_WIFI_PAUSE_MS)
            continue
        if steady:
            print("tapgift: Wi-Fi %s lost" % ssid)
        steady = False
        try:
            wlan.disconnect()
        except OSError:
            pass
        await sleep_ms(_WIFI_PAUSE_MS)
        try:
            wlan.connect(ssid, wifi["password"])
        except OSError as err:
            print("tapgift: Wi-Fi %s: cannot connect: %r" % (ssid, err))
        waited = 0
        while not wlan.isconnected() and waited < _WIFI_TIMEOUT_MS:
            await sleep_ms(_WIFI_POLL_MS)
            waited += _WIFI_POLL_MS
            status = wlan.status()
            if isinstance(status, int) and status < _STAT_IDLE:
                print("tapgift: Wi-Fi %s: %s" % (ssid, _WIFI_ERRORS.get(status, "error %d" % status)))
                await sleep_ms(_WIFI_PAUSE_MS)  # mqtt_as: a pause avoids failing for good
                break
        else:
            if not wlan.isconnected():
                print("tapgift: Wi-Fi %s: no connection after %d s" % (ssid, _WIFI_TIMEOUT_MS // 1000))


_WIFI_ERRORS = {
    200: "beacon timeout (out of range?)",
    201: "network not found (SSID?)",
    202: "wrong password",
    203: "association failed",
    204: "handshake timeout (password?)",
}


class BrokerLink:
    """open_connection for the MQTT client on a board, as mqtt_as does it: the broker's name
    resolved once (getaddrinfo blocks the event loop, for seconds when DNS is down), and the
    socket of a connect that fails or times out closed at once (lwIP has ten). Errors are
    printed on the console. A generator, as MicroPython's own open_connection: the event
    loop waits on the socket until it is writable (connected)."""

    def __init__(self):
        self.addr = None

    def open(self, host, port, ssl=None):
        import socket

        if self.addr is None:
            try:
                self.addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
            except OSError as err:
                print("tapgift: broker %s: name not resolved: %r" % (host, err))
                raise
        s = socket.socket()
        try:
            s.setblocking(False)
            try:
                s.connect(self.addr)
            except OSError as err:
                if err.errno != _EINPROGRESS:
                    raise
            if ssl is not None:  # TLS, as MicroPython's open_connection wraps it
                s = ssl.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
                s.setblocking(False)
            from asyncio import core, stream  # MicroPython's asyncio, as its open_connection

            yield core._io_queue.queue_write(s)
            ss = stream.Stream(s)
            return ss, ss
        except BaseException as err:  # a timeout cancels us here too: the socket goes with it
            s.close()
            print("tapgift: broker %s:%d: %r" % (host, port, err))
            raise


_EINPROGRESS = 115
