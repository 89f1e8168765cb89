"""The HIL plumbing: the real firmware on a simulated board, a real broker and
a tiny fake hub that grants every tap (the real hub has its own tests)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import aiomqtt

from hil.device import SimDevice
from protocol import ProtocolError, hub_side, messages, topics
from protocol.signing import Signer

SITE = "hilpark"
PROFILE = {"units": 2, "pulse_ms": 30, "gap_ms": 20, "reply_timeout_ms": 300, "retries": 1}


class FakeHub:
    """Grants every tap, acks every report, answers a repeated id with the first answer."""

    def __init__(self, broker, keys):
        self.broker = broker
        self.signers = {device: Signer(key) for device, key in keys.items()}
        self.requests = []  # (device, kind, body), repeats included
        self.statuses = []  # (device, state, retain)
        self._answers = {}
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()

    async def run(self):
        async with aiomqtt.Client(self.broker.host, port=self.broker.port) as client:
            await client.subscribe(topics.HUB_FILTER, qos=1)
            self._ready.set()
            async for message in client.messages:
                await self._handle(client, message)
                self._changed.set()

    async def _handle(self, client, message):
        try:
            site, device, kind, body = hub_side.receive(
                lambda s, d: self.signers.get(d), message.topic.value, message.payload
            )
        except ProtocolError:
            return  # e.g. the retained status of another test's device
        if kind == topics.STATUS:
            self.statuses.append((device, body["state"], message.retain))
            return
        self.requests.append((device, kind, body))
        key = (device, body["id"])
        if key not in self._answers:
            self._answers[key] = self.signers[device].seal(
                topics.down(site, device), messages.encode(self._reply(kind, body))
            )
        await client.publish(topics.down(site, device), self._answers[key], qos=1)

    @staticmethod
    def _reply(kind, body):
        if kind == topics.TAP:
            return {
                "k": "grant",
                "re": body["id"],
                "hold": "h-" + body["id"],
                "units": body["units"],
                "amount": 250 * body["units"],
            }
        return {"k": "ack", "re": body["id"], "posted": 250 * body["delivered"], "voided": 0}

    async def wait_for(self, condition, timeout=5.0):
        async def poll():
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), timeout)

    def ids(self, kind=None):
        return [body["id"] for _d, k, body in self.requests if kind in (None, k)]


@contextlib.asynccontextmanager
async def rig(broker, tmp_path):
    device_id = "d-" + uuid.uuid4().hex[:8]
    key = hub_side.new_key_hex()
    hub = FakeHub(broker, {device_id: key})
    hub_task = asyncio.create_task(hub.run())
    await asyncio.wait_for(hub._ready.wait(), 5)
    device = SimDevice(device_id, SITE, key, broker.host, broker.port, str(tmp_path / device_id), PROFILE)
    await device.start()
    await device.wait_connected()
    try:
        yield hub, device
    finally:
        await device.power_cut()
        hub_task.cancel()
        await asyncio.gather(hub_task, return_exceptions=True)


async def retained_status(broker, device_id):
    """What a newcomer subscribing to the device's status topic receives."""
    async with aiomqtt.Client(broker.host, port=broker.port) as client:
        await client.subscribe(topics.up(SITE, device_id, topics.STATUS), qos=1)
        message = await asyncio.wait_for(anext(client.messages), 5)
        return message.retain, hub_side.decode(topics.STATUS, message.payload[:-65])


async def test_tap_pulses_relay_and_report_is_acked(broker, tmp_path):
    async with rig(broker, tmp_path) as (hub, device):
        device.tap("04a1b2c3d4")
        card, outcome, code, rtt = await device.wait_results(1)
        assert (card, outcome, code) == ("04A1B2C3D4", "grant", None)
        assert 0 <= rtt < 300
        assert device.pulses() == 2
        await hub.wait_for(lambda: len(hub.ids(topics.REPORT)) == 1)
        report = [b for _d, k, b in hub.requests if k == topics.REPORT][0]
        assert report["hold"] == "h-" + hub.ids(topics.TAP)[0] and report["delivered"] == 2
        await asyncio.sleep(0.05)
        assert device.counters["reports_acked"] == 1


async def test_power_cycle_gives_new_boot_and_ids_never_repeat(broker, tmp_path):
    async with rig(broker, tmp_path) as (hub, device):
        assert device.boot == 1
        device.tap("04000001")
        await device.wait_results(1)
        await hub.wait_for(lambda: len(hub.ids(topics.REPORT)) == 1)
        first_boot_ids = set(hub.ids())
        await device.power_cut()
        assert not device.board.relays[0].value()
        await device.power_on()
        await device.wait_connected()
        assert device.boot == 2
        device.tap("04000001")
        assert (await device.wait_results(2))[1] == "grant"
        await hub.wait_for(lambda: len(hub.ids(topics.REPORT)) >= 2)
        second_boot_ids = set(hub.ids()) - first_boot_ids
        assert all(i.startswith("1.") for i in first_boot_ids)
        assert second_boot_ids and all(i.startswith("2.") for i in second_boot_ids)
        # Each boot draws its own nonce ("<boot>.<nonce>-<seq>").
        assert len({i.split("-")[0] for i in first_boot_ids | second_boot_ids}) == 2
        assert device.pulses() == 4


async def test_network_down_times_out_without_moving_the_relay(broker, tmp_path):
    async with rig(broker, tmp_path) as (hub, device):
        device.network_down()
        device.tap("04000002")
        card, outcome, code, rtt = await device.wait_results(1)
        assert outcome == "timeout" and rtt >= 600 - 2
        assert device.pulses() == 0
        device.network_up()
        await device.wait_connected()
        device.tap("04000003")
        assert (await device.wait_results(2))[1] == "grant"
        assert device.pulses() == 2


async def test_power_cut_publishes_retained_offline_will(broker, tmp_path):
    async with rig(broker, tmp_path) as (hub, device):
        await hub.wait_for(lambda: (device.id, "online", False) in hub.statuses)
        assert await retained_status(broker, device.id) == (True, {"state": "online", "fw": "0.1.0"})
        await device.power_cut()
        await hub.wait_for(lambda: hub.statuses[-1][:2] == (device.id, "offline"))
        assert await retained_status(broker, device.id) == (True, {"state": "offline"})
        await device.power_on()
        await device.wait_connected()
        await hub.wait_for(lambda: hub.statuses[-1][:2] == (device.id, "online"))


async def test_sun_data_of_an_ntag_424_goes_with_its_tap(broker, tmp_path):
    sun = {"picc_data": "EF963FF7828658A599F3041510671E88", "cmac": "94EED9EE65337086"}
    async with rig(broker, tmp_path) as (hub, device):
        device.tap("04DE5F1EACC040", sun)
        device.tap("04000004")  # a UID-only card
        await device.wait_results(2)
        first, second = [b for _d, k, b in hub.requests if k == topics.TAP]
        assert first["sun"] == sun and "sun" not in second
