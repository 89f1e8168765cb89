"""TLS to the broker: a controller provisioned with an mqtts:// broker and the CA that signed
the broker's certificate taps through a real Mosquitto TLS listener (a CA made for the test)
to the real hub, which stays on the broker's plain listener on the same host. A controller
trusting another CA never talks to that broker: its MQTT password and the card UIDs it reads
do not cross the network in clear, and not to an impostor either."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_end_to_end import SITE, card, make_card, until

import hil.broker
from firmware import config
from hil.device import SimDevice
from hub.devices.registry import add_device

PRICE = 250


def _name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(common="tapgift test CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(ca_key, ca_cert, ip="127.0.0.1"):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("broker"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    """A Mosquitto with its plain listener (the hub's) and a TLS one (the devices')."""
    work = tmp_path_factory.mktemp("tls-broker")
    ca_key, ca_cert = make_ca()
    key, cert = make_server_cert(ca_key, ca_cert)
    (work / "ca.pem").write_text(pem(ca_cert))
    (work / "server.pem").write_text(pem(cert))
    (work / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    tls_port = hil.broker.free_port()
    listener = (
        f"\nlistener {tls_port} 127.0.0.1\ncafile {work / 'ca.pem'}\n"
        f"certfile {work / 'server.pem'}\nkeyfile {work / 'server.key'}\n"
    )
    saved = hil.broker.SIZE_LIMITS
    hil.broker.SIZE_LIMITS = saved + listener  # the second listener, in the broker's own config
    try:
        broker = hil.broker.Broker(workdir=work / "mosquitto").start()
    finally:
        hil.broker.SIZE_LIMITS = saved
    hil.broker.wait_for_port(broker.host, tls_port)
    broker.tls_port = tls_port
    broker.ca = pem(ca_cert)
    yield broker
    broker.stop()


@pytest.fixture
async def tls_hub(tmp_path, tls_broker):
    from hub.core.settings import Settings
    from hub.service import Hub

    h = Hub(
        Settings(
            db=f"sqlite:///{tmp_path / 'hub.db'}",
            mqtt=tls_broker.url,
            client_id="hub-" + uuid.uuid4().hex[:8],
            sweep_interval_s=0.2,
        )
    )
    task = asyncio.create_task(h.bridge.run())
    await asyncio.wait_for(h.bridge.connected.wait(), 10)
    yield h
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    h.engine.dispose()


def tls_device(hub, broker, tmp_path, ca):
    device_id = "d-" + uuid.uuid4().hex[:8]
    with hub.engine.begin() as conn:
        key = add_device(conn, device_id, SITE, PRICE, "CHF")
    flash = tmp_path / device_id
    flash.mkdir()
    return SimDevice(
        device_id,
        SITE,
        key,
        broker.host,
        broker.tls_port,
        str(flash),
        profile={
            "units": 1,
            "pulse_ms": 5,
            "gap_ms": 5,
            "cooldown_ms": 0,
            "reply_timeout_ms": 500,
            "retries": 0,
        },
        ca=ca,
    )


async def test_a_tap_through_the_brokers_tls_listener(tls_hub, tls_broker, tmp_path):
    device = tls_device(tls_hub, tls_broker, tmp_path, tls_broker.ca)
    assert device.cfg.broker["tls"] and device.cfg.broker["port"] == tls_broker.tls_port
    uid = make_card(tls_hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.tap(uid)
        await until(lambda: device.results)
        assert device.results[-1][1] == "grant" and device.pulses() == 1
        await until(lambda: card(tls_hub, uid)["balance"] == 1000 - PRICE)
    finally:
        await device.stop()


async def test_a_broker_signed_by_another_ca_is_never_talked_to(tls_hub, tls_broker, tmp_path):
    _key, stranger = make_ca("not our CA")
    device = tls_device(tls_hub, tls_broker, tmp_path, pem(stranger))
    await device.start()
    try:
        with pytest.raises(TimeoutError):
            await device.wait_connected(timeout=1.5)
        device.tap(make_card(tls_hub, 1000))
        await until(lambda: device.results, timeout=5)
        assert device.results[-1][1] == "timeout" and device.pulses() == 0
    finally:
        await device.stop()


def test_mqtts_needs_a_ca_and_defaults_to_8883():
    data = {
        "device": "d1",
        "site": "park",
        "key": "5a" * 32,
        "broker": "mqtts://d1:pw@broker.park",
        "wifi": {"ssid": "s", "password": ""},
    }
    with pytest.raises(config.ConfigError, match="needs ca"):
        config.from_dict(data)
    with pytest.raises(config.ConfigError, match="PEM"):
        config.from_dict({**data, "ca": "not a certificate"})
    cfg = config.from_dict({**data, "ca": pem(make_ca()[1])})
    assert (cfg.broker["tls"], cfg.broker["port"]) == (True, 8883)
    assert config.parse_broker("mqtt://h")["tls"] is False


def _hub_over_tls(tmp_path, broker, ca_pem: str):
    from hub.core.settings import Settings
    from hub.service import Hub

    (tmp_path / "hub-ca.pem").write_text(ca_pem)
    url = broker.url.replace("mqtt://", "mqtts://").replace(f":{broker.port}", f":{broker.tls_port}")
    return Hub(
        Settings(
            db=f"sqlite:///{tmp_path / 'hub.db'}",
            mqtt=url,
            mqtt_ca=str(tmp_path / "hub-ca.pem"),
            client_id="hub-" + uuid.uuid4().hex[:8],
        )
    )


async def test_the_hub_talks_to_the_broker_over_tls_too(tls_broker, tmp_path):
    hub = _hub_over_tls(tmp_path, tls_broker, tls_broker.ca)
    assert hub.bridge.mqtt["tls"] and hub.bridge.mqtt["port"] == tls_broker.tls_port
    task = asyncio.create_task(hub.bridge.run())
    device = tls_device(hub, tls_broker, tmp_path, tls_broker.ca)
    try:
        await asyncio.wait_for(hub.bridge.connected.wait(), 10)
        uid = make_card(hub, 1000)
        await device.start()
        await device.wait_connected()
        device.tap(uid)
        await until(lambda: device.results)
        assert device.results[-1][1] == "grant"
    finally:
        await device.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        hub.engine.dispose()


async def test_a_hub_trusting_another_ca_never_connects(tls_broker, tmp_path):
    _key, stranger = make_ca("an impostor's CA")
    hub = _hub_over_tls(tmp_path, tls_broker, pem(stranger))
    task = asyncio.create_task(hub.bridge.run())
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(hub.bridge.connected.wait(), 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        hub.engine.dispose()
