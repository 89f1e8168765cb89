"""firmware.mqtt against a real Mosquitto (and a scripted fake broker for the
wire details a real broker never exercises, such as a missing PUBACK)."""

from __future__ import annotations

import asyncio
import struct
import uuid

import aiomqtt
import pytest

from firmware.mqtt import MQTTClient
from hil.broker import Broker

FAST = {"backoff_min_ms": 20, "backoff_max_ms": 200}


@pytest.fixture
async def start():
    """start(host, port, **kw) -> a client whose run() is cancelled after the test."""
    tasks = []

    def _start(host, port, **kw):
        client = MQTTClient("t-" + uuid.uuid4().hex[:8], host, port, **{**FAST, **kw})
        client.task = asyncio.create_task(client.run())
        tasks.append(client.task)
        return client

    yield _start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def own_broker():
    """A broker this test may stop and restart without disturbing the others."""
    b = Broker()
    yield b
    b.stop()


def inbox():
    """A queue and an on_message callback feeding it."""
    q = asyncio.Queue()
    return q, lambda topic, payload, retain: q.put_nowait((topic, payload, retain))


def prefix():
    return "test/" + uuid.uuid4().hex[:8]


async def next_message(peer, timeout=5):
    return await asyncio.wait_for(peer.messages.__anext__(), timeout)


async def connected(client, timeout=5):
    await asyncio.wait_for(client.wait_connected(), timeout)
    return client


# --- against Mosquitto ------------------------------------------------------


async def test_receives_what_it_subscribed_to(broker, start):
    q, on_message = inbox()
    p = prefix()
    client = await connected(start(broker.host, broker.port, on_message=on_message))
    await client.subscribe(p + "/dn/#")
    async with aiomqtt.Client(broker.host, broker.port) as peer:
        await peer.publish(p + "/other", b"not for us", qos=1)
        await peer.publish(p + "/dn/a", b"zero", qos=0)
        await peer.publish(p + "/dn/b", b"one", qos=1)
        got = [await asyncio.wait_for(q.get(), 5) for _ in range(2)]
    assert got == [(p + "/dn/a", b"zero", False), (p + "/dn/b", b"one", False)]
    assert q.empty()


async def test_qos1_publish_returns_after_puback_and_is_delivered(broker, start):
    p = prefix()
    client = await connected(start(broker.host, broker.port))
    async with aiomqtt.Client(broker.host, broker.port) as peer:
        await peer.subscribe(p + "/up", qos=1)
        await asyncio.wait_for(client.publish(p + "/up", b"tap-1", qos=1), 5)
        await client.publish(p + "/up", b"tap-2", qos=0)
        first, second = await next_message(peer), await next_message(peer)
    assert (first.payload, first.qos) == (b"tap-1", 1)
    assert (second.payload, second.qos) == (b"tap-2", 0)


async def test_qos0_while_disconnected_is_dropped(own_broker, start):
    client = start(own_broker.host, own_broker.port)
    await asyncio.wait_for(client.publish("x", b"lost", qos=0), 1)  # returns at once
    assert not client.is_connected()


async def test_retained_flag_reaches_on_message(broker, start):
    q, on_message = inbox()
    p = prefix()
    async with aiomqtt.Client(broker.host, broker.port) as peer:
        await peer.publish(p + "/cfg", b"stored", qos=1, retain=True)
        client = await connected(start(broker.host, broker.port, on_message=on_message))
        await client.subscribe(p + "/cfg")
        assert await asyncio.wait_for(q.get(), 5) == (p + "/cfg", b"stored", True)
        await peer.publish(p + "/cfg", b"live", qos=1)
        assert await asyncio.wait_for(q.get(), 5) == (p + "/cfg", b"live", False)
        await peer.publish(p + "/cfg", b"", qos=1, retain=True)  # clear it


async def test_large_payload_round_trip(start):
    # tapgift's brokers refuse what the protocol does not allow (hil/broker.py
    # MAX_PACKET); the client handles any MQTT size it is allowed (max_packet), as checked here.
    broker = Broker(size_limit=False)
    await asyncio.to_thread(broker.start)
    try:
        q, on_message = inbox()
        p = prefix()
        client = await connected(start(broker.host, broker.port, on_message=on_message, max_packet=400_000))
        await client.subscribe(p + "/big")
        for size in (20_000, 300_000):  # 3-byte remaining length, both directions
            payload = bytes(i % 251 for i in range(size))
            await asyncio.wait_for(client.publish(p + "/big", payload, qos=1), 5)
            assert await asyncio.wait_for(q.get(), 5) == (p + "/big", payload, False)
        client.drop()
    finally:
        await asyncio.to_thread(broker.stop)


async def test_broker_down_at_power_up_is_retried(own_broker, start):
    attempts = []

    async def opener(host, port):
        attempts.append(port)
        return await asyncio.open_connection(host, port)

    client = start(own_broker.host, own_broker.port, open_connection=opener)
    await asyncio.sleep(0.4)
    assert not client.is_connected()
    assert len(attempts) >= 2
    await asyncio.to_thread(own_broker.start)
    await connected(client)
    assert client.reconnects == 0
    assert not client.task.done()


async def test_broker_restart_resubscribes_and_delivers_queued_qos1(own_broker, start):
    own_broker.start()
    q, on_message = inbox()
    client = await connected(start(own_broker.host, own_broker.port, on_message=on_message))
    await client.subscribe("dev/dn")

    await asyncio.to_thread(own_broker.stop)
    while client.is_connected():
        await asyncio.sleep(0.01)
    queued = asyncio.create_task(client.publish("dev/up", b"made offline", qos=1, retain=True))
    await asyncio.sleep(0.3)
    assert not queued.done()  # waits for a broker to acknowledge it

    await asyncio.to_thread(own_broker.start)
    await connected(client)
    await asyncio.wait_for(queued, 5)
    assert client.reconnects == 1
    async with aiomqtt.Client(own_broker.host, own_broker.port) as peer:
        await peer.subscribe("dev/up", qos=1)
        msg = await next_message(peer)
        assert msg.payload == b"made offline"
        await peer.publish("dev/dn", b"after restart", qos=1)
        assert await asyncio.wait_for(q.get(), 5) == ("dev/dn", b"after restart", False)


async def test_will_published_on_drop_but_not_on_disconnect(broker, start):
    status = prefix() + "/status"

    async def on_connect():
        await client.publish(status, b"online", qos=1)

    async with aiomqtt.Client(broker.host, broker.port) as peer:
        await peer.subscribe(status, qos=1)
        client = start(broker.host, broker.port, will=(status, b"offline", 1, False), on_connect=on_connect)
        await connected(client)
        assert (await next_message(peer)).payload == b"online"

        client.drop()
        assert not client.is_connected()
        assert (await next_message(peer)).payload == b"offline"
        assert (await next_message(peer)).payload == b"online"  # reconnected by itself
        assert client.reconnects == 1

        await client.disconnect()
        await asyncio.wait_for(client.task, 2)  # run() has stopped
        with pytest.raises(asyncio.TimeoutError):
            await next_message(peer, timeout=0.5)


async def test_every_link_loss_reconnects_fast(broker, start):
    """Backoff grows only while connecting fails, not with each lost link."""
    client = await connected(start(broker.host, broker.port, backoff_min_ms=50, backoff_max_ms=5000))
    loop = asyncio.get_running_loop()
    for n in range(1, 7):
        client.drop()
        t0 = loop.time()
        await connected(client)
        assert loop.time() - t0 < 0.3
        assert client.reconnects == n


async def test_cancelling_run_closes_the_link(broker, start):
    status = prefix() + "/status"
    async with aiomqtt.Client(broker.host, broker.port) as peer:
        await peer.subscribe(status, qos=1)
        client = await connected(start(broker.host, broker.port, will=(status, b"gone", 0, False)))
        client.task.cancel()
        assert (await next_message(peer)).payload == b"gone"


async def test_keepalive_pings_keep_an_idle_session(broker, start):
    q, on_message = inbox()
    p = prefix()
    client = await connected(start(broker.host, broker.port, keepalive=1, on_message=on_message))
    await client.subscribe(p + "/dn")
    await asyncio.sleep(3.2)  # Mosquitto drops a silent client after 1.5 s
    assert client.is_connected() and client.reconnects == 0
    async with aiomqtt.Client(broker.host, broker.port) as peer:
        await peer.publish(p + "/dn", b"still here", qos=1)
    assert await asyncio.wait_for(q.get(), 5) == (p + "/dn", b"still here", False)


async def test_silent_dead_link_is_detected_and_replaced(broker, start):
    """The TCP link stays open but nothing arrives any more (Wi-Fi gone)."""
    links = []

    class Blackhole:
        def __init__(self, reader):
            self.reader, self.dead = reader, False

        async def readexactly(self, n):
            if self.dead:
                await asyncio.Event().wait()
            return await self.reader.readexactly(n)

    async def opener(host, port):
        r, w = await asyncio.open_connection(host, port)
        links.append(Blackhole(r))
        return links[-1], w

    client = await connected(start(broker.host, broker.port, keepalive=1, open_connection=opener))
    links[0].dead = True
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while len(links) < 2:
        await asyncio.sleep(0.01)
        assert loop.time() - t0 < 2.0  # 1.5 x keepalive plus a backoff
    await connected(client)
    assert client.reconnects == 1


# --- against a scripted fake broker -----------------------------------------


async def read_packet(reader):
    first = (await reader.readexactly(1))[0]
    n = shift = 0
    while True:
        b = (await reader.readexactly(1))[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return first, await reader.readexactly(n)


def parse_publish(first, body):
    n = struct.unpack_from("!H", body)[0]
    topic = body[2 : 2 + n].decode()
    pid = struct.unpack_from("!H", body, 2 + n)[0] if first & 0x06 else None
    return topic, pid, body[2 + n + (2 if pid is not None else 0) :]


class FakeBroker:
    """Accepts connections, answers CONNECT, and hands each link to `script`."""

    def __init__(self, script):
        self.script = script
        self.connects = []

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _serve(self, reader, writer):
        first, body = await read_packet(reader)
        assert first == 0x10
        self.connects.append(body)
        writer.write(b"\x20\x02\x00\x00")
        try:
            await self.script(reader, writer)
        finally:
            writer.close()


async def test_connect_carries_credentials_will_and_keepalive(start):
    async def idle(reader, writer):
        await reader.read()

    async with FakeBroker(idle) as fake:
        client = start(
            "127.0.0.1",
            fake.port,
            user="d17",
            password="s3cret",
            keepalive=7,
            will=("tg/s/d17/up/status", b"offline", 1, True),
        )
        await connected(client)
    body = fake.connects[0]
    assert body[:7] == b"\x00\x04MQTT\x04"
    assert body[7] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02  # user, pass, will retain+qos1, will, clean
    assert struct.unpack_from("!H", body, 8)[0] == 7
    fields, i = [], 10
    while i < len(body):
        n = struct.unpack_from("!H", body, i)[0]
        fields.append(body[i + 2 : i + 2 + n])
        i += 2 + n
    assert fields == [client.client_id.encode(), b"tg/s/d17/up/status", b"offline", b"d17", b"s3cret"]


async def test_qos1_retransmitted_with_dup_until_acked(start):
    seen = []

    async def ack_second_try(reader, writer):
        while True:
            first, body = await read_packet(reader)
            if first >> 4 == 3:
                seen.append((first, parse_publish(first, body)))
                if len(seen) == 2:
                    writer.write(b"\x40\x02" + struct.pack("!H", seen[-1][1][1]))

    async with FakeBroker(ack_second_try) as fake:
        client = await connected(start("127.0.0.1", fake.port, ack_timeout_ms=200))
        await asyncio.wait_for(client.publish("tg/up", b"report", qos=1), 3)
    (first1, pub1), (first2, pub2) = seen
    assert first1 == 0x32 and first2 == 0x3A  # QoS 1, then QoS 1 + DUP
    assert pub1 == pub2 and pub1[0] == "tg/up" and pub1[2] == b"report"


async def test_incoming_qos1_acked_even_when_duplicate(start):
    acks = asyncio.Queue()
    q, on_message = inbox()
    pkt = b"\x00\x05tg/dn" + struct.pack("!H", 7) + b"reply"

    async def send_twice(reader, writer):
        await asyncio.sleep(0.05)  # let the client finish connecting
        writer.write(bytes([0x32, len(pkt)]) + pkt + bytes([0x3A, len(pkt)]) + pkt)
        while True:
            acks.put_nowait(await read_packet(reader))

    async with FakeBroker(send_twice) as fake:
        await connected(start("127.0.0.1", fake.port, on_message=on_message))
        got = [await asyncio.wait_for(acks.get(), 3) for _ in range(2)]
    assert got == [(0x40, b"\x00\x07")] * 2
    assert await q.get() == ("tg/dn", b"reply", False)


async def test_packet_ids_wrap_from_65535_to_1(start):
    pids = []

    async def ack_all(reader, writer):
        while True:
            first, body = await read_packet(reader)
            pid = parse_publish(first, body)[1]
            pids.append(pid)
            writer.write(b"\x40\x02" + struct.pack("!H", pid))

    async with FakeBroker(ack_all) as fake:
        client = await connected(start("127.0.0.1", fake.port))
        client._pid = 65534  # white box: skip 65 533 publishes
        for _ in range(3):
            await asyncio.wait_for(client.publish("tg/up", b"x", qos=1), 3)
    assert pids == [65535, 1, 2]


async def test_a_packet_larger_than_max_packet_breaks_the_link(start):
    async def oversized(reader, writer):
        if len(fake.connects) == 1:
            # A PUBLISH announcing 100,000 bytes: the client must not try to take them.
            writer.write(b"\x30\xa0\x8d\x06")
            await writer.drain()
        await reader.read()

    async with FakeBroker(oversized) as fake:
        client = start("127.0.0.1", fake.port, max_packet=4096)
        await connected(client)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while len(fake.connects) < 2:
            await asyncio.sleep(0.01)
            assert loop.time() - t0 < 2.0
        await connected(client)
        assert client.reconnects == 1


async def test_qos1_resent_at_most_max_resends_times_then_the_link_counts_as_broken(start):
    seen = []

    async def never_ack(reader, writer):
        while True:
            first, body = await read_packet(reader)
            if first >> 4 == 3:
                seen.append((len(fake.connects), first))
                if len(fake.connects) >= 2:  # the new link acks
                    writer.write(b"\x40\x02" + struct.pack("!H", parse_publish(first, body)[1]))

    async with FakeBroker(never_ack) as fake:
        client = await connected(start("127.0.0.1", fake.port, ack_timeout_ms=100, max_resends=2))
        await asyncio.wait_for(client.publish("tg/up", b"report", qos=1), 5)
    on_first_link = [first for link, first in seen if link == 1]
    assert on_first_link == [0x32, 0x3A, 0x3A]  # sent, then resent twice (DUP), then dropped
    assert len(fake.connects) == 2 and client.reconnects == 1


async def test_a_write_that_cannot_drain_breaks_the_link(broker, start):
    """The socket's buffer is full and stays full (the Wi-Fi is gone): a publish must not hang
    the client; the link is dropped after ack_timeout_ms and made again."""
    opened = []

    class Stuck:
        def __init__(self, writer):
            self.writer, self.stuck = writer, False
            self.transport = writer.transport

        def write(self, data):
            self.writer.write(data)

        def get_extra_info(self, name):
            return self.writer.get_extra_info(name)

        async def drain(self):
            if self.stuck:
                await asyncio.Event().wait()
            await self.writer.drain()

    async def opener(host, port):
        r, w = await asyncio.open_connection(host, port)
        opened.append(Stuck(w))
        return r, opened[-1]

    client = await connected(start(broker.host, broker.port, ack_timeout_ms=200, open_connection=opener))
    opened[0].stuck = True
    publishing = asyncio.create_task(client.publish("test/stuck", b"x", qos=1))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while len(opened) < 2:
        await asyncio.sleep(0.01)
        assert loop.time() - t0 < 2.0
    await asyncio.wait_for(publishing, 5)  # sent again on the new link, and acknowledged
    assert client.reconnects == 1
