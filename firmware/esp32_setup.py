# What the ESP32 board (firmware/hal_esp32.py) needs only to start, or when it cannot:
# the parts a provisioning file's pins make, and fault(). Loaded by Board() and dropped
# once the board is built (firmware.hal.unload), so none of it stays on the heap.
import asyncio

import machine
import network

from firmware.hal import sleep_ms
from firmware.hal_esp32 import BrokerLink, Indicator, Input, Relay


def build(board, pins):
    """Board.__init__'s parts, from validated pins."""
    board.relays = [Relay(n, pins["relay_active_low"], _timer(i)) for i, n in enumerate(pins["relays"])]
    board.indicator = Indicator(pins["indicator"], pins["buzzer"])
    # The pulse input (coins, flow) gets the hardware counter; a button is pressed by hand.
    board.sensor = _input(pins["sensor"], 0)
    board.button = _input(pins["button"])
    board.reader = make_reader(pins["reader"])
    board.display = make_display(pins["display"])
    board._broker = BrokerLink()


_FAULT_MS = 10000  # between two attempts at starting


def fault(err, attempt):
    """A board that cannot start (firmware/faults.py): the first time and every sixth, the
    reason goes to the broker as a retained status (when the file's identity, broker and
    Wi-Fi work); the indicator LED (the provisioned one if the file says, else GPIO 2)
    blinks fast for _FAULT_MS; then the next attempt."""
    import json
    import time

    if attempt == 1 or attempt % 6 == 0:
        try:
            from firmware import faults

            told = asyncio.run(faults.tell_hub("%s: %s" % (type(err).__name__, err), network=_wifi_once))
            print("tapgift: the reason is on the broker" if told else "tapgift: the broker could not be told")
        except Exception:
            pass

    number = 2
    try:
        with open("/provision.json") as f:
            number = json.loads(f.read())["pins"]["indicator"]
    except Exception:
        pass
    led = None
    try:
        if isinstance(number, int) and 0 <= number < 34:
            led = machine.Pin(number, machine.Pin.OUT, value=0)
    except Exception:
        pass
    for i in range(_FAULT_MS // 100):
        if led is not None:
            led.value(i % 2)
        time.sleep_ms(100)
    if led is not None:
        led.value(0)


def _input(number, unit=None):
    return None if number is None else Input(number, unit)


def _timer(index):
    """Hardware timer index (the ESP32 has 0..3) for relay index, or None."""
    Timer = getattr(machine, "Timer", None)
    if Timer is None or index > 3:
        return None
    try:
        return Timer(index)
    except (TypeError, ValueError, OSError):
        return None


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


async def _wifi_once(wifi, ms=15000):
    """On the Wi-Fi once, for a board that cannot start (fault): no retries."""
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected() and wifi.get("ssid"):
        wlan.connect(wifi["ssid"], wifi.get("password", ""))
        waited = 0
        while not wlan.isconnected() and waited < ms:
            await sleep_ms(250)
            waited += 250
