"""A device registered through the API logs in to a real Mosquitto at once, only on its own
topics; rotating its key locks the old password out and drops the old connection; a removed or
unknown device cannot log in. The hub admits devices through Mosquitto's dynamic security
plugin over its own MQTT connection (hub/devices/admission.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from clients import api_client
from sqlalchemy import text

from hil.broker import Broker
from hil.device import SimDevice
from hub.api.app import create_app
from hub.core.errors import Conflict
from hub.core.settings import Settings
from hub.devices import admission
from hub.devices.registry import HUB_USER, add_device, mqtt_credentials
from hub.migrations import open_database
from hub.service import Hub
from hub.wallets import cards as wallets
from hub.wallets import cash_desk
from protocol.signing import Signer

SITE = "park"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory):
    with Broker(workdir=tmp_path_factory.mktemp("broker"), secure=True) as broker:
        yield broker


async def _start(hub: Hub) -> asyncio.Task:
    task = asyncio.create_task(hub.bridge.run())
    await asyncio.wait_for(hub.bridge.connected.wait(), 10)
    return task


@pytest.fixture
async def secured_hub(tmp_path, secure_broker):
    """A hub that administers the broker's users (Settings.dynsec), its API keyed as admin."""
    hub = Hub(
        Settings(
            db=f"sqlite:///{tmp_path / 'hub.db'}",
            mqtt=secure_broker.url,
            client_id=f"{HUB_USER}-{uuid.uuid4().hex[:8]}",
            dynsec=True,
        )
    )
    task = await _start(hub)
    hub.api = api_client(hub.app)
    yield hub
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    hub.engine.dispose()


async def call(api, method: str, path: str, **kw):
    """The API in its own thread (the test client's loop) while this loop runs the bridge."""
    return await asyncio.to_thread(api.request, method, "/api/v1" + path, **kw)


async def register(hub, device_id=None, site=SITE) -> tuple[str, str]:
    device_id = device_id or "slide-" + uuid.uuid4().hex[:6]
    r = await call(hub.api, "POST", "/devices", json={"id": device_id, "site": site, "unit_price": 250})
    assert r.status_code == 201, r.text
    return device_id, r.json()["key"]


class Login:
    """A paho client of its own thread: who it is, whether it got in, when it was dropped."""

    def __init__(self, broker, user, password, client_id=None):
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or user)
        self.c.username_pw_set(user, password)
        self.answered, self.dropped = threading.Event(), threading.Event()
        self.accepted = False
        self.messages: list[tuple[str, bytes]] = []
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: self.dropped.set()
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        assert self.answered.wait(5)

    def _on_connect(self, client, userdata, flags, rc, properties):
        self.accepted = not rc.is_failure
        if not self.accepted:
            client.disconnect()  # no second try with the same password
        self.answered.set()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


async def login(broker, user, password, client_id=None) -> Login:
    return await asyncio.to_thread(Login, broker, user, password, client_id)


async def logs_in(broker, user, password) -> bool:
    attempt = await login(broker, user, password)
    attempt.close()
    return attempt.accepted


async def test_a_device_registered_through_the_api_logs_in_at_once_only_on_its_own_topics(
    secured_hub, secure_broker
):
    (a, key_a), (b, key_b) = await register(secured_hub), await register(secured_hub)
    watcher = await login(secure_broker, HUB_USER, secure_broker.hub_password, f"{HUB_USER}-watch")
    dev_a = await login(secure_broker, *mqtt_credentials(a, key_a))  # no retry, no reload
    try:
        assert dev_a.accepted
        watcher.c.subscribe("tg/#", qos=1)
        for topic in (f"tg/{SITE}/{b}/dn/#", "tg/#", f"tg/{SITE}/{a}/dn/#"):
            dev_a.c.subscribe(topic, qos=1)  # only the last is granted
        await asyncio.sleep(0.2)
        for topic in (f"tg/{SITE}/{b}/up/tap", f"tg/other/{a}/up/tap", f"tg/{SITE}/{a}/up/tap"):
            dev_a.c.publish(topic, b"from a", qos=1)
        watcher.c.publish(f"tg/{SITE}/{b}/dn/reply", b"for b", qos=1)
        watcher.c.publish(f"tg/{SITE}/{a}/dn/reply", b"for a", qos=1)
        await asyncio.sleep(0.5)
        assert [m for m in watcher.messages if m[1] == b"from a"] == [(f"tg/{SITE}/{a}/up/tap", b"from a")]
        assert dev_a.messages == [(f"tg/{SITE}/{a}/dn/reply", b"for a")]
        # Its own password with another client id (another device's, the hub's) is refused.
        for stolen in (b, HUB_USER, f"{HUB_USER}-watch"):
            assert not (await login(secure_broker, a, mqtt_credentials(a, key_a)[1], stolen)).accepted
        assert not watcher.dropped.is_set()
        # b's credentials are b's: a's key does not make b's password.
        assert not await logs_in(secure_broker, b, mqtt_credentials(a, key_a)[1])
        assert await logs_in(secure_broker, *mqtt_credentials(b, key_b))
    finally:
        dev_a.close()
        watcher.close()


async def test_the_real_firmware_registered_through_the_api_taps_and_is_granted(secured_hub, tmp_path):
    device_id, key = await register(secured_hub)
    uid = uuid.uuid4().hex[:8].upper()
    with secured_hub.engine.begin() as conn:
        wallets.issue_card(conn, "CHF", uid)
        cash_desk.top_up(conn, uid, 1000, f"test/{uid}")
    mqtt_url = secured_hub.bridge.mqtt
    device = SimDevice(
        device_id,
        SITE,
        key,
        mqtt_url["hostname"],
        mqtt_url["port"],
        str(tmp_path / device_id),
        profile={"pulse_ms": 5, "gap_ms": 5, "cooldown_ms": 0},
        credentials=mqtt_credentials(device_id, key),
    )
    await device.start()
    try:
        await device.wait_connected()
        device.tap(uid)
        _, outcome, code, _ = await device.wait_results(1)
        assert outcome == "grant", code
    finally:
        await device.stop()


async def test_a_rotated_key_locks_the_old_password_out_and_drops_the_old_connection(
    secured_hub, secure_broker
):
    device_id, old_key = await register(secured_hub)
    old = await login(secure_broker, *mqtt_credentials(device_id, old_key))
    try:
        assert old.accepted
        r = await call(secured_hub.api, "POST", f"/devices/{device_id}/rotate")
        assert r.status_code == 200, r.text
        new_key = r.json()["key"]
        assert new_key != old_key and r.json()["id"] == device_id
        assert await asyncio.to_thread(old.dropped.wait, 5)  # the old connection is gone
    finally:
        old.close()
    assert not await logs_in(secure_broker, *mqtt_credentials(device_id, old_key))
    assert await logs_in(secure_broker, *mqtt_credentials(device_id, new_key))
    # The audit log says who rotated it, never the key.
    with secured_hub.engine.connect() as conn:
        entries = [str(tuple(r)) for r in conn.execute(text("SELECT * FROM audit_log"))]
    assert any("rotate" in e for e in entries) and not any(new_key in e or old_key in e for e in entries)
    # The hub signs and checks with the new key from now on.
    signer = secured_hub.directory.signer(SITE, device_id)
    assert signer.tag("t", b"x") == Signer(new_key).tag("t", b"x") != Signer(old_key).tag("t", b"x")


async def test_a_removed_or_unknown_device_cannot_log_in(secured_hub, secure_broker):
    device_id, key = await register(secured_hub)
    connected = await login(secure_broker, *mqtt_credentials(device_id, key))
    try:
        assert connected.accepted
        await secured_hub.admission.remove(device_id)
        assert await asyncio.to_thread(connected.dropped.wait, 5)
    finally:
        connected.close()
    assert not await logs_in(secure_broker, *mqtt_credentials(device_id, key))
    assert not await logs_in(secure_broker, "never-registered", "0" * 32)
    assert not await logs_in(secure_broker, None, None)
    await secured_hub.admission.remove(device_id)  # removing twice is no error


async def test_rotating_a_key_admits_a_device_the_broker_does_not_know(secured_hub, secure_broker):
    """A device registered while the hub did not administer the broker (or whose admission
    failed) gets in with the key a rotation gives it."""
    device_id = "older-" + uuid.uuid4().hex[:6]
    with secured_hub.engine.begin() as conn:
        key = add_device(conn, device_id, SITE, 250, "CHF")
    assert not await logs_in(secure_broker, *mqtt_credentials(device_id, key))
    r = await call(secured_hub.api, "POST", f"/devices/{device_id}/rotate")
    assert r.status_code == 200, r.text
    assert await logs_in(secure_broker, *mqtt_credentials(device_id, r.json()["key"]))
    assert (await call(secured_hub.api, "POST", "/devices/no-such-device/rotate")).status_code == 404


async def test_without_the_broker_registering_answers_503_and_a_rotation_admits_it_later(
    tmp_path, secure_broker
):
    hub = Hub(
        Settings(
            db=f"sqlite:///{tmp_path / 'hub.db'}", mqtt=secure_broker.url, client_id=HUB_USER, dynsec=True
        )
    )
    hub.admission.timeout = 0.3
    hub.api = api_client(hub.app)
    device_id = "late-" + uuid.uuid4().hex[:6]
    body = {"id": device_id, "site": SITE, "unit_price": 250}
    r = await call(hub.api, "POST", "/devices", json=body)  # the bridge is not running
    assert r.status_code == 503 and f"/devices/{device_id}/rotate" in r.json()["detail"]
    assert device_id in [d["id"] for d in (await call(hub.api, "GET", "/devices")).json()]
    task = await _start(hub)
    try:
        r = await call(hub.api, "POST", f"/devices/{device_id}/rotate")
        assert r.status_code == 200, r.text
        assert await logs_in(secure_broker, *mqtt_credentials(device_id, r.json()["key"]))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        hub.engine.dispose()


def test_without_a_broker_to_administer_the_api_still_registers_and_rotates(engine):
    api = api_client(create_app(engine))
    r = api.post("/api/v1/devices", json={"id": "plain-1", "site": SITE, "unit_price": 250})
    assert r.status_code == 201
    rotated = api.post("/api/v1/devices/plain-1/rotate")
    assert rotated.status_code == 200 and rotated.json()["key"] != r.json()["key"]
    assert api.post("/api/v1/devices/nope/rotate").status_code == 404


def test_a_hub_administering_the_broker_uses_a_client_id_no_device_can_have(tmp_path):
    with pytest.raises(ValueError, match="client id"):
        Hub(Settings(db=f"sqlite:///{tmp_path / 'hub.db'}", client_id="hub-1", dynsec=True))


def test_control_messages_fit_the_brokers_size_limit_and_keep_their_order():
    commands = [
        c for i in range(30) for c in admission.admit_commands(f"{'d' * 36}{i:04d}", "s" * 40, "ab" * 16)
    ]
    packed = admission.pack(commands, "t")
    assert len(packed) > 1 and all(len(p) <= admission.MAX_CONTROL_MESSAGE for _, p in packed)
    sent = [c for _, p in packed for c in json.loads(p)["commands"]]
    assert [{k: v for k, v in c.items() if k != "correlationData"} for c in sent] == commands
    with pytest.raises(Conflict):
        admission.admit_commands(HUB_USER + "-2", SITE, "x")


def test_the_hub_role_is_all_of_tg_and_a_device_role_only_its_own_topics():
    acls = {(a["acltype"], a["topic"]) for a in admission.device_acls("park", "d1")}
    assert acls == {
        ("publishClientSend", "tg/park/d1/up/#"),
        ("subscribePattern", "tg/park/d1/dn/#"),
        ("publishClientReceive", "tg/park/d1/dn/#"),
    }
    assert all(a["allow"] for a in admission.hub_acls())
    assert not any(admission.DEFAULT_ACL_ACCESS[k] for k in ("publishClientSend", "subscribe"))


def _device_add(db, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hil.cli", "device", "add", "--site", SITE, "--price", "100", "--db", str(db)]
        + list(args),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tapgift_device_add_admits_the_device_at_once(tmp_path, secure_broker):
    db = tmp_path / "hub.db"
    added = _device_add(db, "--id", "cli-1", "--mqtt", secure_broker.url, "--dynsec")
    assert added.returncode == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["admitted"] is True
    assert asyncio.run(logs_in(secure_broker, made["mqtt_username"], made["mqtt_password"]))
    # A broker that cannot be reached: an error, and nothing registered.
    down = _device_add(db, "--id", "cli-2", "--mqtt", "mqtt://tapgift-hub:x@127.0.0.1:9", "--dynsec")
    assert down.returncode == 1 and "broker" in down.stderr
    again = _device_add(db, "--id", "cli-2")  # without --dynsec: the database only
    assert again.returncode == 0 and json.loads(again.stdout)["admitted"] is False
    assert not asyncio.run(
        logs_in(secure_broker, *mqtt_credentials("cli-2", json.loads(again.stdout)["key"]))
    )


def test_flashing_a_new_device_by_id_admits_it_too(tmp_path, secure_broker, monkeypatch):
    from hil.cli import _flash_provision

    monkeypatch.setenv("TAPGIFT_DYNSEC", "true")
    monkeypatch.setenv("TAPGIFT_MQTT", secure_broker.url)
    out = tmp_path / "flash-1.json"
    args = ("dispenser", "", str(tmp_path / "hub.db"), "mqtt://10.0.0.2:1883", "park", "s3cret", None, None)
    _flash_provision("flash-1", SITE, 150, *args, out, False)
    key = json.loads(out.read_text())["key"]
    assert asyncio.run(logs_in(secure_broker, *mqtt_credentials("flash-1", key)))


async def test_admitting_a_device_the_broker_still_knows_replaces_it(secured_hub, secure_broker):
    """Left from before (a registration whose answer was lost, a database restored from a
    backup): the broker's old user and role are replaced, the old password locked out."""
    await secured_hub.admission.admit("again-1", SITE, "ab" * 32)
    await secured_hub.admission.admit_many(
        [("again-1", "other-site", "cd" * 32), ("again-2", SITE, "ef" * 32)]
    )
    assert not await logs_in(secure_broker, *mqtt_credentials("again-1", "ab" * 32))
    assert await logs_in(secure_broker, *mqtt_credentials("again-1", "cd" * 32))
    assert await logs_in(secure_broker, *mqtt_credentials("again-2", "ef" * 32))
    role = secure_broker.control([{"command": "getRole", "rolename": admission.device_role("again-1")}])
    assert {a["topic"] for a in role[0]["data"]["role"]["acls"]} == {
        "tg/other-site/again-1/up/#",
        "tg/other-site/again-1/dn/#",
    }


def test_tapgift_device_admit_lets_registered_boards_in_with_the_keys_they_have(tmp_path, secure_broker):
    """A site moving its broker to the plugin: the devices it has keep their keys and boards."""
    from typer.testing import CliRunner

    from hil.cli import app

    db = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = open_database(db)
    with engine.begin() as conn:
        keys = {d: add_device(conn, d, SITE, 100, "CHF") for d in ("old-1", "old-2", "old-3")}
    engine.dispose()
    run = CliRunner().invoke
    admitted = run(app, ["device", "admit", "old-1", "old-2", "--db", db, "--mqtt", secure_broker.url])
    assert admitted.exit_code == 0, admitted.output
    assert json.loads(admitted.output) == {"admitted": ["old-1", "old-2"]}
    assert asyncio.run(logs_in(secure_broker, *mqtt_credentials("old-2", keys["old-2"])))
    assert not asyncio.run(logs_in(secure_broker, *mqtt_credentials("old-3", keys["old-3"])))
    every = run(app, ["device", "admit", "--all", "--db", db, "--mqtt", secure_broker.url])
    assert json.loads(every.output) == {"admitted": ["old-1", "old-2", "old-3"]}
    assert asyncio.run(logs_in(secure_broker, *mqtt_credentials("old-3", keys["old-3"])))
    unknown = run(app, ["device", "admit", "nope", "--db", db, "--mqtt", secure_broker.url])
    assert unknown.exit_code == 1 and "not registered: nope" in unknown.output
