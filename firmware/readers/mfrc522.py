# MFRC522 over SPI: ISO 14443A UIDs (4, 7 and 10 bytes), and the SUN data of
# an NTAG 424 DNA through a minimal ISO-DEP (ISO 14443-4) layer.
# Health: VersionReg (0x37) must keep its value and the antenna must stay on
# (a chip that browned out comes back with its antenna off and reads nothing).
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from firmware.readers.base import Reader, ReaderError, hexstr
from firmware.readers.ntag424 import read_sun
from protocol import const

# Registers and commands (datasheet section 9).
_COMMAND = const(0x01)
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
_VERSION = const(0x37)
_IDLE = const(0x00)
_CALC_CRC = const(0x03)
_TRANSCEIVE = const(0x0C)
_SOFT_RESET = const(0x0F)

# Chip timer reloads in 0.5 ms ticks: a card answers REQA/SELECT within 5 ms,
# an ISO-DEP command (RATS, APDUs) within its frame waiting time.
_CARD_TICKS = const(10)
_DEP_TICKS = const(200)
# Host-side deadlines: the chip's own timer always fires first unless it hung.
_CARD_MS = const(30)
_DEP_MS = const(150)

# ISO 14443-3 and -4 card commands.
_REQA = const(0x26)
_CASCADE_TAG = const(0x88)
_SELECT = (0x93, 0x95, 0x97)
_HLTA = b"\x50\x00"
_RATS = b"\xe0\x50"  # FSD 64 bytes (the FIFO), CID 0
_DESELECT = b"\xc2"


class MFRC522(Reader):
    def __init__(self, spi, cs, rst=None):
        """spi: a configured machine.SPI (mode 0, <= 10 MHz); cs, rst: output Pins (rst may be None)."""
        super().__init__()
        self._spi = spi
        self._cs = cs
        self._rst = rst
        self._out = bytearray(2)
        self._in = bytearray(2)
        self._block = 0
        self.reset_ms = 50
        cs.value(1)

    def _write(self, reg, value):
        out = self._out
        out[0] = (reg << 1) & 0x7E
        out[1] = value
        self._cs.value(0)
        try:
            self._spi.write(out)
        finally:
            self._cs.value(1)

    def _read(self, reg):
        out = self._out
        out[0] = ((reg << 1) & 0x7E) | 0x80
        out[1] = 0
        self._cs.value(0)
        try:
            self._spi.write_readinto(out, self._in)
        finally:
            self._cs.value(1)
        return self._in[1]

    async def init(self):
        self.version = None
        if self._rst is not None:  # a hard reset frees a chip that ignores SPI
            self._rst.value(0)
            await sleep_ms(1)
            self._rst.value(1)
        self._write(_COMMAND, _SOFT_RESET)
        await sleep_ms(self.reset_ms)  # oscillator start-up
        self._write(_T_MODE, 0x8D)  # timer starts after each send; prescaler 0xD3E: 2 kHz
        self._write(_T_PRESCALER, 0x3E)
        self._write(_T_RELOAD_H, 0)
        self._write(_T_RELOAD_L, _CARD_TICKS)
        self._write(_TX_ASK, 0x40)  # 100 % ASK
        self._write(_MODE, 0x3D)  # CRC preset 6363h (ISO 14443A)
        self._write(_TX_CONTROL, self._read(_TX_CONTROL) | 0x03)  # antenna on

    async def alive(self):
        version = self._read(_VERSION)
        if version in (0x00, 0xFF) or (self.version is not None and version != self.version):
            return False
        self.version = version
        return self._read(_TX_CONTROL) & 0x03 == 0x03

    async def _transceive(self, data, last_bits=0, ms=_CARD_MS):
        """Send data to the card: (received bytes, bit count), None when no card answered."""
        write = self._write
        write(_COMMAND, _IDLE)
        write(_COM_IRQ, 0x7F)  # clear every interrupt flag
        write(_FIFO_LEVEL, 0x80)  # flush the FIFO
        for b in data:
            write(_FIFO_DATA, b)
        write(_BIT_FRAMING, last_bits)
        write(_COMMAND, _TRANSCEIVE)
        write(_BIT_FRAMING, 0x80 | last_bits)  # start sending
        start = ticks_ms()
        while True:
            irq = self._read(_COM_IRQ)
            if irq & 0x30:  # RxIRq or IdleIRq: done
                break
            if irq & 0x01:  # the chip's timer: no card answered
                return None
            if ticks_diff(ticks_ms(), start) > ms:
                raise ReaderError("mfrc522: no interrupt")
            await sleep_ms(1)
        write(_BIT_FRAMING, 0)
        if self._read(_ERROR) & 0x1B:  # buffer overflow, collision, parity, protocol
            return None
        n = min(self._read(_FIFO_LEVEL), 64)
        rx_last = self._read(_CONTROL) & 0x07
        bits = (n - 1) * 8 + rx_last if rx_last else n * 8
        return bytes(self._read(_FIFO_DATA) for _ in range(n)), bits

    def _crc(self, data):
        write = self._write
        write(_COMMAND, _IDLE)
        write(_DIV_IRQ, 0x04)  # clear CRCIRq
        write(_FIFO_LEVEL, 0x80)
        for b in data:
            write(_FIFO_DATA, b)
        write(_COMMAND, _CALC_CRC)
        for _ in range(20):  # done within microseconds: a few SPI reads at most
            if self._read(_DIV_IRQ) & 0x04:
                write(_COMMAND, _IDLE)
                return bytes((self._read(_CRC_L), self._read(_CRC_H)))
        raise ReaderError("mfrc522: no CRC")

    async def _with_crc(self, data, ms=_CARD_MS):
        return await self._transceive(data + self._crc(data), 0, ms)

    def _crc_ok(self, frame):
        return len(frame) > 2 and self._crc(frame[:-2]) == frame[-2:]

    async def poll(self):
        r = await self._transceive(bytes((_REQA,)), 7)
        if r is None or r[1] != 16:  # ATQA: 2 bytes
            return None
        uid = b""
        for sel in _SELECT:
            r = await self._transceive(bytes((sel, 0x20)))  # anticollision
            if r is None:
                return None
            part = r[0]
            if len(part) != 5 or part[0] ^ part[1] ^ part[2] ^ part[3] != part[4]:
                return None
            r = await self._with_crc(bytes((sel, 0x70)) + part)  # select
            if r is None or len(r[0]) != 3 or not self._crc_ok(r[0]):
                return None
            sak = r[0][0]
            if not sak & 0x04:  # UID complete
                uid += part[:4]
                break
            if part[0] != _CASCADE_TAG:
                return None
            uid += part[1:4]
        else:
            return None
        if sak & 0x20:  # ISO 14443-4: maybe an NTAG 424 DNA with SUN
            self.last_sun = await self._sun()
        else:
            # Halted, the card stays silent until it leaves the field and comes back.
            await self._with_crc(_HLTA)
        return hexstr(uid)

    async def _sun(self):
        self._write(_T_RELOAD_L, _DEP_TICKS)
        try:
            r = await self._with_crc(_RATS, _DEP_MS)
            if r is None or not self._crc_ok(r[0]):
                return None
            self._block = 0
            sun = await read_sun(self._apdu)
            await self._with_crc(_DESELECT, _DEP_MS)  # the card halts
            return sun
        finally:
            self._write(_T_RELOAD_L, _CARD_TICKS)

    async def _apdu(self, apdu):
        """One APDU in an I-block; the card's reply (data + SW1 SW2)."""
        frame = bytes((0x02 | self._block,)) + apdu
        for _ in range(5):
            r = await self._with_crc(frame, _DEP_MS)
            if r is None or not self._crc_ok(r[0]):
                raise ReaderError("iso-dep: no answer")
            reply = r[0][:-2]
            pcb = reply[0]
            if pcb & 0xF7 == 0xF2:  # S(WTX): the card needs more time; echo it
                frame = reply
                continue
            if pcb & 0xFE != 0x02:  # only unchained I-blocks without CID/NAD
                raise ReaderError("iso-dep: unexpected block")
            self._block ^= 1
            return reply[1:]
        raise ReaderError("iso-dep: too many waits")
