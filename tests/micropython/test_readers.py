# Card reader drivers (firmware/readers) against fake buses that emulate the
# chips byte by byte: an MFRC522 behind SPI with ISO 14443A cards in its
# field, a PN532 behind I2C or UART answering frames, a QR scanner's UART.
# Runs under CPython (pytest) and under the real MicroPython interpreter,
# hence: no fixtures, no pytest import, no tempfile; every wait is bounded.
import asyncio
import sys

from esp32_fakes import restore_modules

from firmware import config
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from firmware.readers import ntag424, pn532
from firmware.readers.base import ReaderError
from firmware.readers.mfrc522 import MFRC522
from firmware.readers.pn532 import PN532, I2CBus, UARTBus
from firmware.readers.qr import QRScanner

UID4 = b"\xde\xad\xbe\xef"
UID7 = b"\x04\xa1\xb2\xc3\xd4\xe5\xf6"
PICC = "EF963FF7828658A599F3041510671E88"
CMAC = "94EED9EE65337086"
SUN_URL = "park.example/t?picc_data=" + PICC + "&cmac=" + CMAC
ATS = b"\x06\x77\x77\x71\x02\x80"
SELECT_APP = b"\x00\xa4\x04\x00\x07\xd2\x76\x00\x00\x85\x01\x01\x00"
LIMIT_MS = 900  # no test may take a second


def hexs(data):
    return "".join("%02X" % b for b in data)


async def within(coro, ms=LIMIT_MS):
    """Await coro (or a task) in a task, failing after ms."""
    task = coro if hasattr(coro, "done") else asyncio.create_task(coro)
    start = ticks_ms()
    while not task.done():
        if ticks_diff(ticks_ms(), start) > ms:
            task.cancel()
            raise AssertionError("still waiting after %d ms" % ms)
        await sleep_ms(2)
    return await task


def quick(reader):
    """Test timings: the same code paths, in milliseconds instead of seconds."""
    reader.poll_ms = 2
    reader.check_ms = 100
    reader.retry_ms = 10
    if hasattr(reader, "reset_ms"):
        reader.reset_ms = 1
    if hasattr(reader, "boot_ms"):
        reader.boot_ms = 1
    return reader


def crc_a(data):
    """ISO 14443A CRC, low byte first."""
    crc = 0x6363
    for b in data:
        b ^= crc & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = (crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)
    return bytes((crc & 0xFF, (crc >> 8) & 0xFF))


def ndef_uri(text):
    """An NDEF file (NLEN + message) holding one https:// URI record."""
    payload = b"\x04" + text.encode()
    record = bytes((0xD1, 1, len(payload))) + b"U" + payload
    return bytes((len(record) >> 8, len(record) & 0xFF)) + record


class FakePin:
    def __init__(self, on_low=None):
        self.level = 1
        self.on_low = on_low

    def value(self, v=None):
        if v is None:
            return self.level
        if not v and self.level and self.on_low is not None:
            self.on_low()
        self.level = 1 if v else 0


class FakeCard:
    """An ISO 14443A card; with ndef (an NDEF file) it answers like an NTAG 424 DNA."""

    def __init__(self, uid, sak=None, ndef=None):
        self.uid = uid
        self.sak = sak if sak is not None else (0x08 if len(uid) == 4 else 0x00)
        self.ndef = ndef
        self.state = "idle"
        self.app = self.file = False
        self.apdus = []

    def levels(self):
        if len(self.uid) == 4:
            return [self.uid]
        return [b"\x88" + self.uid[:3], self.uid[3:7]]

    def atqa(self):
        return b"\x04\x00" if len(self.uid) == 4 else b"\x44\x00"

    def answer(self, data, bits):
        """What the card sends back to a frame from the reader (MFRC522), or None."""
        if self.state == "halt":
            return None
        if bits == 7 and data == b"\x26":
            self.state = "ready"
            return self.atqa()
        if len(data) > 2 and crc_a(data[:-2]) != data[-2:]:
            return None  # REQA and anticollision (1-2 bytes) are the only frames without CRC
        if len(data) == 2 and data[0] in (0x93, 0x95) and data[1] == 0x20:
            part = self.levels()[(data[0] - 0x93) // 2]
            return part + bytes((part[0] ^ part[1] ^ part[2] ^ part[3],))
        if len(data) == 9 and data[0] in (0x93, 0x95) and data[1] == 0x70:
            levels = self.levels()
            level = (data[0] - 0x93) // 2
            if data[2:6] != levels[level]:
                return None
            last = level == len(levels) - 1
            if last:
                self.state = "active"
            sak = bytes((self.sak if last else 0x04,))
            return sak + crc_a(sak)
        if data[:2] == b"\x50\x00":
            self.state = "halt"
            return None
        if data[0] == 0xE0 and self.state == "active" and self.sak & 0x20:
            self.state = "dep"
            return ATS + crc_a(ATS)
        if self.state == "dep":
            if data[0] == 0xC2:
                self.state = "halt"
                return b"\xc2" + crc_a(b"\xc2")
            if data[0] & 0xFE == 0x02:
                reply = data[:1] + self.apdu(data[1:-2])
                return reply + crc_a(reply)
        return None

    def apdu(self, a):
        self.apdus.append(a)
        if self.ndef is None:
            return b"\x6a\x82"  # e.g. a DESFire: no NDEF application
        if a == SELECT_APP:
            self.app = True
            return b"\x90\x00"
        if a == b"\x00\xa4\x00\x0c\x02\xe1\x04" and self.app:
            self.file = True
            return b"\x90\x00"
        if a[:2] == b"\x00\xb0" and self.file:
            offset = (a[2] << 8) | a[3]
            return self.ndef[offset : offset + a[4]] + b"\x90\x00"
        return b"\x6a\x82"


# --- MFRC522 over SPI ----------------------------------------------------------------

_COMMAND, _COM_IRQ, _DIV_IRQ = 0x01, 0x04, 0x05
_FIFO_DATA, _FIFO_LEVEL, _CONTROL, _BIT_FRAMING = 0x09, 0x0A, 0x0C, 0x0D
_TX_CONTROL, _CRC_H, _CRC_L, _VERSION = 0x14, 0x21, 0x22, 0x37


class FakeMFRC522:
    """The chip behind SPI (write / write_readinto), its CS and RST pins and its RF field."""

    def __init__(self, card=None):
        self.card = card
        self.hung = False  # ignores SPI (reads 0) until a hard reset
        self.dead = False  # a hard reset does not help either
        self.cs = FakePin()
        self.rst = FakePin(on_low=self.hard_reset)
        self.hard_resets = 0
        self.power_up()

    def power_up(self):
        self.regs = bytearray(64)
        self.regs[_COMMAND] = 0x20
        self.regs[_TX_CONTROL] = 0x80  # antenna off
        self.regs[_VERSION] = 0x92
        self.fifo = []

    def hard_reset(self):
        self.hard_resets += 1
        if not self.dead:
            self.hung = False
            self.power_up()

    def write(self, buf):
        assert self.cs.level == 0
        if not self.hung:
            self.set((buf[0] >> 1) & 0x3F, buf[1])

    def write_readinto(self, out, into):
        assert self.cs.level == 0 and out[0] & 0x80
        into[0] = 0
        into[1] = 0 if self.hung else self.get((out[0] >> 1) & 0x3F)

    def get(self, reg):
        if reg == _FIFO_DATA:
            return self.fifo.pop(0) if self.fifo else 0
        if reg == _FIFO_LEVEL:
            return len(self.fifo)
        return self.regs[reg]

    def set(self, reg, v):
        regs = self.regs
        if reg == _COMMAND:
            if v & 0x0F == 0x0F:
                self.power_up()
                return
            regs[reg] = v
            if v & 0x0F == 0x03:  # CalcCRC
                c = crc_a(bytes(self.fifo))
                regs[_CRC_L], regs[_CRC_H] = c[0], c[1]
                regs[_DIV_IRQ] |= 0x04
        elif reg in (_COM_IRQ, _DIV_IRQ):  # bit 7 set: set the bits; clear: clear them
            regs[reg] = regs[reg] | (v & 0x7F) if v & 0x80 else regs[reg] & ~v & 0x7F
        elif reg == _FIFO_LEVEL:
            if v & 0x80:
                self.fifo = []
        elif reg == _FIFO_DATA:
            self.fifo.append(v)
        elif reg == _BIT_FRAMING:
            regs[reg] = v & 0x7F
            if v & 0x80 and regs[_COMMAND] & 0x0F == 0x0C:
                self.transceive(v & 0x07)
        else:
            regs[reg] = v

    def transceive(self, last_bits):
        data = bytes(self.fifo)
        self.fifo = []
        bits = (len(data) - 1) * 8 + last_bits if last_bits else len(data) * 8
        answer = None
        if self.card is not None and self.regs[_TX_CONTROL] & 0x03 == 0x03:
            answer = self.card.answer(data, bits)
        if answer is None:
            self.regs[_COM_IRQ] |= 0x01  # the timer ran out
        else:
            self.fifo = list(answer)
            self.regs[_CONTROL] = 0
            self.regs[_COM_IRQ] |= 0x20


def mfrc522(card=None):
    chip = FakeMFRC522(card)
    return chip, quick(MFRC522(chip, chip.cs, chip.rst))


def test_crc_a_matches_the_standard():
    assert crc_a(b"\x50\x00") == b"\x57\xcd"  # HLTA as every ISO 14443A reader sends it


async def test_mfrc522_reads_a_4_byte_uid():
    chip, reader = mfrc522(FakeCard(UID4))
    assert await within(reader.read()) == "DEADBEEF"
    assert reader.last_sun is None
    assert reader.version == 0x92 and reader.healthy and reader.resets == 0
    assert chip.card.state == "halt"  # read once, not again while it stays in the field


async def test_mfrc522_reads_a_7_byte_uid():
    chip, reader = mfrc522(FakeCard(UID7))
    assert await within(reader.read()) == "04A1B2C3D4E5F6"
    assert reader.last_sun is None


async def test_mfrc522_forwards_ntag424_sun_data():
    card = FakeCard(UID7, sak=0x20, ndef=ndef_uri(SUN_URL))
    chip, reader = mfrc522(card)
    assert await within(reader.read()) == "04A1B2C3D4E5F6"
    assert reader.last_sun == {"picc_data": PICC, "cmac": CMAC}
    assert card.apdus[0] == SELECT_APP
    assert len([a for a in card.apdus if a[1] == 0xB0]) == 2  # the NDEF file in two chunks
    assert card.state == "halt"  # deselected


async def test_mfrc522_iso_dep_card_without_sun_keeps_working():
    card = FakeCard(UID7, sak=0x20)  # ISO-DEP, but no NDEF application
    chip, reader = mfrc522(card)
    assert await within(reader.read()) == "04A1B2C3D4E5F6"
    assert reader.last_sun is None


async def test_mfrc522_hang_is_detected_and_the_reader_reinitialised():
    chip, reader = mfrc522(FakeCard(UID4))
    assert await within(reader.read()) == "DEADBEEF"
    chip.hung = True  # stops answering SPI
    chip.card = FakeCard(UID7)
    assert await within(reader.read()) == "04A1B2C3D4E5F6"
    assert reader.resets == 1 and reader.healthy
    assert chip.hard_resets == 2  # at start-up and for the recovery


async def test_mfrc522_periodic_check_catches_a_silent_brownout():
    chip, reader = mfrc522()
    reader.check_ms = 30
    task = asyncio.create_task(reader.read())
    await sleep_ms(20)
    chip.power_up()  # the chip reset itself: antenna off, reads nothing, raises nothing
    chip.card = FakeCard(UID4)
    start = ticks_ms()
    while not task.done() and ticks_diff(ticks_ms(), start) < 500:
        await sleep_ms(5)
    assert task.done(), "the reader never noticed"
    assert await task == "DEADBEEF"
    assert reader.resets == 1


async def test_a_dead_reader_never_blocks_the_event_loop():
    chip, reader = mfrc522(FakeCard(UID4))
    chip.hung = chip.dead = True
    task = asyncio.create_task(reader.read())
    worst, last, start = 0, ticks_ms(), ticks_ms()
    while ticks_diff(ticks_ms(), start) < 300:
        await sleep_ms(5)
        now = ticks_ms()
        worst = max(worst, ticks_diff(now, last))
        last = now
    task.cancel()
    await sleep_ms(5)
    assert worst < 100, worst
    assert not reader.healthy and reader.resets >= 3


# --- PN532 over I2C and UART ----------------------------------------------------------


def chip_frame(data):
    n = len(data)
    return b"\x00\x00\xff" + bytes((n, (256 - n) & 0xFF)) + data + bytes(((256 - sum(data)) & 0xFF, 0))


class FakePN532:
    """Answers host frames with an ACK frame and a reply frame."""

    def __init__(self, card=None):
        self.card = card
        self.hung = False
        self.corrupt = 0  # damage the checksum of the next replies
        self.out = []  # frames ready for the host
        self.commands = []
        self.rst = FakePin(on_low=self.hard_reset)

    def hard_reset(self):
        self.hung = False
        self.out = []

    def host(self, data):
        if self.hung:
            return
        i = data.find(b"\x00\x00\xff")
        if i < 0:
            return  # the HSU wake-up
        n, lcs = data[i + 3], data[i + 4]
        if n == 0 and lcs == 0xFF:
            self.out = []  # ACK from the host: abort
            return
        body = data[i + 5 : i + 5 + n]
        assert (n + lcs) & 0xFF == 0 and (sum(body) + data[i + 5 + n]) & 0xFF == 0 and body[0] == 0xD4
        cmd = body[1]
        self.commands.append(cmd)
        reply = chip_frame(bytes((0xD5, cmd + 1)) + self.run(cmd, body[2:]))
        if self.corrupt:
            self.corrupt -= 1
            reply = reply[:-2] + bytes(((reply[-2] + 1) & 0xFF, 0))
        self.out = [pn532.ACK, reply]

    def run(self, cmd, params):
        card = self.card
        if cmd == 0x02:
            return b"\x32\x01\x06\x07"
        if cmd == 0x4A:
            if card is None or card.state == "halt":
                return b"\x00"
            r = b"\x01\x01" + card.atqa() + bytes((card.sak, len(card.uid))) + card.uid
            if card.sak & 0x20:
                r += ATS
            return r
        if cmd == 0x40:
            return b"\x00" + card.apdu(params[1:])
        if cmd == 0x52:
            if card is not None:
                card.state = "halt"
            return b"\x00"
        return b""  # SAMConfiguration, RFConfiguration


class FakeI2C:
    def __init__(self, chip):
        self.chip = chip

    def writeto(self, addr, data):
        assert addr == 0x24
        self.chip.host(bytes(data))

    def readfrom(self, addr, n):
        if not self.chip.out:
            return bytes(n)  # status byte 0: not ready
        if n == 1:
            return b"\x01"
        return (b"\x01" + self.chip.out.pop(0) + bytes(n))[:n]


class FakeUART:
    """Delivers what the chip sends in pieces of `piece` bytes."""

    def __init__(self, chip, piece=5):
        self.chip = chip
        self.piece = piece
        self.rx = b""

    def write(self, data):
        self.chip.host(bytes(data))
        self.rx += b"".join(self.chip.out)
        self.chip.out = []

    def any(self):
        return min(len(self.rx), self.piece)

    def read(self, n=None):
        k = self.any() if n is None else min(n, self.any())
        data, self.rx = self.rx[:k], self.rx[k:]
        return data or None


def pn532_i2c(card=None):
    chip = FakePN532(card)
    return chip, quick(PN532(I2CBus(FakeI2C(chip)), chip.rst))


def pn532_uart(card=None):
    chip = FakePN532(card)
    return chip, quick(PN532(UARTBus(FakeUART(chip)), chip.rst))


def test_pn532_frames_and_checksums():
    f = pn532.frame(b"\xd4\x02")
    assert f == b"\x00\x00\xff\x02\xfe\xd4\x02\x2a\x00"
    assert pn532.parse(b"\x01" + f) == b"\xd4\x02"
    assert pn532.parse(pn532.ACK) == b""
    for bad in (
        f[:4] + b"\xff" + f[5:],  # LCS
        f[:7] + b"\x2b\x00",  # DCS
        f[:6],  # cut short
        b"\x00\x00\xff\xff\x00\x00",  # NACK
        b"\x01\x00\x00\x00",
    ):  # no start code
        try:
            pn532.parse(bad)
        except ReaderError:
            continue
        raise AssertionError("accepted %r" % bad)


async def test_pn532_i2c_reads_a_4_byte_uid():
    chip, reader = pn532_i2c(FakeCard(UID4))
    assert await within(reader.read()) == "DEADBEEF"
    assert reader.version == 0x0106 and reader.last_sun is None
    assert chip.commands[:3] == [0x14, 0x32, 0x02]  # SAM, retries, firmware version
    assert chip.commands[-2:] == [0x4A, 0x52]  # list the target, release it


async def test_pn532_uart_reads_a_7_byte_uid_from_fragments():
    chip, reader = pn532_uart(FakeCard(UID7))
    assert await within(reader.read()) == "04A1B2C3D4E5F6"
    assert reader.resets == 0


async def test_pn532_forwards_ntag424_sun_data():
    card = FakeCard(UID7, sak=0x20, ndef=ndef_uri(SUN_URL))
    chip, reader = pn532_i2c(card)
    assert await within(reader.read()) == "04A1B2C3D4E5F6"
    assert reader.last_sun == {"picc_data": PICC, "cmac": CMAC}


async def test_pn532_checksum_errors_are_rejected():
    for make in (pn532_i2c, pn532_uart):
        chip, reader = make(FakeCard(UID4))
        await within(reader.read())
        chip.card = FakeCard(UID7)
        chip.corrupt = 1  # the next reply: InListPassiveTarget's
        polls = chip.commands.count(0x4A)
        assert await within(reader.read()) == "04A1B2C3D4E5F6"
        assert chip.commands.count(0x4A) == polls + 2  # refused, then read again
        assert reader.resets == 0  # the version check passed: a bad frame alone is no hang


async def test_pn532_hang_is_detected_and_the_reader_reinitialised():
    for make in (pn532_i2c, pn532_uart):
        chip, reader = make(FakeCard(UID4))
        reader.ack_ms = 20
        assert await within(reader.read()) == "DEADBEEF"
        chip.hung = True
        chip.card = FakeCard(UID7)
        assert await within(reader.read()) == "04A1B2C3D4E5F6"
        assert reader.resets == 1 and reader.healthy


async def test_pn532_periodic_version_check():
    chip, reader = pn532_i2c()
    reader.check_ms = 20
    task = asyncio.create_task(reader.read())
    await sleep_ms(120)
    task.cancel()
    await sleep_ms(5)
    assert chip.commands.count(0x02) >= 3  # GetFirmwareVersion again and again
    assert reader.healthy and reader.resets == 0


# --- NDEF / SUN parsing ---------------------------------------------------------------


def test_sun_from_url_variants():
    assert ntag424.sun_from_url(b"x.io/?p=" + PICC.lower().encode() + b"&c=" + CMAC.encode()) == {
        "picc_data": PICC,
        "cmac": CMAC,
    }
    plain = ntag424.sun_from_url(b"x.io/?uid=04A1B2C3D4E5F6&ctr=00002A&cmac=" + CMAC.encode())
    assert plain == {"uid": "04A1B2C3D4E5F6", "ctr": "00002A", "cmac": CMAC}
    assert ntag424.sun_from_url(b"x.io/?picc_data=" + PICC.encode()) is None  # no CMAC
    assert ntag424.sun_from_url(b"x.io/?picc_data=XYZ&cmac=" + CMAC.encode()) is None  # not hex
    assert ntag424.sun_from_url(b"x.io/plain") is None
    assert ntag424.sun_from_ndef(ndef_uri(SUN_URL)[2:]) == {"picc_data": PICC, "cmac": CMAC}
    assert ntag424.sun_from_ndef(b"\xd1\x01\x03T\x02en") is None  # a text record


# --- QR scanner on UART -----------------------------------------------------------------


class FakeScannerUART:
    def __init__(self, *pieces):
        self.pieces = list(pieces)

    def push(self, piece):
        self.pieces.append(piece)

    def any(self):
        return len(self.pieces[0]) if self.pieces else 0

    def read(self, n=None):
        return self.pieces.pop(0) if self.pieces else None


def qr():
    uart = FakeScannerUART()
    reader = quick(QRScanner(uart))
    return uart, reader


async def test_qr_line_assembled_from_fragments():
    uart, reader = qr()
    task = asyncio.create_task(reader.read())
    await sleep_ms(10)  # start-up flushes the UART; the code comes after
    for piece in (b"VOU", b"CHER-", b"12345\r", b"\nNEXT-", b"CODE\n"):
        uart.push(piece)
    assert await within(task) == "VOUCHER-12345"
    assert await within(reader.read()) == "NEXT-CODE"
    assert reader.refused == 0 and reader.last_sun is None


async def test_qr_refuses_over_long_and_non_printable_codes():
    uart, reader = qr()
    task = asyncio.create_task(reader.read())
    await sleep_ms(10)
    uart.push(b"A" * 40)
    uart.push(b"A" * 40 + b"\r\n")  # 80 characters: too long
    uart.push(b"BAD\x01CODE\r\n")
    uart.push(b"caf\xc3\xa9-1\r\n")
    uart.push(b"with space\r\n")
    uart.push(b"abc\r\n")  # too short
    uart.push(b"DC-7F3A9\r\n")
    assert await within(task) == "DC-7F3A9"
    assert reader.refused == 5


async def test_qr_drops_a_stale_fragment():
    uart, reader = qr()
    reader.gap_ms = 20
    task = asyncio.create_task(reader.read())
    await sleep_ms(10)
    uart.push(b"GARB")  # a glitch, never finished
    await sleep_ms(60)
    uart.push(b"CODE42\r")
    assert await within(task) == "CODE42"
    assert reader.refused == 1


# --- provisioning chooses the reader ----------------------------------------------------

BASE = {
    "device": "d17",
    "site": "aqua",
    "key": "5a" * 32,
    "broker": "mqtt://10.0.0.2",
    "wifi": {"ssid": "park", "password": "x"},
}


def provision(reader=None, **pins):
    data = dict(BASE)
    if reader is not None:
        pins["reader"] = reader
    data["pins"] = pins
    return config.from_dict(data)


def config_error(reader, **pins):
    try:
        provision(reader, **pins)
    except config.ConfigError as e:
        return str(e)
    raise AssertionError("accepted %r" % (reader,))


def test_config_reader_defaults_and_old_files():
    assert provision().pins["reader"] == {
        "type": "mfrc522",
        "spi": 2,
        "sck": 18,
        "mosi": 23,
        "miso": 19,
        "cs": 5,
        "rst": 22,
    }
    # provisioning files from before the reader type: an MFRC522
    old = provision({"spi": 1, "sck": 14, "mosi": 13, "miso": 12, "cs": 15, "rst": 4})
    assert old.pins["reader"]["type"] == "mfrc522" and old.pins["reader"]["cs"] == 15
    i2c = provision({"type": "pn532_i2c", "rst": 4})
    assert i2c.pins["reader"] == {"type": "pn532_i2c", "i2c": 0, "scl": 22, "sda": 21, "addr": 0x24, "rst": 4}
    assert provision({"type": "pn532_uart"}).pins["reader"]["baud"] == 115200
    assert provision({"type": "qr_uart", "uart": 1, "tx": 25, "rx": 27}).pins["reader"]["rx"] == 27
    assert provision({"type": "mfrc522", "rst": None}).pins["reader"]["rst"] is None


def test_config_reader_errors_are_clear():
    assert "pins.reader.type must be one of mfrc522, pn532_i2c, pn532_uart, qr_uart" in config_error(
        {"type": "rc522"}
    )
    msg = config_error({"type": "pn532_i2c", "cs": 5})
    assert "unknown field pins.reader.cs" in msg and "addr, i2c, rst, scl, sda" in msg
    assert "pins.reader.uart must be an integer in 1..2" in config_error({"type": "qr_uart", "uart": 0})
    assert "pins.reader.addr" in config_error({"type": "pn532_i2c", "addr": 300})
    assert "pins.reader.sck must be a pin number" in config_error({"sck": "18"})
    assert "pins.reader.scl must be a pin number" in config_error({"type": "pn532_i2c", "scl": None})
    assert "pins.reader.cs: pin 26 is also pins.relays" in config_error({"cs": 26})
    assert "pins.reader must be an object" in config_error("mfrc522")


# --- hal_esp32.Board builds the provisioned reader (machine faked) ------------------------


class FakeMachine:
    def __init__(self):
        self.made = []
        machine = self

        class Pin:
            OUT = 1

            def __init__(self, n, mode=None, value=None):
                self.n = n
                self.level = value

            def value(self, v=None):
                if v is None:
                    return self.level
                self.level = v

        def bus(kind):
            def make(*args, **kw):
                machine.made.append((kind, args, kw))
                return kind

            return make

        self.Pin = Pin
        self.SPI = bus("SPI")
        self.I2C = bus("I2C")
        self.UART = bus("UART")


def test_board_builds_the_provisioned_reader():
    saved = {}
    for name in ("machine", "network"):
        saved[name] = sys.modules.get(name)
    fake = FakeMachine()
    sys.modules["machine"] = fake
    sys.modules["network"] = fake
    try:
        from firmware import hal_esp32

        board = hal_esp32.Board(provision().pins)
        assert type(board.reader).__name__ == "MFRC522"
        assert fake.made[-1][0] == "SPI" and fake.made[-1][1] == (2,)
        # dropped once the board is built (on MicroPython: firmware.hal.unload)
        assert ("firmware.esp32_setup" in sys.modules) == (sys.implementation.name != "micropython")
        from firmware import esp32_setup

        reader = esp32_setup.make_reader(provision({"type": "pn532_i2c", "addr": 0x48}).pins["reader"])
        assert type(reader).__name__ == "PN532" and reader.bus.addr == 0x48
        assert fake.made[-1][0] == "I2C"
        reader = esp32_setup.make_reader(provision({"type": "pn532_uart"}).pins["reader"])
        assert type(reader.bus).__name__ == "UARTBus"
        assert fake.made[-1][2]["baudrate"] == 115200 and fake.made[-1][2]["timeout"] == 0
        reader = esp32_setup.make_reader(provision({"type": "qr_uart"}).pins["reader"])
        assert type(reader).__name__ == "QRScanner" and fake.made[-1][2]["baudrate"] == 9600
    finally:
        restore_modules(saved)
