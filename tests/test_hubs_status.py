"""Several hubs, one picture of the fleet: a controller's online/offline (its up/status, and its
MQTT will's offline when its connection drops) reaches one hub of the shared subscription, and
every hub shows it, from the state that hub stored (hub.devices.management.store_states).

- Two hub processes on one PostgreSQL behind one Mosquitto, as one share group: each device's
  online, then its will's offline, is shown by both hubs' Live table and by an API-only process
  without a bridge, though each message reached one hub; and a command sent while the device was
  away is sent again once, by the hub that heard it come online.
- The ordering rule, on SQLite and PostgreSQL: two hubs store in their own time, so a status
  heard earlier but stored later never replaces a newer one; a retained status (the broker's copy,
  handed to a hub as it subscribes) changes the state only if it differs.
- A status whose store failed is stored at the manage loop's next call (a device says it once
  per connection), behind any newer one heard meanwhile.

The controllers are small paho-mqtt clients that do on the wire what firmware/app.py does: a
retained, signed will saying offline, then subscribe to their commands and publish a retained,
signed online. A power cut closes the socket without DISCONNECT. No figure here is a timing
assertion: every wait polls for a state with a generous limit."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import httpx
import paho.mqtt.client as mqtt
import pytest
from console_site import PASSWORD
from fastapi.testclient import TestClient

from hil.bench import Hubs, prepare
from hil.broker import Broker
from hil.fleet_setup import Fleetplan
from hub import console
from hub.access import operators
from hub.api.app import create_app
from hub.core.clock import utcnow
from hub.devices import management, registry
from hub.migrations import open_database
from hub.mqtt.bridge import Bridge
from protocol import messages, topics
from protocol.signing import Signer

SITE = "hubs-park"


class Device:
    """A controller as firmware/app.py connects it: its will is a retained offline; once
    subscribed to its commands it says online, retained."""

    def __init__(self, device_id: str, key: str, broker: Broker):
        self.id = device_id
        self.signer = Signer(key)
        self.status_topic = topics.up(SITE, device_id, topics.STATUS)
        self.cmd_topic = topics.down(SITE, device_id, topics.CMD)
        self.commands: list[dict] = []
        self.online = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
        self.client.will_set(self.status_topic, self._status("offline"), qos=1, retain=True)
        self.client.on_connect = lambda c, *a: c.subscribe(self.cmd_topic, qos=1)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _status(self, state: str) -> bytes:
        return self.signer.seal(self.status_topic, messages.encode({"state": state, "fw": "1.0.0"}))

    def _on_subscribe(self, client, *_args) -> None:
        client.publish(self.status_topic, self._status("online"), qos=1, retain=True).wait_for_publish(10)
        self.online.set()

    def _on_message(self, _client, _userdata, message) -> None:
        if message.topic == self.cmd_topic:
            self.commands.append(messages.parse(self.signer.open(self.cmd_topic, message.payload)))

    def power_cut(self) -> None:
        """The connection drops without a DISCONNECT: the broker publishes the will."""
        self.client.loop_stop()
        self.client.socket().close()


def _session(engine) -> str:
    """A console session of a manager (the Live page needs devices.read), as the login makes one."""
    with engine.begin() as conn:
        operators.add_operator(conn, "tech", PASSWORD, "manager")
        operator_id = operators.check_password(conn, "tech", PASSWORD, utcnow())
        return operators.start_session(conn, operator_id, "cookie", utcnow())[0]


def _states(html: str) -> dict[str, str]:
    """Device id -> the state its row of the Live table shows."""
    return dict(re.findall(r'<tr id="device-([^"]+)">.*?class="status-([a-z]+)"', html, re.S))


def _until(check, limit_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.2)


def _until_shown(shown, expected: list[dict], limit_s: float = 60.0) -> None:
    """Until every page shows `expected`; what they last showed if they never do."""
    deadline = time.monotonic() + limit_s
    while (last := shown()) != expected:
        assert time.monotonic() < deadline, f"pages still show {last}"
        time.sleep(0.2)


def test_every_hub_shows_a_device_online_and_its_wills_offline_whichever_hub_heard_them(pg_url, tmp_path):
    plan = Fleetplan(devices=4, cards=1, balance=0, site=SITE)
    provisioned, _cards, key = prepare(pg_url, plan)
    engine = open_database(pg_url)
    token = _session(engine)
    api_only = create_app(engine, "CHF")  # a REST/console process without a bridge, same database
    console.install(api_only)
    devices: list[Device] = []
    try:
        with Broker(workdir=tmp_path) as broker, Hubs(2, pg_url, broker, tmp_path) as group:
            hubs = [httpx.Client(base_url=group.api_url(i), timeout=30) for i in range(group.n)]
            pages = [*hubs, TestClient(api_only)]
            session = {"Cookie": f"tapgift_session={token}"}

            def health() -> list[dict]:
                return [h.get("/api/v1/health").json() for h in hubs]

            def shown() -> list[dict[str, str]]:
                """What each hub's Live table, and the API-only process's, shows."""
                tables = [p.get("/live/table", headers=session) for p in pages]
                assert all(t.status_code == 200 for t in tables), [t.status_code for t in tables]
                return [_states(t.text) for t in tables]

            ids = sorted(d for d, _ in provisioned)
            _until(lambda: all(h["mqtt_connected"] for h in health()), what="both hubs subscribed")
            assert shown() == [dict.fromkeys(ids, "unknown")] * 3

            # A command asked while the first device is away: published to nobody, kept pending.
            away = ids[0]
            sent = hubs[0].post(
                f"/api/v1/devices/{away}/commands",
                json={"k": "reboot"},
                headers={"X-API-Key": key, "Idempotency-Key": "reboot-away"},
            )
            assert sent.status_code == 202, sent.text

            devices = [Device(d, k, broker) for d, k in sorted(provisioned)]
            for d in devices:
                assert d.online.wait(30), d.id
            _until_shown(shown, [dict.fromkeys(ids, "online")] * 3)
            # Each online reached one hub (the group hands them out in turn), yet all are shown by both.
            heard = [h["stats"].get("status", 0) for h in health()]
            assert sum(heard) == len(ids) and all(heard), heard

            # The hub that heard the device come online sent its pending command again, once.
            _until(lambda: devices[0].commands, what="the pending command sent again")
            time.sleep(2.5)  # > two manage_interval_s of either hub: a second send would be here by now
            assert [c["k"] for c in devices[0].commands] == ["reboot"]

            for d in devices:
                d.power_cut()
            _until_shown(shown, [dict.fromkeys(ids, "offline")] * 3)
            heard_offline = [
                h["stats"].get("status", 0) - before for h, before in zip(health(), heard, strict=True)
            ]
            assert sum(heard_offline) == len(ids) and all(heard_offline), heard_offline
    finally:
        for d in devices:
            d.client.loop_stop()
        engine.dispose()


def test_an_older_status_stored_later_never_replaces_a_newer_one(engine):
    t0 = utcnow()

    def at(seconds: float):
        return t0 + timedelta(seconds=seconds)

    def store(**states) -> None:  # as a hub's manage loop stores what it heard
        management.store_reports(engine, {}, [], states)

    def stored() -> dict[str, tuple[str, object]]:
        with engine.connect() as conn:
            return {d: (s["state"], s["changed_at"]) for d, s in management.device_states(conn).items()}

    store(a=(at(1), "online", False), b=(at(1), "online", False))
    assert stored() == {"a": ("online", at(1)), "b": ("online", at(1))}
    # Hub B heard a's will at 2 s and stores first; hub A stores the online it heard at 1.5 s later.
    store(a=(at(2), "offline", False))
    store(a=(at(1.5), "online", False), b=(at(3), "offline", False))
    assert stored() == {"a": ("offline", at(2)), "b": ("offline", at(3))}
    store(a=(at(2), "online", False))  # heard at the same time: not newer either
    assert stored()["a"] == ("offline", at(2))
    # A retained status (the broker's copy, given to a hub as it subscribes) is no newer than
    # the time it arrives: it keeps the time of the state it repeats, and changes one it does not.
    store(a=(at(4), "offline", True))
    assert stored()["a"] == ("offline", at(2))
    store(a=(at(5), "online", True))
    assert stored()["a"] == ("online", at(5))
    store(a=(at(4.5), "offline", True))  # an older retained one: not newer
    assert stored()["a"] == ("online", at(5))
    # The stored state is what a process without a bridge reads for a subset of devices.
    with engine.connect() as conn:
        assert management.device_states(conn, ["b", "zz"]) == {"b": {"state": "offline", "changed_at": at(3)}}


async def test_a_status_the_hub_could_not_store_is_stored_at_its_next_try(engine, monkeypatch):
    """A device says online once per connection: a status whose store failed (the database away)
    is kept for the manage loop's next call, behind a newer one heard meanwhile, and the pending
    commands of a device that came online are still looked for."""
    with engine.begin() as conn:
        key = registry.add_device(conn, "slide-1", "park", 100, "CHF")
    bridge = Bridge("mqtt://127.0.0.1:1", registry.DeviceDirectory(engine), SimpleNamespace(engine=engine))
    topic = topics.up("park", "slide-1", topics.STATUS)

    def say(state: str, retain: bool = False) -> None:
        bridge.receive(topic, Signer(key).seal(topic, messages.encode({"state": state})), retain)

    def stored() -> str | None:
        with engine.connect() as conn:
            return management.device_states(conn).get("slide-1", {}).get("state")

    store = management.store_reports

    def database_away(*_args):
        raise OSError("database away")

    monkeypatch.setattr(management, "store_reports", database_away)
    say("online")
    with pytest.raises(OSError):
        await bridge.flush_management()
    assert bridge._came_online == {("park", "slide-1")}
    monkeypatch.setattr(management, "store_reports", store)
    await bridge.flush_management()
    assert stored() == "online" and not bridge._came_online
    monkeypatch.setattr(management, "store_reports", database_away)
    say("offline")
    with pytest.raises(OSError):
        await bridge.flush_management()
    say("online")  # heard while the database was away: newer than the offline kept
    monkeypatch.setattr(management, "store_reports", store)
    await bridge.flush_management()
    assert stored() == "online"
    assert bridge.stats["status"] == 3


def test_hubs_that_start_together_send_an_online_devices_pending_command_once(pg_url, tmp_path):
    """Mosquitto hands the broker's retained copy of a device's online to every hub of the share
    group as it subscribes, so each hub hears the device "come online": the hub that claims its
    pending command (device_commands.sent_at, older than the stored online) sends it, the other
    finds it sent."""
    plan = Fleetplan(devices=1, cards=1, balance=0, site=SITE)
    provisioned, _cards, _key = prepare(pg_url, plan)
    (device_id, key), *_ = provisioned
    engine = open_database(pg_url)
    try:
        with Broker(workdir=tmp_path) as broker:
            device = Device(device_id, key, broker)
            assert device.online.wait(30)
            # Asked while no hub ran: stored, published by nobody.
            management.new_command(engine, device_id, {"k": "reboot"})
            with Hubs(2, pg_url, broker, tmp_path) as group:
                hubs = [httpx.Client(base_url=group.api_url(i), timeout=30) for i in range(group.n)]
                _until(
                    lambda: all(h.get("/api/v1/health").json()["mqtt_connected"] for h in hubs),
                    what="both hubs subscribed",
                )
                _until(lambda: device.commands, what="the pending command sent")
                time.sleep(2.5)  # > two manage_interval_s of either hub: a second send would be here
                heard = [h.get("/api/v1/health").json()["stats"].get("status", 0) for h in hubs]
            assert heard == [1, 1]  # each hub heard the retained online
            assert [c["k"] for c in device.commands] == ["reboot"]
            device.client.loop_stop()
    finally:
        engine.dispose()


async def test_a_pending_command_is_sent_again_once_per_coming_online_and_after_a_failed_publish(engine):
    with engine.begin() as conn:
        registry.add_device(conn, "slide-1", "park", 100, "CHF")
    management.new_command(engine, "slide-1", {"k": "reboot"})  # sent as it was made

    def heard(state: str = "online") -> None:  # as a hub stores the status it heard just now
        management.store_reports(engine, {}, [], {"slide-1": (utcnow(), state, False)})

    def claim() -> list[int]:
        claimed = management.claim_resends(engine, {"slide-1"}, utcnow())
        return [messages.parse(b)["seq"] for b in claimed.get("slide-1", [])]

    assert claim() == []  # the device has not come online since (no stored status)
    heard("online")  # it comes online after the command was sent
    assert claim() == [1]
    assert claim() == []  # a second hub that heard the same online: already sent
    heard("offline")
    assert claim() == []  # gone again: nothing to send to

    class BrokerAway:
        directory = registry.DeviceDirectory(engine)
        authorizer = SimpleNamespace(engine=engine)

        async def publish_command(self, info, data):
            raise ConnectionError("the hub is not connected to the broker")

    heard("online")
    _seq, data = management.new_command(engine, "slide-1", {"k": "reboot"})[1:]
    await management.publish(BrokerAway(), "park", "slide-1", [data])
    # Not sent: claimed at the next online heard, though the device's stored online is older.
    assert claim() == [1, 2]
    assert claim() == []
