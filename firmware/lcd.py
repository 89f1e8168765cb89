# A 16x2 character LCD (HD44780) behind a PCF8574 I2C backpack, the usual
# kiosk display: board.display on an ESP32 when pins.display is set. 4-bit
# mode; the backpack's bits are RS=0, RW=1, E=2, backlight=3, D4..D7=4..7.
# A line goes out in one I2C write (68 bytes, about 6 ms at 100 kHz), a pause
# the event loop can afford on a kiosk; only the power-up initialisation waits
# longer (before the app runs).
import time

from protocol import const

_RS = const(0x01)
_EN = const(0x04)
_LIGHT = const(0x08)
COLS = 16

try:
    _sleep_ms = time.sleep_ms
except AttributeError:  # CPython (tests)

    def _sleep_ms(ms):
        time.sleep(ms / 1000)


class LCD:
    def __init__(self, i2c, addr):
        self.i2c = i2c
        self.addr = addr
        _sleep_ms(50)
        for nibble in (0x30, 0x30, 0x30, 0x20):  # wake up, then 4-bit mode
            self._strobe(nibble)
            _sleep_ms(5)
        for cmd in (0x28, 0x0C, 0x06, 0x01):  # 2 lines, display on, advance, clear
            self._byte(cmd, 0)
        _sleep_ms(2)

    def _strobe(self, bits):
        self.i2c.writeto(self.addr, bytes(_nibble(bits)))

    def _byte(self, value, rs):
        self.i2c.writeto(self.addr, bytes(_pair(value, rs)))

    def show(self, line1, line2=""):
        for row, text in ((0x80, line1), (0xC0, line2)):
            out = bytearray(_pair(row, 0))
            for ch in (text + " " * COLS)[:COLS]:
                code = ord(ch)
                out += bytes(_pair(code if code < 128 else 63, _RS))  # "?" for what the ROM lacks
            self.i2c.writeto(self.addr, out)


def _nibble(bits):
    return (bits | _LIGHT | _EN, bits | _LIGHT)


def _pair(value, rs):
    return _nibble((value & 0xF0) | rs) + _nibble(((value << 4) & 0xF0) | rs)
