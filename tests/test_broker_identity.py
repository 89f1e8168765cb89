"""The broker binds each device's client id to its user name, keeps the hub's identity
for the hub, and refuses messages larger than the protocol allows."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from hil.broker import HUB_USER, MAX_PAYLOAD, Broker, free_port, wait_for_port
from hub.core.errors import Conflict
from hub.devices.registry import add_device, reserved_device_id
from protocol import messages, topics
from protocol.signing import Signer


class Client:
    """A paho client on its own thread that counts how often it lost the link."""

    def __init__(self, broker, user, password, client_id, refused=False):
        self.lost = 0
        self.refused = 0
        self.messages = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.c.username_pw_set(user, password)
        self.c.on_disconnect = lambda *a: setattr(self, "lost", self.lost + 1)
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_connect = lambda c, u, f, rc, p: setattr(self, "refused", self.refused + rc.is_failure)
        self.c.connect(broker.host, broker.port)
        if refused:  # no thread that would try again: just the broker's answer
            _until(lambda: self.c.loop(0.05) or self.refused)
            return
        self.c.loop_start()
        _until(self.c.is_connected)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def _until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.02)


@pytest.fixture
def secure(tmp_path):
    with Broker(workdir=tmp_path, secure=True) as broker:
        broker.allow({"dev-a": "pa", "dev-b": "pb"})
        yield broker


def test_a_device_cannot_take_over_another_devices_or_the_hubs_client_id(secure):
    hub = Client(secure, HUB_USER, secure.hub_password, "tapgift-hub")
    victim = Client(secure, "dev-b", "pb", "dev-b")
    try:
        for stolen in ("dev-b", "tapgift-hub", "tapgift-hub-tools", "hub-1234", ""):
            thief = Client(secure, "dev-a", "pa", stolen, refused=True)  # its password, not its id
            assert thief.refused and not thief.c.is_connected()
            thief.close()
        time.sleep(0.3)
        assert (victim.lost, hub.lost) == (0, 0)
        assert victim.c.is_connected() and hub.c.is_connected()
        own = Client(secure, "dev-a", "pa", "dev-a")
        own.close()
    finally:
        victim.close()
        hub.close()


def test_each_hub_process_has_a_user_of_its_own(secure):
    url = secure.add_hub(HUB_USER + "-2")
    user, password = url.split("//")[1].split("@")[0].split(":")
    first = Client(secure, HUB_USER, secure.hub_password, HUB_USER + "-a")
    second = Client(secure, user, password, HUB_USER + "-b")
    try:
        second.c.subscribe("tg/+/+/up/+", qos=1)
        assert second.subscribed.wait(5)
        dev = Client(secure, "dev-a", "pa", "dev-a")
        dev.c.publish("tg/park/dev-a/up/tap", b"x", qos=1).wait_for_publish(5)
        _until(lambda: second.messages)
        dev.close()
        assert (first.lost, second.lost) == (0, 0)
    finally:
        first.close()
        second.close()
    with pytest.raises(ValueError):
        secure.add_hub("not-a-hub-name")


def test_the_hubs_user_cannot_be_admitted_as_a_device(secure):
    for name in (HUB_USER, HUB_USER + "-2", "Tapgift-Hub"):
        with pytest.raises(ValueError, match="reserved"):
            secure.allow({name: "device-password"})
    hub = Client(secure, HUB_USER, secure.hub_password, HUB_USER)
    hub.close()


def test_the_hubs_identity_is_no_device_id(engine):
    for name in ("tapgift-hub", "tapgift-hub-2", "TAPGIFT-HUB"):
        assert reserved_device_id(name)
        with engine.begin() as conn, pytest.raises(Conflict):
            add_device(conn, name, "park", 100, "CHF")
    assert not reserved_device_id("slide-3")


# --- message size -----------------------------------------------------------------


def test_the_largest_message_the_protocol_allows_passes_and_a_larger_one_never_arrives(broker):
    site, device = "s" * 32 + uuid.uuid4().hex[:8], "d" * 40  # the session's broker: a site of our own
    topic = topics.up(site, device, topics.CMDACK)  # the longest topic a device publishes
    biggest = Signer("ab" * 32).seal(topic, b"{" + b" " * (messages.MAX_BODY - 2) + b"}")
    assert len(biggest) == MAX_PAYLOAD
    watcher = Client(broker, None, None, "watch-" + str(time.monotonic_ns()))
    sender = Client(broker, None, None, "send-" + str(time.monotonic_ns()))
    try:
        watcher.c.subscribe(f"tg/{site}/#", qos=1)
        assert watcher.subscribed.wait(5)
        sender.c.publish(topic, biggest, qos=1).wait_for_publish(5)
        _until(lambda: watcher.messages)
        assert watcher.messages == [(topic, biggest)]
        sender.c.publish(topic, biggest + b" ", qos=1)
        sender.c.publish(topic, b"x" * (20 * 1024 * 1024), qos=0)
        _until(lambda: sender.lost)  # the broker hangs up on the sender
        time.sleep(0.5)
        assert watcher.messages == [(topic, biggest)]
        assert watcher.lost == 0
    finally:
        watcher.close()
        sender.close()


@pytest.mark.skipif(not shutil.which("mosquitto"), reason="Mosquitto is not installed")
def test_mosquitto_takes_the_size_limit_as_it_is_written_without_a_note(tmp_path):
    """The limit is Mosquitto 2's max_packet_size: with the deprecated message_size_limit it
    starts with "Note: It is recommended to replace `message_size_limit` with `max_packet_size`"
    on its standard error (what Broker sends nowhere)."""
    with Broker(workdir=tmp_path / "first") as broker:
        conf = (tmp_path / "first" / "mosquitto.conf").read_text()
    assert "max_packet_size" in conf
    again = tmp_path / "again.conf"
    port = free_port()
    again.write_text(conf.replace(f"listener {broker.port} ", f"listener {port} "))
    proc = subprocess.Popen(["mosquitto", "-c", str(again)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port("127.0.0.1", port)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=10)
    assert "Note" not in err and "Error" not in err, err


def test_hubs_sharing_the_devices_topics_get_them_from_a_secure_broker(secure):
    """Several hub processes behind a shared subscription (Settings.share_group): Mosquitto
    checks `$share/<group>/...` as written, so the hubs' role allows it too."""
    hubs = [Client(secure, HUB_USER, secure.hub_password, f"{HUB_USER}-{i}") for i in range(2)]
    try:
        for hub in hubs:
            hub.c.subscribe("$share/hubs/" + topics.HUB_FILTER, qos=1)
            assert hub.subscribed.wait(5)
        dev = Client(secure, "dev-a", "pa", "dev-a")
        for i in range(4):
            dev.c.publish(f"tg/park/dev-a/up/tap{i}", b"x", qos=1).wait_for_publish(5)
        _until(lambda: sum(len(h.messages) for h in hubs) == 4)
        dev.close()
    finally:
        for hub in hubs:
            hub.close()
