# A small asyncio MQTT 3.1.1 client that runs unchanged on MicroPython (ESP32)
# and on CPython (the HIL simulator runs thousands of them in one process).
# QoS 0 and 1, clean sessions. QoS 1 publishes stay queued across link losses
# and are sent again (DUP) after reconnecting, so delivery is at least once
# (unless the publisher cancels the publish: see publish).
import asyncio
import struct
from random import getrandbits

from firmware.hal import sleep_ms, ticks_diff, ticks_ms, wait_for_ms
from protocol import const

# Packet types (high nibble of the first byte).
_CONNACK = const(2)
_PUBLISH = const(3)
_PUBACK = const(4)
_SUBACK = const(9)
_DUP = const(0x08)
# Socket option numbers, the same on Linux, BSD, macOS and Windows.
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)
_PINGREQ = const(b"\xc0\x00")
_DISCONNECT = const(b"\xe0\x00")

# A pending QoS 1 publish: [order, packet, acked Event, last send tick or None,
# resends on this link].
_SEQ = const(0)
_PKT = const(1)
_EV = const(2)
_SENT = const(3)
_TRIES = const(4)


class MQTTError(Exception):
    pass


# What a broken link, a refusing broker or a malformed packet (ValueError: a
# topic not UTF-8) raises; each closes the link. Anything else is a bug.
_LINK_ERRORS = (OSError, EOFError, asyncio.TimeoutError, MQTTError, ValueError)


def _alloc(first, n):
    # One buffer per packet (fixed header + n bytes), so it goes out in one write.
    pkt = bytearray(n + 2 + (n > 127) + (n > 16383) + (n > 2097151))
    pkt[0] = first
    i = 1
    while True:
        b = n & 0x7F
        n >>= 7
        pkt[i] = b | 0x80 if n else b
        i += 1
        if not n:
            return pkt, i


def _put(pkt, i, data):
    n = len(data)
    struct.pack_into("!H", pkt, i, n)
    pkt[i + 2 : i + 2 + n] = data
    return i + 2 + n


def _publish_packet(topic, payload, qos, retain, pid):
    t = topic.encode()
    pkt, i = _alloc(0x30 | qos << 1 | retain, 2 + len(t) + len(payload) + 2 * qos)
    i = _put(pkt, i, t)
    if qos:
        struct.pack_into("!H", pkt, i, pid)
        i += 2
    pkt[i:] = payload
    return pkt


async def _read_packet(r, limit=0xFFFFFFF):
    first = (await r.readexactly(1))[0]
    n = shift = 0
    while True:
        b = (await r.readexactly(1))[0]
        n |= (b & 0x7F) << shift
        if b < 0x80:
            if n > limit:
                # Reading it would take the heap a board does not have: a broken link.
                raise MQTTError("packet of %d bytes" % n)
            return first, await r.readexactly(n)
        shift += 7
        if shift > 21:
            raise MQTTError("bad remaining length")


def _nodelay(w):
    try:
        w.get_extra_info("socket").setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
    except Exception:
        pass  # MicroPython streams expose no socket; nothing to tune there


def _abort(w):
    t = getattr(w, "transport", None)
    if t is not None:
        t.abort()  # CPython: close now, without flushing
    else:
        getattr(w, "s", w).close()  # MicroPython's Stream.close() is a no-op


def _connect_packet(client_id, user, password, keepalive, will):
    flags = 0x02  # clean session
    fields = [client_id.encode()]
    if will:
        topic, payload, qos, retain = will
        flags |= 0x04 | qos << 3 | retain << 5
        fields.append(topic.encode())
        fields.append(payload)
    if user is not None:
        flags |= 0x80
        fields.append(user.encode())
    if password is not None:
        flags |= 0x40
        fields.append(password.encode() if isinstance(password, str) else password)
    pkt, i = _alloc(0x10, 10 + sum(2 + len(f) for f in fields))
    struct.pack_into("!H4sBBH", pkt, i, 4, b"MQTT", 4, flags, keepalive)
    i += 10
    for f in fields:
        i = _put(pkt, i, f)
    return pkt


class MQTTClient:
    def __init__(
        self,
        client_id,
        host,
        port=1883,
        user=None,
        password=None,
        keepalive=30,
        will=None,
        on_message=None,
        on_connect=None,
        backoff_min_ms=100,
        backoff_max_ms=5000,
        ack_timeout_ms=2000,
        open_connection=None,
        max_packet=4096,
        max_resends=3,
        ssl=None,
    ):
        """max_packet: the largest packet taken from the broker (tapgift's are at most
        1,256 bytes); a larger one breaks the link. max_resends: how often a QoS 1 publish
        goes again on one link without its PUBACK before the link counts as broken. Every
        write must drain within ack_timeout_ms, or the link counts as broken too. ssl: an
        SSLContext for TLS to the broker (given to open_connection), or None."""
        self.client_id = client_id
        self.host = host
        self.port = port
        self.on_message = on_message
        self.on_connect = on_connect
        self.reconnects = 0
        self._connect = _connect_packet(client_id, user, password, keepalive, will)
        self._ka = keepalive * 1000
        self._bmin = backoff_min_ms
        self._bmax = backoff_max_ms
        self._ack_ms = ack_timeout_ms
        self._open = open_connection
        self._max = max_packet
        self._ssl = ssl
        self._resends = max_resends
        self._lock = asyncio.Lock()
        self._up = asyncio.Event()
        self._dead = asyncio.Event()
        self._w = None
        self._subs = {}  # topic -> qos, replayed on every connect
        self._pending = {}  # pid -> pending QoS 1 publish
        self._subw = {}  # pid -> [Event, SUBACK return codes or None]
        self._pid = 0
        self._seq = 0
        self._rx = self._tx = 0
        self._stop = False
        self._ever = False
        self._came_up = False

    def is_connected(self):
        return self._up.is_set()

    async def wait_connected(self):
        await self._up.wait()

    async def run(self):
        self._stop = False
        delay = 0
        while not self._stop:
            came_up = False
            try:
                r, w = await self._handshake()
            except _LINK_ERRORS:
                pass
            else:
                if self._stop:  # disconnect() came while connecting
                    _abort(w)
                    return
                came_up = await self._session(r, w)
            # Back off exponentially, from the minimum again after a good session.
            delay = self._bmin if came_up else min(max(delay * 2, self._bmin), self._bmax)
            if not self._stop:
                await sleep_ms(delay // 2 + getrandbits(16) % (delay // 2 + 1))

    async def publish(self, topic, payload, qos=0, retain=False):
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        if not qos:
            if self._w is not None:
                await self._send(_publish_packet(topic, payload, 0, retain, 0))
            return
        pid = self._new_pid()
        self._seq += 1
        e = [self._seq, _publish_packet(topic, payload, 1, retain, pid), asyncio.Event(), None, 0]
        self._pending[pid] = e
        if self._w is not None:
            await self._send(self._mark_sent(e))
        # Otherwise the next connect sends it.
        try:
            await e[_EV].wait()
        except asyncio.CancelledError:
            # The caller gave up (a request timed out, the link being down):
            # it is not sent again after reconnecting, so an outage neither
            # piles up messages nor brings stale taps to the hub afterwards.
            self._pending.pop(pid, None)
            raise

    async def subscribe(self, topic, qos=1):
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        self._subs[topic] = qos
        if self._w is None:
            return  # subscribed on connect
        pid, pkt = self._subscribe_packet(((topic, qos),))
        waiter = self._subw[pid]
        if await self._send(pkt):
            await waiter[0].wait()
        self._subw.pop(pid, None)
        if waiter[1] and waiter[1][0] == 0x80:
            raise MQTTError("subscription refused: " + topic)

    async def disconnect(self):
        self._stop = True
        dead = self._dead
        if await self._send(_DISCONNECT):
            # Let the broker close first: resetting the link before it has read
            # DISCONNECT would make it publish the will.
            try:
                await wait_for_ms(dead.wait(), self._ack_ms)
            except asyncio.TimeoutError:
                pass
        self.drop()

    def drop(self):
        w = self._w
        if w is not None:
            self._w = None
            self._up.clear()
            _abort(w)
            self._dead.set()

    # --- connection -------------------------------------------------------

    async def _handshake(self):
        opener = self._open or asyncio.open_connection
        if self._ssl is None:
            opening = opener(self.host, self.port)
        else:
            opening = opener(self.host, self.port, ssl=self._ssl)
        r, w = await wait_for_ms(opening, self._ack_ms)
        try:
            _nodelay(w)
            w.write(self._connect)
            await wait_for_ms(w.drain(), self._ack_ms)
            first, body = await wait_for_ms(_read_packet(r, self._max), self._ack_ms)
            if first >> 4 != _CONNACK or body[1:2] != b"\x00":
                raise MQTTError("connection refused: %r" % (body,))
        except BaseException:
            _abort(w)
            raise
        return r, w

    async def _session(self, r, w):
        """Serve one connection until it dies; True if it got fully up."""
        if self._ever:
            self.reconnects += 1
        self._ever = True
        dead = self._dead = asyncio.Event()
        self._came_up = False
        self._rx = ticks_ms()
        tasks = [asyncio.create_task(self._reader(r, dead))]
        try:
            pid = await self._resume(w)
            tasks.append(asyncio.create_task(self._keepalive_loop()))
            tasks.append(asyncio.create_task(self._start(dead, pid)))
            await dead.wait()
        except _LINK_ERRORS:
            pass
        finally:
            self._w = None
            self._up.clear()
            for t in tasks:
                t.cancel()
            _abort(w)
            for waiter in self._subw.values():
                waiter[0].set()
            self._subw.clear()
        return self._came_up

    async def _resume(self, w):
        # SUBSCRIBE goes out before the queued publishes: the broker handles a
        # connection's packets in order, so replies to them find the subscription.
        pid = 0
        async with self._lock:
            self._w = w
            if self._subs:
                pid, pkt = self._subscribe_packet(self._subs.items())
                w.write(pkt)
            for e in sorted(self._pending.values()):
                e[_TRIES] = 0  # a new link: its own count of resends
                w.write(self._mark_sent(e))
            self._tx = ticks_ms()
            await wait_for_ms(w.drain(), self._ack_ms)
        return pid

    async def _start(self, dead, pid):
        try:
            if pid:
                waiter = self._subw[pid]
                try:
                    await wait_for_ms(waiter[0].wait(), self._ack_ms)
                except asyncio.TimeoutError:
                    dead.set()
                    return
            if self.on_connect:
                await self.on_connect()
            self._came_up = True
            self._up.set()
        except Exception:
            dead.set()
            raise

    async def _reader(self, r, dead):
        # Silence for 1.5 keepalive periods means the link is dead. Checked
        # here, not by the pinger, whose writes can block on a dead link.
        limit = self._ka + self._ka // 2
        try:
            while True:
                pkt = _read_packet(r, self._max)
                first, body = await (wait_for_ms(pkt, limit) if limit else pkt)
                self._rx = ticks_ms()
                await self._handle(first, body)
        except _LINK_ERRORS:
            pass
        finally:
            dead.set()

    async def _handle(self, first, body):
        # A malformed packet raises MQTTError, or ValueError for a topic that is
        # not UTF-8: _LINK_ERRORS, which close the link.
        kind = first >> 4
        # PUBLISH: the topic's length; PUBACK, SUBACK: the packet id (a short
        # one reads as no packet of ours: slices never raise).
        word = int.from_bytes(body[:2], "big")
        if kind == _PUBLISH:
            i = 2 + word
            topic = body[2:i].decode()
            qos = first >> 1 & 3
            if qos:
                i += 2
            if i > len(body):
                raise MQTTError("short publish")
            if self.on_message:
                self.on_message(topic, body[i:], bool(first & 1))
            if qos:
                await self._send(b"\x40\x02" + body[i - 2 : i])  # PUBACK
        elif kind == _PUBACK:
            e = self._pending.pop(word, None)
            if e:
                e[_EV].set()
        elif kind == _SUBACK:
            waiter = self._subw.pop(word, None)
            if waiter:
                waiter[1] = body[2:]
                waiter[0].set()

    async def _keepalive_loop(self):
        half = self._ka // 2
        # Housekeeping period: fine enough for both keepalive and ack timeouts.
        tick = (min(self._ack_ms, half) if half else self._ack_ms) // 2 or 1
        while True:
            await sleep_ms(tick)
            now = ticks_ms()
            # Ping when either direction idles, so that a healthy link always
            # hears something well before the reader gives up on it.
            if half and (ticks_diff(now, self._rx) >= half or ticks_diff(now, self._tx) >= half):
                await self._send(_PINGREQ)
            if self._pending:
                # Send again what the broker has not acknowledged in time.
                for pid, e in list(self._pending.items()):
                    sent = e[_SENT]
                    if sent is not None and ticks_diff(now, sent) >= self._ack_ms and pid in self._pending:
                        if e[_TRIES] >= self._resends:
                            # The broker hears us not: a broken link, whatever TCP says.
                            self._dead.set()
                            return
                        e[_TRIES] += 1
                        await self._send(self._mark_sent(e))

    # --- writing ----------------------------------------------------------

    async def _send(self, pkt):
        """Write one whole packet; False if the link is down (or just broke)."""
        async with self._lock:
            w = self._w
            if w is None:
                return False
            try:
                w.write(pkt)
                self._tx = ticks_ms()
                # A write that cannot drain (a link gone silent) must not hold the lock,
                # and every writer behind it, for good.
                await wait_for_ms(w.drain(), self._ack_ms)
                return True
            except _LINK_ERRORS:
                if self._w is w:
                    self._dead.set()
                return False

    def _mark_sent(self, e):
        """Note the (re)send of a pending publish; returns its packet."""
        if e[_SENT] is not None:
            e[_PKT][0] |= _DUP
        e[_SENT] = ticks_ms()
        return e[_PKT]

    def _new_pid(self):
        pid = self._pid
        while True:
            pid = pid % 65535 + 1
            if pid not in self._pending and pid not in self._subw:
                self._pid = pid
                return pid

    def _subscribe_packet(self, topics):
        pid = self._new_pid()
        topics = [(t.encode(), q) for t, q in topics]
        pkt, i = _alloc(0x82, 2 + sum(3 + len(t) for t, _ in topics))
        struct.pack_into("!H", pkt, i, pid)
        i += 2
        for t, q in topics:
            i = _put(pkt, i, t)
            pkt[i] = q
            i += 1
        self._subw[pid] = [asyncio.Event(), None]
        return pid, pkt
