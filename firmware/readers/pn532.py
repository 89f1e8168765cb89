# PN532 over I2C or UART (HSU): one driver, two small transports.
#
# Frames (user manual 6.2): 00 00 FF LEN LCS TFI DATA... DCS 00 with
# LEN + LCS = 0 and TFI + DATA + DCS = 0 (mod 256); TFI D4 host -> PN532,
# D5 back. Each command is acknowledged by 00 00 FF 00 FF 00 before its reply;
# a host ACK aborts the command in progress.
# Health: GetFirmwareVersion must answer IC 0x32.
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from firmware.readers.base import Reader, ReaderError, hexstr
from firmware.readers.ntag424 import read_sun
from protocol import const

ACK = b"\x00\x00\xff\x00\xff\x00"
_HOST = const(0xD4)
_CHIP = const(0xD5)
_GET_FIRMWARE_VERSION = const(0x02)
_SAM_CONFIGURATION = const(0x14)
_RF_CONFIGURATION = const(0x32)
_IN_DATA_EXCHANGE = const(0x40)
_IN_LIST_PASSIVE_TARGET = const(0x4A)
_IN_RELEASE = const(0x52)
_MAX_RX = const(300)  # bytes of unframed UART input kept at most


def frame(data):
    """A normal information frame around data (TFI + command + parameters)."""
    n = len(data)
    return b"\x00\x00\xff" + bytes((n, -n & 0xFF)) + data + bytes((-sum(data) & 0xFF, 0))


def parse(buf):
    """The frame's TFI + data (b"" for an ACK); ReaderError for anything malformed."""
    i = buf.find(b"\x00\xff")
    if i < 0 or len(buf) < i + 4:
        raise ReaderError("pn532: no frame")
    n, lcs = buf[i + 2], buf[i + 3]
    if n == 0 and lcs == 0xFF:
        return b""  # ACK
    if n == 0xFF and lcs == 0:
        raise ReaderError("pn532: NACK")
    if (n + lcs) & 0xFF:
        raise ReaderError("pn532: length checksum")
    end = i + 4 + n
    if len(buf) <= end:
        raise ReaderError("pn532: short frame")
    body = buf[i + 4 : end]
    if (sum(body) + buf[end]) & 0xFF:
        raise ReaderError("pn532: data checksum")
    return body


async def _until(ready, ms):
    start = ticks_ms()
    while not ready():
        if ticks_diff(ticks_ms(), start) > ms:
            raise ReaderError("pn532: timeout")
        await sleep_ms(2)


class I2CBus:
    """machine.I2C at address 0x24; each read starts with a ready byte (bit 0)."""

    def __init__(self, i2c, addr=0x24):
        self.i2c = i2c
        self.addr = addr

    def wake(self):
        pass

    def send(self, data):
        self.i2c.writeto(self.addr, data)

    def _ready(self):
        return self.i2c.readfrom(self.addr, 1)[0] & 1

    async def receive(self, size, ms):
        """One frame of at most size bytes (with more bytes after it)."""
        await _until(self._ready, ms)
        return self.i2c.readfrom(self.addr, size + 1)[1:]


class UARTBus:
    """machine.UART (115200 8N1, timeout=0): a byte stream cut into frames."""

    def __init__(self, uart):
        self.uart = uart
        self._rx = b""
        self._frame_bytes = b""

    def wake(self):
        # HSU wake-up: 55 55 and a long preamble before the first command.
        self.uart.write(b"\x55\x55" + bytes(14))

    def send(self, data):
        for _ in range(8):  # replies to an aborted command are stale now
            if not self.uart.any():
                break
            self.uart.read()
        self._rx = b""
        self.uart.write(data)

    def _frame(self):
        if self.uart.any():
            self._rx += self.uart.read() or b""
        rx = self._rx
        i = rx.find(b"\x00\xff")
        if i < 0:
            self._rx = rx[-1:]  # keep a 00 that may start the next start code
            return False
        if len(rx) < i + 4:
            return False
        n = rx[i + 2]
        end = i + 5 if (n + rx[i + 3]) & 0xFF or n == 0xFF else i + 5 + n  # through DCS
        if len(rx) >= end:
            self._frame_bytes = rx[i:end]
            self._rx = rx[end:]
            return True
        if len(rx) > _MAX_RX:
            self._rx = b""
        return False

    async def receive(self, size, ms):
        await _until(self._frame, ms)
        return self._frame_bytes


class PN532(Reader):
    def __init__(self, bus, rst=None):
        """bus: I2CBus or UARTBus; rst: the RSTPDN output Pin (active low) or None."""
        super().__init__()
        self.bus = bus
        self._rst = rst
        self.ack_ms = 30
        self.timeout_ms = 250  # for a reply, InListPassiveTarget included
        self.boot_ms = 20

    async def call(self, command, params=b"", size=16):
        """Run a command: the reply's data after D5 (command + 1)."""
        bus = self.bus
        bus.send(frame(bytes((_HOST, command)) + params))
        try:
            if parse(await bus.receive(6, self.ack_ms)) != b"":
                raise ReaderError("pn532: no ACK")
            reply = parse(await bus.receive(size + 9, self.timeout_ms))
        except ReaderError:
            bus.send(ACK)  # abort whatever it may still be doing
            raise
        if len(reply) < 2 or reply[0] != _CHIP or reply[1] != command + 1:
            raise ReaderError("pn532: unexpected reply")
        return reply[2:]

    async def init(self):
        self.version = None
        if self._rst is not None:
            self._rst.value(0)
            await sleep_ms(2)
            self._rst.value(1)
            await sleep_ms(self.boot_ms)
        self.bus.wake()
        await self.call(_SAM_CONFIGURATION, b"\x01\x14\x01")  # normal mode, no SAM
        # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation: InListPassiveTarget
        # returns when no card is there instead of waiting forever.
        await self.call(_RF_CONFIGURATION, b"\x05\xff\x01\x01")

    async def alive(self):
        v = await self.call(_GET_FIRMWARE_VERSION)
        if len(v) != 4 or v[0] != 0x32:
            return False
        self.version = (v[1] << 8) | v[2]
        return True

    async def poll(self):
        r = await self.call(_IN_LIST_PASSIVE_TARGET, b"\x01\x00", 64)  # 1 target, 106 kbps type A
        if not r or r[0] == 0:
            return None
        # NbTg Tg SENS_RES(2) SEL_RES NFCIDLength NFCID1 [ATSLength ATS]
        if r[0] != 1 or len(r) < 6 or r[5] not in (4, 7, 10) or len(r) < 6 + r[5]:
            raise ReaderError("pn532: bad target")
        uid = r[6 : 6 + r[5]]
        if r[4] & 0x20:  # ISO 14443-4 (the PN532 did RATS): maybe an NTAG 424 DNA with SUN
            self.last_sun = await read_sun(self._apdu)
        await self.call(_IN_RELEASE, b"\x00")
        return hexstr(uid)

    async def _apdu(self, apdu):
        r = await self.call(_IN_DATA_EXCHANGE, b"\x01" + apdu, 64)
        if not r or r[0] & 0x3F:
            raise ReaderError("pn532: exchange failed")
        return r[1:]
