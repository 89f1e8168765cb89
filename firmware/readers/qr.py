# A QR/barcode scanner on UART (digital cards, vouchers): it sends each code
# as one line. read() returns the code's text once its line is complete and
# valid: printable ASCII without spaces, min_len..max_len characters. Other
# lines are dropped (counted in .refused), as is a line fragment that stays
# unfinished for gap_ms (a scanner glitch must not prefix the next code).
# There is no version to ask: health is the base loop's, and never fails.
from firmware.hal import ticks_diff, ticks_ms
from firmware.readers.base import Reader


class QRScanner(Reader):
    def __init__(self, uart, max_len=64, min_len=4):
        """uart: machine.UART configured with timeout=0 (reads never block)."""
        super().__init__()
        self.uart = uart
        self.max_len = max_len
        self.min_len = min_len
        self.gap_ms = 200
        self.refused = 0
        self._line = b""
        self._too_long = False
        self._last_ms = 0
        self._codes = []  # complete codes not returned yet

    async def init(self):
        for _ in range(8):  # whatever came before start-up is no code
            if not self.uart.any():
                break
            self.uart.read()
        self._line = b""
        self._too_long = False
        self._codes = []

    async def alive(self):
        self.version = "uart"
        return True

    async def poll(self):
        now = ticks_ms()
        if (self._line or self._too_long) and ticks_diff(now, self._last_ms) > self.gap_ms:
            self._drop()
        data = self.uart.read() if self.uart.any() else None
        if data:
            self._last_ms = now
            self._feed(data)
        return self._codes.pop(0) if self._codes else None

    def _feed(self, data):
        for b in data:  # a chunk may end one code and begin the next
            if b == 10 or b == 13:
                if self._line or self._too_long:
                    code = self._finish()
                    if code is not None and len(self._codes) < 4:
                        self._codes.append(code)
            elif self._too_long:
                pass
            elif len(self._line) >= self.max_len:
                self._too_long = True
                self._line = b""
            else:
                self._line += bytes((b,))

    def _finish(self):
        line, too_long = self._line, self._too_long
        self._line = b""
        self._too_long = False
        if too_long or len(line) < self.min_len:
            self.refused += 1
            return None
        for b in line:
            if not 0x21 <= b <= 0x7E:
                self.refused += 1
                return None
        return line.decode()

    def _drop(self):
        self.refused += 1
        self._line = b""
        self._too_long = False
