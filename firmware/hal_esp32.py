# The real board: relays and indicator on GPIO, the card reader chosen by the
# provisioning file (pins.reader, see firmware/config.py and firmware/readers),
# the hardware watchdog and Wi-Fi. Imported only on an ESP32 (by app.main).
import asyncio

import machine
import network

from firmware import hal
from firmware.hal import sleep_ms


class Relay:
    def __init__(self, number, active_low):
        self._on_level = 0 if active_low else 1
        self._pin = machine.Pin(number, machine.Pin.OUT, value=1 - self._on_level)

    def on(self):
        self._pin.value(self._on_level)

    def off(self):
        self._pin.value(1 - self._on_level)

    def value(self):
        return self._pin.value() == self._on_level


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


class Input:
    """A pulse input or button, active low. The IRQ only counts and sets a flag;
    tasks await the flag, so nothing polls."""

    def __init__(self, number):
        Pin = machine.Pin
        # GPIO 34..39 have no internal pull-up: those need one on the board.
        self._pin = Pin(number, Pin.IN, Pin.PULL_UP if number < 34 else None)
        self.count = 0
        self._flag = asyncio.ThreadSafeFlag()
        self._pin.irq(self._edge, Pin.IRQ_FALLING)

    def _edge(self, _pin):
        self.count += 1
        self._flag.set()

    def clear(self):
        self._flag.clear()

    async def wait(self):
        await self._flag.wait()


class Watchdog:
    def __init__(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        self._wdt.feed()


class Board:
    def __init__(self, pins):
        self.flash_dir = ""  # state files sit at the root of the flash
        self.relays = [Relay(n, pins["relay_active_low"]) for n in pins["relays"]]
        self.indicator = Indicator(pins["indicator"], pins["buzzer"])
        self.sensor = _input(pins["sensor"])
        self.button = _input(pins["button"])
        self.reader = make_reader(pins["reader"])
        self.display = make_display(pins["display"])

    def watchdog(self, timeout_ms):
        return Watchdog(timeout_ms)

    def tasks(self, cfg):
        return [_keep_wifi(cfg.wifi)]

    def rssi(self):
        wlan = network.WLAN(network.STA_IF)
        return wlan.status("rssi") if wlan.isconnected() else None

    def reboot(self):
        machine.reset()


def _input(number):
    return None if number is None else Input(number)


def make_display(spec):
    """A kiosk's LCD (firmware/lcd.py), or None: the indicator speaks for it."""
    if spec is None:
        return None
    from firmware.lcd import LCD

    Pin = machine.Pin
    try:
        return LCD(
            machine.I2C(spec["i2c"], scl=Pin(spec["scl"]), sda=Pin(spec["sda"]), freq=100000), spec["addr"]
        )
    except OSError:
        return None  # not answering: the kiosk still works with the LED and buzzer


def make_reader(spec):
    """The reader of a validated pins.reader; only its driver module is imported.

    Nothing talks to the chip here: the reader initialises itself in its first
    read(), so a dead reader never stops the board from booting."""
    kind = spec["type"]
    Pin = machine.Pin
    rst = None if spec.get("rst") is None else Pin(spec["rst"], Pin.OUT, value=1)
    if kind == "mfrc522":
        from firmware.readers.mfrc522 import MFRC522

        spi = machine.SPI(
            spec["spi"],
            baudrate=1000000,
            polarity=0,
            phase=0,
            sck=Pin(spec["sck"]),
            mosi=Pin(spec["mosi"]),
            miso=Pin(spec["miso"]),
        )
        return MFRC522(spi, Pin(spec["cs"], Pin.OUT, value=1), rst)
    if kind == "pn532_i2c":
        from firmware.readers.pn532 import PN532, I2CBus

        i2c = machine.I2C(spec["i2c"], scl=Pin(spec["scl"]), sda=Pin(spec["sda"]), freq=400000)
        return PN532(I2CBus(i2c, spec["addr"]), rst)
    # timeout=0: read() returns what has arrived and never blocks the event loop.
    uart = machine.UART(
        spec["uart"], baudrate=spec["baud"], tx=spec["tx"], rx=spec["rx"], timeout=0, rxbuf=512
    )
    if kind == "pn532_uart":
        from firmware.readers.pn532 import PN532, UARTBus

        return PN532(UARTBus(uart), rst)
    from firmware.readers.qr import QRScanner

    return QRScanner(uart)


async def _keep_wifi(wifi):
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    while True:
        if not wlan.isconnected():
            try:
                wlan.connect(wifi["ssid"], wifi["password"])
            except OSError:
                pass  # already connecting; check again below
            for _ in range(100):
                if wlan.isconnected():
                    break
                await sleep_ms(100)
        await sleep_ms(2000)
