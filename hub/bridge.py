"""The MQTT side of the hub: verify, batch, authorise, commit, then answer.

Messages from controllers are verified (topic, HMAC tag, fields) as they
arrive and queued. One worker takes everything queued so far as a batch and
authorises it in one database transaction in a thread, while the event loop
keeps receiving: requests that arrive during a commit form the next batch
(group commit). Replies are published only after the commit returned.

Health telemetry and command acks (hub/commands.py) never touch that path:
receive() keeps them in memory and a small loop stores them every
manage_interval_s in a thread; it also publishes the pending commands of
devices that came online.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from urllib.parse import urlsplit

import aiomqtt

from hub import commands
from hub.authorize import Authorizer, Incoming
from hub.devices import DeviceDirectory, DeviceInfo
from hub.models import utcnow
from protocol import messages, topics
from protocol import ProtocolError

log = logging.getLogger("tapgift.bridge")


def parse_mqtt_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"not an mqtt:// URL: {url}")
    return {"hostname": parts.hostname or "127.0.0.1", "port": parts.port or 1883,
            "username": parts.username, "password": parts.password}


class Bridge:
    def __init__(self, mqtt_url: str, directory: DeviceDirectory, authorizer: Authorizer,
                 client_id: str = "tapgift-hub", share_group: str = "", batch_max: int = 512,
                 sweep_interval_s: float = 5.0, manage_interval_s: float = 1.0):
        self.mqtt = parse_mqtt_url(mqtt_url)
        self.directory = directory
        self.authorizer = authorizer
        self.client_id = client_id
        self.filter = (f"$share/{share_group}/" if share_group else "") + topics.HUB_FILTER
        self.batch_max = batch_max
        self.sweep_interval_s = sweep_interval_s
        self.queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self.stats: Counter = Counter()
        self.status: dict[str, str] = {}
        self.connected = asyncio.Event()
        self.client: aiomqtt.Client | None = None
        self._publishing: set[asyncio.Task] = set()
        self.manage_interval_s = manage_interval_s
        self._health: dict = {}  # device id -> (received at, body): the latest, not yet stored
        self._acks: list[tuple[str, dict]] = []
        self._came_online: set[tuple[str, str]] = set()

    async def run(self) -> None:
        """Serve forever, reconnecting to the broker after a loss."""
        delay = 0.1
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                log.warning("broker connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _session(self) -> None:
        client = aiomqtt.Client(
            **self.mqtt, identifier=self.client_id, clean_session=False, keepalive=30,
            max_inflight_messages=65535, max_queued_outgoing_messages=0,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        # A batch's replies are published together on purpose; aiomqtt would
        # warn about every one of them beyond ten.
        client.pending_calls_threshold = 10 * self.batch_max
        async with client:
            await client.subscribe(self.filter, qos=1)
            self.connected.set()
            log.info("hub subscribed to %s", self.filter)
            self.client = client
            worker = asyncio.create_task(self._worker(client))
            manager = asyncio.create_task(self._manage_loop())
            try:
                async for message in client.messages:
                    self.receive(str(message.topic), message.payload, message.retain)
            finally:
                self.client = None
                worker.cancel()
                manager.cancel()

    def receive(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Verify one message and queue it; refuse anything malformed or unsigned."""
        if retain and not topic.endswith("/" + topics.STATUS):
            self._refuse(topic, "retained request")
            return
        try:
            site, device_id, kind, body = messages.receive(self.directory.signer, topic, payload)
        except ProtocolError as err:
            self._refuse(topic, str(err))
            return
        if kind == topics.STATUS:
            self.status[device_id] = body["state"]
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
        self.stats["received"] += 1
        self.queue.put_nowait(Incoming(self.directory.get(site, device_id), kind, body))

    async def publish_command(self, device: DeviceInfo, body: bytes) -> None:
        """Publish one command (an encoded dn/cmd body) sealed with the device's key."""
        client = self.client
        if client is None:
            raise ConnectionError("the hub is not connected to the broker")
        topic = topics.down(device.site, device.id, topics.CMD)
        await client.publish(topic, device.signer.seal(topic, body), qos=1)

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
        online, self._came_online = self._came_online, set()
        if health or acks:
            await asyncio.to_thread(commands.store_reports, self.authorizer.engine, health, acks)
        await commands.resend_pending(self, self.authorizer.engine, online)

    def _refuse(self, topic: str, why: str) -> None:
        self.stats["refused"] += 1
        log.warning("refused message on %s: %s", topic, why)

    async def _worker(self, client: aiomqtt.Client) -> None:
        last_sweep = time.monotonic()
        while True:
            batch = await self._next_batch()
            if batch:
                replies = await asyncio.to_thread(self.authorizer.process, batch)
                self._answer(client, batch, replies)
            if time.monotonic() - last_sweep >= self.sweep_interval_s:
                last_sweep = time.monotonic()
                expired = await asyncio.to_thread(self.authorizer.expire)
                self.stats["holds_expired"] += expired

    async def _next_batch(self) -> list[Incoming]:
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout=self.sweep_interval_s)
        except asyncio.TimeoutError:
            return []
        batch = [first]
        while len(batch) < self.batch_max and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch

    def _answer(self, client: aiomqtt.Client, batch: list[Incoming], replies: list[bytes]) -> None:
        self.stats["batches"] += 1
        self.stats["answered"] += len(batch)
        sends = []
        for item, body in zip(batch, replies):
            topic = topics.down(item.device.site, item.device.id)
            sends.append(client.publish(topic, item.device.signer.seal(topic, body), qos=1))
        task = asyncio.create_task(self._publish_all(sends))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    @staticmethod
    async def _publish_all(sends) -> None:
        results = await asyncio.gather(*sends, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                # The device repeats its request and gets the stored answer.
                log.warning("reply not published: %s", result)
