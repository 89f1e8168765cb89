"""A lean load generator for `tapgift bench`: protocol-level devices, no firmware stack.

Each simulated device is one MQTT 3.1.1 connection (a bare asyncio.Protocol, no client
library) that does on the wire what a controller does (firmware/link.py): a request id
from protocol.ids.RequestIds (the boot counter persisted before use), the body signed
with the device's key (protocol.signing), published at QoS 1 and repeated with the same
id after the reply timeout; a reply counts only when its tag is right and it names the
request in flight. A tap is a tap request, then (on a grant) a delivery report of every
unit granted, as a dispenser that delivered in full.

The devices run in worker processes (`python -m hil.loadgen`, one JSON line of work in,
JSON lines out) so that the bench can spread them over cores and measure their CPU
apart from the hub's and the broker's. Per tap a worker spends a small fraction of what
the hub does; `tapgift bench` reports both, side by side.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from protocol import topics
from protocol.ids import RequestIds
from protocol.signing import Signer

TICK_S = 0.001
START_BATCH = 100  # connections opened at once: keeps the broker's accept queue short
_CONNACK, _PUBLISH, _PUBACK, _SUBACK = 0x20, 0x30, 0x40, 0x90


def _varlen(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02  # clean session: a simulated device keeps no session
    payload = _str(client_id.encode())
    if username is not None:
        flags |= 0x80
        payload += _str(username.encode())
    if password is not None:
        flags |= 0x40
        payload += _str(password.encode())
    body = _str(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 0) + payload  # no keepalive
    return bytes([0x10]) + _varlen(len(body)) + body


def subscribe_packet(mid: int, topic: str, qos: int = 1) -> bytes:
    body = struct.pack("!H", mid) + _str(topic.encode()) + bytes([qos])
    return bytes([0x82]) + _varlen(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, mid: int, dup: bool = False) -> bytes:
    """A QoS 1 PUBLISH."""
    body = _str(topic) + struct.pack("!H", mid) + payload
    return bytes([0x32 | (0x08 if dup else 0)]) + _varlen(len(body)) + body


class Tally:
    """What one worker saw."""

    def __init__(self):
        self.taps = self.granted = self.denied = self.timeouts = self.skipped = 0
        self.retries = self.reports = self.report_timeouts = self.bad_replies = self.duplicates = 0
        self.latencies: list[float] = []  # tap -> grant/deny, ms
        self.delivered: list[tuple[str, str, int]] = []  # (device, hold, units) acked by the hub
        self.posted = 0  # cents the hub acknowledged as posted

    def as_dict(self) -> dict:
        return dict(vars(self))


class Device(asyncio.Protocol):
    """One controller's conversation with the hub, driven by callbacks (no task per device)."""

    def __init__(self, gen: Generator, device_id: str, key: str, site: str, ids_dir: str):
        from hub.devices.registry import mqtt_credentials  # the credentials the hub derives

        self.gen = gen
        self.id = device_id
        self.signer = Signer(key)
        self.ids = RequestIds(os.path.join(ids_dir, device_id + ".boot"))
        self.credentials = mqtt_credentials(device_id, key)
        self.tap_topic = topics.up(site, device_id, topics.TAP)
        self.report_topic = topics.up(site, device_id, topics.REPORT)
        self.reply_topic = topics.down(site, device_id)
        self._tap_topic_b = self.tap_topic.encode()
        self._report_topic_b = self.report_topic.encode()
        self._reply_topic_b = self.reply_topic.encode()
        self.transport: asyncio.Transport | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.mid = 0
        # The request in flight: its id, kind, card, packet, when sent (first), when last sent, tries.
        self.rid: str | None = None
        self.kind = ""
        self.card = ""
        self.packet = b""
        self.topic_b = b""
        self.payload = b""
        self.started = 0.0
        self.sent = 0.0
        self.tries = 0
        self.hold = ""
        self.units = 0

    # --- MQTT
    def connection_made(self, transport):
        self.transport = transport
        user, password = self.credentials
        transport.write(connect_packet(self.id, user, password))

    def connection_lost(self, exc):
        self.transport = None
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"{self.id}: connection lost ({exc})"))
        else:
            self.gen.lost += 1

    def data_received(self, data: bytes):
        buf = self.buf + data if self.buf else data
        pos, end = 0, len(buf)
        while end - pos >= 2:
            first = buf[pos]
            # remaining length
            length, shift, i = 0, 0, pos + 1
            while True:
                if i >= end:
                    self.buf = buf[pos:]
                    return
                b = buf[i]
                length |= (b & 0x7F) << shift
                i += 1
                if not b & 0x80:
                    break
                shift += 7
            if i + length > end:
                break
            kind = first & 0xF0
            if kind == _PUBLISH:
                tlen = (buf[i] << 8) | buf[i + 1]
                topic = buf[i + 2 : i + 2 + tlen]
                j = i + 2 + tlen
                qos = (first >> 1) & 3
                if qos:
                    self.transport.write(b"\x40\x02" + buf[j : j + 2])
                    j += 2
                self.on_publish(topic, buf[j : i + length], bool(first & 1))
            elif kind == _CONNACK:
                if buf[i + 1] != 0:
                    self.ready.set_exception(ConnectionError(f"{self.id}: CONNACK code {buf[i + 1]}"))
                else:
                    self.transport.write(subscribe_packet(self._next_mid(), self.reply_topic))
            elif kind == _SUBACK and not self.ready.done():
                self.ready.set_result(True)
            # PUBACK of our requests: nothing to do (the reply is what counts)
            pos = i + length
        self.buf = buf[pos:] if pos < end else b""

    def _next_mid(self) -> int:
        self.mid = self.mid % 0xFFFF + 1
        return self.mid

    # --- the controller's part
    def request(self, kind: str, topic_b: bytes, topic: str, body: dict, now: float) -> None:
        rid = self.ids.next()
        body["id"] = rid
        raw = json.dumps(body).encode()
        self.rid, self.kind, self.topic_b = rid, kind, topic_b
        self.payload = self.signer.seal(topic, raw)
        self.started = self.sent = now
        self.tries = 1
        self.transport.write(publish_packet(topic_b, self.payload, self._next_mid()))
        gen = self.gen
        if gen.duplicates and gen.rng.random() < gen.duplicates:
            # A QoS 1 redelivery as a broker or a flaky link makes one: the same request twice.
            gen.tally.duplicates += 1
            self.transport.write(publish_packet(topic_b, self.payload, self._next_mid(), dup=True))

    def tap(self, card: str, units: int, now: float) -> None:
        self.card = card
        self.gen.tally.taps += 1
        self.request(topics.TAP, self._tap_topic_b, self.tap_topic, {"card": card, "units": units}, now)

    def resend(self, now: float) -> None:
        """The same id again: the hub answers it with its first answer."""
        self.tries += 1
        self.sent = now
        self.gen.tally.retries += 1
        if self.transport is not None:
            self.transport.write(publish_packet(self.topic_b, self.payload, self._next_mid(), dup=True))

    def on_publish(self, topic: bytes, payload: bytes, retain: bool) -> None:
        if retain or topic != self._reply_topic_b or self.rid is None:
            return
        try:
            reply = json.loads(self.signer.open(self.reply_topic, payload))
        except Exception:  # forged or malformed: a controller drops it
            self.gen.tally.bad_replies += 1
            return
        if reply.get("re") != self.rid:
            return  # an old answer (a repeat's second reply): nobody waits for it
        now = time.perf_counter()
        tally = self.gen.tally
        if self.kind == topics.TAP:
            tally.latencies.append((now - self.started) * 1000)
            if reply.get("k") == "grant":
                tally.granted += 1
                self.hold, self.units = reply["hold"], reply["units"]
                self.request(
                    topics.REPORT,
                    self._report_topic_b,
                    self.report_topic,
                    {"hold": self.hold, "delivered": self.units},
                    now,
                )
                return
            tally.denied += 1
        else:
            tally.reports += 1
            if reply.get("k") == "ack":
                tally.posted += reply.get("posted", 0)
                tally.delivered.append((self.id, self.hold, self.units))
        self.rid = None
        self.gen.idle.append(self)

    def give_up(self) -> None:
        if self.kind == topics.TAP:
            self.gen.tally.timeouts += 1
        else:
            self.gen.tally.report_timeouts += 1
        self.rid = None
        self.gen.idle.append(self)


class Generator:
    """Devices of one worker process, tapped at a rate."""

    def __init__(self, work: dict):
        self.work = work
        self.devices: list[Device] = []
        self.idle: list[Device] = []
        self.tally = Tally()
        self.lost = 0
        self.reply_timeout_s = work.get("reply_timeout_ms", 1500) / 1000
        self.retries = work.get("retries", 2)
        self.duplicates = work.get("duplicates", 0.0)  # the share of requests sent twice
        self.rng = random.Random(work.get("seed"))

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port, site = self.work["host"], self.work["port"], self.work["site"]
        ids_dir = self.work.get("ids_dir") or tempfile.mkdtemp(prefix="tapgift-loadgen-")
        os.makedirs(ids_dir, exist_ok=True)
        pairs = self.work["devices"]
        for i in range(0, len(pairs), START_BATCH):
            batch = [Device(self, d, k, site, ids_dir) for d, k in pairs[i : i + START_BATCH]]
            for device in batch:
                await loop.create_connection(lambda device=device: device, host, port)
            await asyncio.wait_for(asyncio.gather(*(d.ready for d in batch)), 30)
            self.devices += batch

    async def run(self, rate: float, duration: float) -> dict:
        cards = self.work["cards"]
        units = self.work.get("units", 1)
        rng = self.rng
        self.idle = list(self.devices)
        rng.shuffle(self.idle)
        tally = self.tally
        cpu0, start = time.process_time(), time.perf_counter()
        issued = 0
        next_scan = start
        while True:
            now = time.perf_counter()
            elapsed = now - start
            if elapsed >= duration:
                break
            due = int(elapsed * rate) - issued
            for _ in range(due):
                issued += 1
                if not self.idle:
                    tally.skipped += 1
                    continue
                device = (
                    self.idle.pop(rng.randrange(len(self.idle))) if len(self.idle) > 1 else self.idle.pop()
                )
                device.tap(cards[rng.randrange(len(cards))], units, now)
            if now >= next_scan:
                self._timeouts(now)
                next_scan = now + 0.05
            await asyncio.sleep(TICK_S)
        issued_s = time.perf_counter() - start
        # The taps still in flight: at most as long as one request can take with its repeats.
        deadline = time.perf_counter() + 2 * (self.retries + 1) * self.reply_timeout_s + 1
        while len(self.idle) < len(self.devices) and time.perf_counter() < deadline:
            self._timeouts(time.perf_counter())
            await asyncio.sleep(0.01)
        cpu = time.process_time() - cpu0
        return {
            **tally.as_dict(),
            "issued_s": round(issued_s, 3),
            "cpu_s": round(cpu, 4),
            "in_flight": len(self.devices) - len(self.idle),
            "lost_connections": self.lost,
        }

    def _timeouts(self, now: float) -> None:
        limit = self.reply_timeout_s
        for device in self.devices:
            if device.rid is not None and now - device.sent >= limit:
                if device.tries <= self.retries:
                    device.resend(now)
                else:
                    device.give_up()

    def close(self) -> None:
        for device in self.devices:
            if device.transport is not None:
                device.transport.close()


async def _worker_main() -> None:
    """A worker: its work in the JSON file named by argv[1]; prints {"ready": n}, waits for
    a line "go" on stdin, runs, prints the result (JSON) and exits."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    work = json.loads(Path(sys.argv[1]).read_text())
    gen = Generator(work)
    await gen.connect()
    print(json.dumps({"ready": len(gen.devices)}), flush=True)
    await reader.readline()
    try:
        result = await gen.run(work["rate"], work["duration"])
    finally:
        gen.close()
    print(json.dumps(result), flush=True)


class Workers:
    """Worker processes splitting the devices and the rate between them."""

    def __init__(
        self,
        devices: list[tuple[str, str]],
        cards: list[str],
        site: str,
        host: str,
        port: int,
        rate: float,
        duration: float,
        processes: int = 1,
        ids_dir: str | None = None,
        seed: int = 1,
        duplicates: float = 0.0,
    ):
        processes = max(1, min(processes, len(devices)))
        ids_dir = ids_dir or tempfile.mkdtemp(prefix="tapgift-loadgen-")
        self.work = [
            {
                "devices": devices[i::processes],
                "cards": cards,
                "site": site,
                "host": host,
                "port": port,
                "rate": rate / processes,
                "duration": duration,
                "ids_dir": ids_dir,
                "seed": seed + i,
                "duplicates": duplicates,
            }
            for i in range(processes)
        ]
        self.procs: list[subprocess.Popen] = []

    def start(self, timeout: float = 120) -> None:
        """Start the workers and wait until every device is connected and subscribed."""
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        for i, work in enumerate(self.work):
            path = Path(work["ids_dir"]) / f"loadgen-{i}.json"
            path.write_text(json.dumps(work))
            proc = subprocess.Popen(
                [sys.executable, "-m", "hil.loadgen", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            self.procs.append(proc)
        for proc in self.procs:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a load generator worker ended early (exit {proc.wait(timeout)})")
            json.loads(line)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def go(self) -> None:
        for proc in self.procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def results(self) -> list[dict]:
        out = []
        for proc in self.procs:
            line = proc.stdout.readline()
            proc.wait(30)
            if not line:
                raise RuntimeError(f"a load generator worker failed (exit {proc.returncode})")
            out.append(json.loads(line))
        return out

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def merge(results: list[dict]) -> dict:
    """One tally from the workers' tallies."""
    total: dict = {}
    for r in results:
        for name, value in r.items():
            if isinstance(value, list):
                total.setdefault(name, []).extend(value)
            elif name == "issued_s":
                total[name] = max(total.get(name, 0), value)
            else:
                total[name] = total.get(name, 0) + value
    return total


if __name__ == "__main__":
    asyncio.run(_worker_main())
