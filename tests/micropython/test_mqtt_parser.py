# The firmware's MQTT reader on malformed packets, under CPython (pytest) and
# the real MicroPython interpreter: each closes the link (the reader returns
# and marks it dead) and nothing else escapes. The fuzz test
# (tests/test_fuzz_protocol.py) throws many more at it under CPython.
import asyncio

from firmware import mqtt


class Reader:
    """A stream over fixed bytes; readexactly past the end raises EOFError."""

    def __init__(self, data):
        self.data = data
        self.i = 0

    async def readexactly(self, n):
        await asyncio.sleep(0)
        if self.i + n > len(self.data):
            raise EOFError
        chunk = self.data[self.i : self.i + n]
        self.i += n
        return chunk


async def _read(data):
    got = []
    client = mqtt.MQTTClient("t", "127.0.0.1", keepalive=0, on_message=lambda *m: got.append(m))
    dead = asyncio.Event()
    await client._reader(Reader(data), dead)
    assert dead.is_set()
    return got


def _packet(first, body):
    assert len(body) < 128
    return bytes([first, len(body)]) + body


GOOD = b"\x00\x05tg/ab\x00\x07payload"  # topic "tg/ab", packet id 7


async def test_a_publish_is_delivered_until_the_stream_ends():
    got = await _read(_packet(0x32, GOOD) + _packet(0xD0, b""))  # and a PINGRESP
    assert got == [("tg/ab", b"payload", False)]


async def test_malformed_packets_close_the_link():
    for bad in (
        _packet(0x32, GOOD[:6]),  # a topic longer than the packet
        _packet(0x32, GOOD[:8]),  # no room for the packet id
        _packet(0x30, b"\x00"),  # no room for a topic length
        _packet(0x30, b""),
        _packet(0x30, b"\x00\x02\xff\xfe"),  # a topic that is not UTF-8
        b"\x30\xff\xff\xff\xff\x7f",  # a remaining length of five bytes
        b"\x30\x05\x00",  # the stream ends inside a packet
    ):
        assert await _read(bad + _packet(0x32, GOOD)) == [], bad


async def test_short_acks_are_no_packets_of_ours():
    for short in (_packet(0x40, b"\x00"), _packet(0x40, b""), _packet(0x90, b"")):
        assert await _read(short + _packet(0x32, GOOD)) == [("tg/ab", b"payload", False)], short
