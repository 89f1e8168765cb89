"""The MQTT side of the hub: verify, batch, authorise, commit, then answer.

Messages from controllers are verified (topic, HMAC tag, fields) as they
arrive and queued. One worker takes everything queued so far as a batch and
authorises it in one database transaction, inline in the bridge's event loop;
requests that arrive during a commit wait in the socket and form the next batch
(group commit). Replies are published only after the commit returned. In the hub
that loop is the bridge's own, on a thread of its own (hub.service.BridgeThread),
so a commit holds up neither the REST API nor the console; whatever another
thread's loop asks of the MQTT connection (publish_command, the broker's dynamic
security API: hub.devices.admission) is handed to the bridge's loop. Booking in
the loop instead of on a worker thread saves the hand-over of every batch (a
thread wake-up each way, the loop's own wake-up, the two threads taking the GIL
in turn): in `tapgift bench` at 500 taps/s, about 8 % less hub CPU per tap on
SQLite and 12 % on PostgreSQL, and a shorter p99 on SQLite.

Health telemetry, command acks and the devices' online/offline status
(hub/devices/management.py) never touch that path: receive() keeps them in memory
and a small loop stores them every manage_interval_s in a thread, where every hub
reads them (with several hubs each status reaches one); it also publishes the
pending commands of devices whose coming online this hub heard.

What it costs per tap (measured in `tapgift bench`, profiled with py-spy):
replies go out at QoS 0, since a reply is only ever sent after its commit and a
lost one is recovered by the device repeating its request id, which the hub
answers from the stored answer (DESIGN 4); a QoS 1 reply would cost the hub a
PUBACK to read and the broker one more packet each way, for no guarantee the
repeat does not already give. Commands keep QoS 1. And everything the client
writes during one turn of the event loop (PUBACKs for a burst of requests, the
replies of a batch) leaves in one socket write instead of one per packet.
Incoming PUBLISH packets and outgoing replies skip gmqtt's general packet code
(_fast_publish, _publish_head): a few bytes sliced or joined instead of packet
objects, a few microseconds less for each of the four messages of a tap.

The hub still subscribes at QoS 1: with one hub, its persistent session makes the
broker keep the devices' requests while the hub restarts. Each request costs it a
four-byte PUBACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from urllib.parse import urlsplit

from gmqtt import Client as MQTTClient
from gmqtt import Subscription
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTv311

from hub.core.clock import utcnow
from hub.devices import firmware_updates, management, refusals
from hub.devices.registry import DeviceDirectory, DeviceInfo
from hub.taps.authorize import Authorizer, Incoming
from protocol import ProtocolError, hub_side, topics

log = logging.getLogger("tapgift.bridge")

WINDOW_BELOW = 16  # see Bridge.batch_window_s
REPLY_QOS = 0  # see the module's docstring: the device's repeat is the redelivery
COMMAND_QOS = 1


class Flag(asyncio.Event):
    """An asyncio.Event that any thread's event loop may wait on: the bridge sets and clears it
    on its own loop, and the hub's other loop (the REST API's, a demo's, a test's) may wait for
    it too; each waiter is woken on its own loop."""

    def __init__(self) -> None:
        super().__init__()
        self._flag = False
        self._lock = threading.Lock()
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._lock:
            self._flag = True
            waiting, self._waiting = self._waiting, []
        for loop, future in waiting:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(_wake, future)

    def clear(self) -> None:
        self._flag = False

    async def wait(self) -> bool:
        if self._flag:
            return True
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._flag:
                return True
            self._waiting.append((loop, future))
        try:
            await future
        finally:
            with self._lock:
                if (loop, future) in self._waiting:
                    self._waiting.remove((loop, future))
        return True


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(True)


class _Corked:
    """A transport whose writes within one turn of the event loop leave as one write."""

    def __init__(self, transport):
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


def _cork(client: MQTTClient) -> None:
    """Route the client's writes through _Corked (gmqtt writes in two places: the
    connection's send_package and the protocol's write_data). A gmqtt without these
    attributes simply writes as before."""
    connection = getattr(client, "_connection", None)
    protocol = getattr(connection, "_protocol", None)
    transport = getattr(connection, "_transport", None)
    if transport is None or protocol is None or isinstance(transport, _Corked):
        return
    corked = _Corked(transport)
    connection._transport = corked
    if getattr(protocol, "_transport", None) is transport:
        protocol._transport = corked


def _fast_publish(client: MQTTClient, on_message: Callable) -> None:
    """Take incoming PUBLISH packets of QoS 0 and 1 (MQTT 3.1.1, as the hub connects) off
    gmqtt's general handler, which unpacks each with struct formats built per packet, parses
    properties MQTT 3.1.1 has not, and builds its PUBACK as a packet object: here the topic is
    sliced out, the PUBACK written as four bytes to the corked transport, then on_message
    called as gmqtt would (optimistic acknowledgement, its default). QoS 2, or a gmqtt without
    these attributes, goes on through gmqtt."""
    handler = getattr(client, "_package_handler", client)  # gmqtt's packet handler
    cache = getattr(handler, "_handler_cache", None)
    general = getattr(handler, "_handle_publish_packet", None)
    state = getattr(handler, "_connection_state", None)
    if cache is None or general is None or getattr(state, "protocol_version", None) != MQTTv311:
        return

    def handle(cmd: int, packet: bytes) -> None:
        qos = (cmd >> 1) & 3
        transport = _corked_transport(client)
        if qos == 2 or transport is None or len(packet) < 2:
            general(cmd, packet)
            return
        end = 2 + ((packet[0] << 8) | packet[1])
        topic = packet[2:end].decode("utf-8", "replace")
        if qos:
            transport.write(b"\x40\x02" + packet[end : end + 2])
            end += 2
        if topic:
            on_message(client, topic, packet[end:], qos, {"dup": (cmd >> 3) & 1, "retain": cmd & 1})

    cache[0x30] = handle


def _corked_transport(client: MQTTClient) -> _Corked | None:
    """The connection's corked transport while it is connected, else None."""
    connection = getattr(client, "_connection", None)
    transport = getattr(connection, "_transport", None)
    if isinstance(transport, _Corked) and client.is_connected and not transport.is_closing():
        return transport
    return None


def _topic_field(topic: str) -> bytes:
    encoded = topic.encode()
    return len(encoded).to_bytes(2, "big") + encoded


def _publish_head(remaining: int) -> bytes:
    """The fixed header of a QoS 0 PUBLISH with `remaining` bytes after it."""
    head = bytearray(b"\x30")
    while True:
        byte, remaining = remaining & 0x7F, remaining >> 7
        head.append(byte | (0x80 if remaining else 0))
        if not remaining:
            return bytes(head)


def parse_mqtt_url(url: str) -> dict:
    """mqtt://user:pass@host:port, or mqtts:// for TLS (port 8883 by default)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp", "mqtts"):
        raise ValueError(f"not an mqtt:// or mqtts:// URL: {url}")
    tls = parts.scheme == "mqtts"
    return {
        "hostname": parts.hostname or "127.0.0.1",
        "port": parts.port or (8883 if tls else 1883),
        "username": parts.username,
        "password": parts.password,
        "tls": tls,
    }


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifies the broker's certificate and name against `ca_file` (a site's own CA), or the
    system's CAs without one."""
    return ssl.create_default_context(cafile=ca_file)


class Bridge:
    def __init__(
        self,
        mqtt_url: str,
        directory: DeviceDirectory,
        authorizer: Authorizer,
        client_id: str = "tapgift-hub",
        share_group: str = "",
        batch_max: int = 512,
        sweep_interval_s: float = 5.0,
        manage_interval_s: float = 1.0,
        batch_window_s: float = 0.001,
        ca_file: str | None = None,
    ):
        self.mqtt = parse_mqtt_url(mqtt_url)
        self.ssl = tls_context(ca_file) if self.mqtt["tls"] else False
        self.directory = directory
        self.authorizer = authorizer
        self.client_id = client_id
        self.shared = bool(share_group)
        self.filter = (f"$share/{share_group}/" if share_group else "") + topics.HUB_FILTER
        self.batch_max = batch_max
        self.sweep_interval_s = sweep_interval_s
        # Group commit's window (DESIGN 5): a batch smaller than WINDOW_BELOW waits this long
        # for more requests before it is booked. Each batch costs a commit and its own round
        # of queries whatever its size, so at a few hundred taps a second the hub's CPU per
        # tap falls by a good part, for about a millisecond more on each answer.
        self.batch_window_s = batch_window_s
        self.queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self.stats: Counter = Counter()
        self.refusals = refusals.Tally()
        self.connected = Flag()
        self.client: MQTTClient | None = None
        self.manage_interval_s = manage_interval_s
        self._health: dict = {}  # device id -> (received at, body): the latest, not yet stored
        self._acks: list[tuple[str, dict]] = []
        # device id -> (heard at, online|offline, retained): the latest status, not yet stored
        self._states: dict[str, tuple] = {}
        self._came_online: set[tuple[str, str]] = set()
        self._reply_topics: dict[tuple[str, str], tuple[str, bytes]] = {}  # topic, its field
        # Topics of the broker's own APIs the hub also listens to (answers of Mosquitto's
        # dynamic security plugin: hub.devices.admission), each with its handler.
        self.control: dict[str, Callable[[bytes], None]] = {}
        # The loop run() serves in, which books the batches and owns the MQTT connection.
        self.loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        """Serve until cancelled, booking the batches in the calling loop (the hub runs it in a
        thread of its own: hub.service.BridgeThread). After the first connection gmqtt
        reconnects by itself; the broker keeps the session (and the requests queued for us)."""
        self.loop = asyncio.get_running_loop()
        client = self._client()
        await self._connect(client)
        self.client = client
        tasks = [asyncio.create_task(self._worker()), asyncio.create_task(self._manage_loop())]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.client = None
            self.connected.clear()
            for task in tasks:
                task.cancel()
            try:
                await client.disconnect()
            finally:
                # On the thread that booked the batches (the kept connection is that thread's).
                self.authorizer.close()
                self.loop = None

    def _client(self) -> MQTTClient:
        # gmqtt, not aiomqtt: it publishes without a future per message and
        # parses faster, and the hub's throughput is bound by its MQTT client
        # (DESIGN 10; measured in `tapgift bench`). asyncio sets TCP_NODELAY.
        # Alone, the hub keeps a persistent session: the broker queues the devices' requests
        # while it restarts. In a shared group the group is what persists: a hub's own
        # session would hold the requests the broker hands it while it is dead, so each
        # hub's session ends with its connection, the broker gives the group's messages to
        # the hubs still there, and a device's repeat of a request lost in a dead hub is
        # answered by another (from the stored answer if that hub had committed it).
        client = MQTTClient(self.client_id, clean_session=self.shared)
        client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS, "reconnect_delay": 1})
        if self.mqtt["username"]:
            client.set_auth_credentials(self.mqtt["username"], self.mqtt["password"])
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    async def _connect(self, client: MQTTClient) -> None:
        delay = 0.1
        while True:
            try:
                await client.connect(
                    self.mqtt["hostname"], self.mqtt["port"], ssl=self.ssl, keepalive=30, version=MQTTv311
                )
                return
            except Exception as exc:  # refused, unreachable, or the broker said no
                log.warning("broker not reachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _on_connect(self, client, flags, rc, properties) -> None:
        _cork(client)
        _fast_publish(client, self._on_message)
        # One SUBSCRIBE (one SUBACK: _on_subscribe), the control topics with the devices'.
        client.subscribe([Subscription(t, qos=1) for t in (self.filter, *self.control)])

    def _on_subscribe(self, client, mid, qos, properties) -> None:
        # Only now can no request be missed: the subscription is in place.
        self.connected.set()
        log.info("hub subscribed to %s", self.filter)

    def _on_disconnect(self, client, packet, exc=None) -> None:
        self.connected.clear()
        if self.client is None:  # run() is ending: we disconnected
            log.info("disconnected from the broker")
            return
        log.warning("broker connection lost (%s); reconnecting", exc)

    def _on_message(self, client, topic, payload, qos, properties) -> int:
        if topic[0] == "$":
            handler = self.control.get(topic)
            if handler is not None:
                handler(payload)
            return 0
        self.receive(topic, payload, bool(properties.get("retain")))
        return 0

    def receive(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Verify one message and queue it; refuse anything malformed or unsigned."""
        if retain and not topic.endswith("/" + topics.STATUS):
            self._refuse(topic, "retained_request")
            return
        try:
            site, device_id, kind, body = hub_side.receive(self.directory.signer, topic, payload)
        except ProtocolError as err:
            self._refuse(topic, err.code, err.detail)
            return
        except Exception as err:  # input from the network must never crash the callback
            # Anything else the checks did not foresee: refused and counted like
            # the rest, one line in the log (a traceback per message would let a
            # device flood the log).
            self._refuse(topic, "cannot_handle", f"{type(err).__name__}: {err}")
            return
        if kind == topics.STATUS:
            self.stats["status"] += 1
            self._states[device_id] = (utcnow(), body["state"], retain)
            if body["state"] == "online":
                self._came_online.add((site, device_id))
            return
        if kind == topics.HEALTH:
            self.stats["health"] += 1
            self._health[device_id] = (utcnow(), body)
            return
        if kind == topics.CMDACK:
            self.stats["cmdacks"] += 1
            self._acks.append((device_id, body))
            return
        if kind == topics.FW:  # updates over the air: answered off this path
            firmware_updates.receive(self, site, device_id, body)
            return
        self.stats["received"] += 1
        self.queue.put_nowait(Incoming(self.directory.get(site, device_id), kind, body))

    async def on_own_loop(self, work: Coroutine):
        """Await `work` (a coroutine) in the bridge's loop, from whichever loop calls: the MQTT
        connection is the bridge's. ConnectionError when the bridge is not running."""
        loop = self.loop
        if loop is None or loop is asyncio.get_running_loop():
            return await work
        try:
            future = asyncio.run_coroutine_threadsafe(work, loop)
        except RuntimeError:  # the bridge's loop has just closed
            work.close()
            raise ConnectionError("the hub is not connected to the broker") from None
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if future.cancelled() and not (task and task.cancelling()):  # the bridge stopped
                raise ConnectionError("the hub is not connected to the broker") from None
            raise

    async def publish_command(self, device: DeviceInfo, body: bytes) -> None:
        """Publish one command (an encoded dn/cmd body) sealed with the device's key, from
        any loop (the REST API's: hub.devices.management.publish)."""
        await self.on_own_loop(self._publish_command(device, body))

    async def _publish_command(self, device: DeviceInfo, body: bytes) -> None:
        client = self.client
        if client is None:
            raise ConnectionError("the hub is not connected to the broker")
        topic = topics.down(device.site, device.id, topics.CMD)
        client.publish(topic, device.signer.seal(topic, body), qos=COMMAND_QOS)

    async def _manage_loop(self) -> None:
        while True:
            await asyncio.sleep(self.manage_interval_s)
            try:
                await self.flush_management()
            except Exception:
                log.exception("storing health/acks failed")

    async def flush_management(self) -> None:
        """Store what arrived since the last call; publish pending commands of devices
        that came online."""
        health, self._health = self._health, {}
        acks, self._acks = self._acks, []
        states, self._states = self._states, {}
        online, self._came_online = self._came_online, set()
        refused = self.refusals.take()
        if refused:
            await asyncio.to_thread(refusals.store, self.authorizer.engine, refused)
        if health or acks or states:
            try:
                await asyncio.to_thread(
                    management.store_reports, self.authorizer.engine, health, acks, states
                )
            except Exception:
                # A device says its status once per connection (health comes again every
                # health_s): kept for the next call, behind any newer one heard meanwhile.
                self._states = {**states, **self._states}
                self._came_online |= online
                raise
        await management.resend_pending(self, self.authorizer.engine, online)

    def _refuse(self, topic: str, reason: str, detail: str = "") -> None:
        """Count a refused message, per device and reason for operators
        (hub.devices.refusals), and log it."""
        self.stats["refused"] += 1
        parts = topic.split("/")
        site, device_id = (parts[1], parts[2]) if len(parts) > 3 else (refusals.UNKNOWN, refusals.UNKNOWN)
        self.refusals.add(site, device_id, reason, detail, utcnow())
        log.warning("refused message on %s: %s %s", topic, reason, detail)

    async def _worker(self) -> None:
        last_sweep = time.monotonic()
        while True:
            batch = await self._next_batch()
            if batch:
                try:
                    # Inline: the loop waits for the commit, and what arrives meanwhile waits
                    # in the socket for the next batch (see the module's docstring).
                    replies = self.authorizer.process(batch)
                except Exception:
                    # Nothing of the batch was committed, so nothing is answered: each device
                    # repeats its request. The bridge goes on serving the next batch.
                    self.stats["batches_failed"] += 1
                    log.exception(
                        "batch of %d failed; its requests are left to the devices' repeats", len(batch)
                    )
                else:
                    self._answer(batch, replies)
                    if not self.queue.empty():  # more than batch_max queued: the replies first
                        await asyncio.sleep(0)
            if time.monotonic() - last_sweep >= self.sweep_interval_s:
                last_sweep = time.monotonic()
                try:
                    expired = self._sweep()
                except Exception:  # the next sweep tries again; the taps must go on
                    log.exception("hold sweep failed")
                else:
                    self.stats["holds_expired"] += expired

    def _sweep(self) -> int:
        return self.authorizer.expire(wait=False)

    async def _next_batch(self) -> list[Incoming]:
        queue = self.queue
        if queue.empty():  # wait_for (a task of its own) only when there is nothing to take
            try:
                first = await asyncio.wait_for(queue.get(), timeout=self.sweep_interval_s)
            except TimeoutError:
                return []
        else:
            first = queue.get_nowait()
        batch = [first]
        while len(batch) < self.batch_max and not queue.empty():
            batch.append(queue.get_nowait())
        if self.batch_window_s and len(batch) < WINDOW_BELOW:
            await asyncio.sleep(self.batch_window_s)
            while len(batch) < self.batch_max and not queue.empty():
                batch.append(queue.get_nowait())
        return batch

    def _answer(self, batch: list[Incoming], replies: list[bytes]) -> None:
        """Publish the replies of a committed batch. A reply lost with the
        connection is not lost: the device repeats its request and gets the
        stored answer."""
        self.stats["batches"] += 1
        self.stats["answered"] += len(batch)
        client = self.client
        if client is None:
            return
        reply_topics = self._reply_topics
        # A QoS 0 PUBLISH is the topic and the payload behind a fixed header: written as bytes
        # straight to the (corked) transport it costs a third of gmqtt's publish(), which makes
        # a Message and its properties for each. Anywhere else (not connected, a gmqtt without
        # the attributes _cork uses) gmqtt publishes it.
        transport = _corked_transport(client)
        for item, body in zip(batch, replies, strict=True):
            device = item.device
            known = reply_topics.get((device.site, device.id))
            if known is None:
                topic = topics.down(device.site, device.id)
                known = reply_topics[(device.site, device.id)] = (topic, _topic_field(topic))
            payload = device.signer.seal(known[0], body)
            if transport is not None:
                transport.write(_publish_head(len(known[1]) + len(payload)) + known[1] + payload)
            else:
                client.publish(known[0], payload, qos=REPLY_QOS)
