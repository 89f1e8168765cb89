# The real board: relays and indicator on GPIO, an MFRC522 reader on SPI,
# the hardware watchdog and Wi-Fi. Imported only on an ESP32 (by app.main).
import asyncio
import binascii
import machine
import network
from micropython import const

from firmware import hal
from firmware.hal import sleep_ms, ticks_ms, ticks_diff

_POLL_MS = const(60)  # pause between reader polls when no card is present

# MFRC522 registers and commands (datasheet section 9).
_COMMAND = const(0x01)
_COM_IRQ_EN = const(0x02)
_COM_IRQ = const(0x04)
_DIV_IRQ = const(0x05)
_ERROR = const(0x06)
_FIFO_DATA = const(0x09)
_FIFO_LEVEL = const(0x0A)
_CONTROL = const(0x0C)
_BIT_FRAMING = const(0x0D)
_MODE = const(0x11)
_TX_CONTROL = const(0x14)
_TX_ASK = const(0x15)
_CRC_H = const(0x21)
_CRC_L = const(0x22)
_T_MODE = const(0x2A)
_T_PRESCALER = const(0x2B)
_T_RELOAD_H = const(0x2C)
_T_RELOAD_L = const(0x2D)
_IDLE = const(0x00)
_CALC_CRC = const(0x03)
_TRANSCEIVE = const(0x0C)
_SOFT_RESET = const(0x0F)

# ISO 14443-3 card commands.
_REQA = const(0x26)
_HLTA = const(0x50)
_CASCADE_TAG = const(0x88)
_SELECT = (0x93, 0x95, 0x97)


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
    """An LED: one long blink = grant, three short = deny, six fast = error."""

    _PATTERNS = {hal.GRANT: (1, 600), hal.DENY: (3, 150), hal.ERROR: (6, 60)}

    def __init__(self, number):
        self._pin = None if number is None else machine.Pin(number, machine.Pin.OUT, value=0)

    def signal(self, kind):
        if self._pin is not None:
            count, ms = self._PATTERNS[kind]
            asyncio.create_task(self._blink(count, ms))

    async def _blink(self, count, ms):
        for _ in range(count):
            self._pin.value(1)
            await sleep_ms(ms)
            self._pin.value(0)
            await sleep_ms(ms)


class MFRC522:
    """Just enough of the MFRC522 to read 4- and 7-byte UIDs (ISO 14443A)."""

    def __init__(self, pins):
        self._cs = machine.Pin(pins["cs"], machine.Pin.OUT, value=1)
        machine.Pin(pins["rst"], machine.Pin.OUT, value=1)
        self._spi = machine.SPI(pins["spi"], baudrate=1000000, polarity=0, phase=0,
                                sck=machine.Pin(pins["sck"]), mosi=machine.Pin(pins["mosi"]),
                                miso=machine.Pin(pins["miso"]))
        self._init()

    def _write(self, reg, value):
        self._cs.value(0)
        self._spi.write(bytes(((reg << 1) & 0x7E, value)))
        self._cs.value(1)

    def _read(self, reg):
        self._cs.value(0)
        self._spi.write(bytes((((reg << 1) & 0x7E) | 0x80,)))
        value = self._spi.read(1)[0]
        self._cs.value(1)
        return value

    def _set_bits(self, reg, mask):
        self._write(reg, self._read(reg) | mask)

    def _clear_bits(self, reg, mask):
        self._write(reg, self._read(reg) & ~mask)

    def _init(self):
        self._write(_COMMAND, _SOFT_RESET)
        # Card timeout: prescaler 0xD3E (~2 kHz ticks) x 10 = ~5 ms.
        self._write(_T_MODE, 0x8D)
        self._write(_T_PRESCALER, 0x3E)
        self._write(_T_RELOAD_H, 0)
        self._write(_T_RELOAD_L, 10)
        self._write(_TX_ASK, 0x40)
        self._write(_MODE, 0x3D)
        self._set_bits(_TX_CONTROL, 0x03)  # antenna on

    async def _transceive(self, data, last_bits=0):
        """Send data to the card; (ok, received bytes, received bit count)."""
        self._write(_COM_IRQ_EN, 0xF7)
        self._clear_bits(_COM_IRQ, 0x80)
        self._set_bits(_FIFO_LEVEL, 0x80)
        self._write(_COMMAND, _IDLE)
        for b in data:
            self._write(_FIFO_DATA, b)
        self._write(_BIT_FRAMING, last_bits)
        self._write(_COMMAND, _TRANSCEIVE)
        self._set_bits(_BIT_FRAMING, 0x80)  # start send
        start = ticks_ms()
        while True:
            irq = self._read(_COM_IRQ)
            if irq & 0x30:  # RxIRq or IdleIRq: done
                break
            if irq & 0x01 or ticks_diff(ticks_ms(), start) > 30:  # timer: no card answered
                self._clear_bits(_BIT_FRAMING, 0x80)
                return False, b"", 0
            await sleep_ms(1)
        self._clear_bits(_BIT_FRAMING, 0x80)
        if self._read(_ERROR) & 0x1B:
            return False, b"", 0
        n = self._read(_FIFO_LEVEL)
        rx_last = self._read(_CONTROL) & 0x07
        bits = (n - 1) * 8 + rx_last if rx_last else n * 8
        return True, bytes(self._read(_FIFO_DATA) for _ in range(min(n, 16))), bits

    def _crc(self, data):
        self._clear_bits(_DIV_IRQ, 0x04)
        self._set_bits(_FIFO_LEVEL, 0x80)
        for b in data:
            self._write(_FIFO_DATA, b)
        self._write(_COMMAND, _CALC_CRC)
        for _ in range(255):
            if self._read(_DIV_IRQ) & 0x04:
                break
        return bytes((self._read(_CRC_L), self._read(_CRC_H)))

    async def _with_crc(self, data):
        return await self._transceive(data + self._crc(data))

    async def poll(self):
        """One attempt: the UID of a card in the field as hex, or None."""
        ok, _atqa, bits = await self._transceive(bytes((_REQA,)), 7)
        if not ok or bits != 16:
            return None
        uid = b""
        for sel in _SELECT:
            ok, part, _bits = await self._transceive(bytes((sel, 0x20)))
            if not ok or len(part) != 5 or part[0] ^ part[1] ^ part[2] ^ part[3] != part[4]:
                return None
            ok, sak, _bits = await self._with_crc(bytes((sel, 0x70)) + part)
            if not ok or not sak:
                return None
            if not sak[0] & 0x04:  # UID complete
                uid += part[:4]
                break
            uid += part[1:4] if part[0] == _CASCADE_TAG else part[:4]
        # Halted, the card stays silent until it leaves the field and comes back.
        await self._with_crc(bytes((_HLTA, 0)))
        return binascii.hexlify(uid).decode().upper()

    async def read(self):
        while True:
            uid = await self.poll()
            if uid:
                return uid
            await sleep_ms(_POLL_MS)


class Watchdog:
    def __init__(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        self._wdt.feed()


class Board:
    def __init__(self, pins):
        self.flash_dir = ""  # state files sit at the root of the flash
        self.relays = [Relay(n, pins["relay_active_low"]) for n in pins["relays"]]
        self.indicator = Indicator(pins["indicator"])
        self.reader = MFRC522(pins["reader"])

    def watchdog(self, timeout_ms):
        return Watchdog(timeout_ms)

    def tasks(self, cfg):
        return [_keep_wifi(cfg.wifi)]


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
