"""Several hubs, one ledger: two hub processes on one PostgreSQL behind one Mosquitto, sharing
the devices' topics as one MQTT shared-subscription group, tapped by the lean load generator.

Whatever hub a request reaches, and however often it arrives, it books once: every hold a
device delivered on is posted once with what it delivered, no other hold is posted, every
ledger sums to zero (hil.bench.exactly_once). A hub killed with SIGKILL mid-run loses
nothing: the other answers the devices' repeats. No figure here is a timing assertion."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import paho.mqtt.client as mqtt
import pytest

from hil.bench import Hubs, exactly_once, prepare
from hil.broker import Broker, free_port
from hil.fleet_setup import Fleetplan
from hil.loadgen import Workers, merge
from hub.devices import registry
from hub.loyalty import outlets
from hub.migrations import open_database
from hub.taps import device_loyalty
from protocol.signing import Signer


def _run(pg_url, tmp_path, *, duplicates=0.0, kill_after_s=None, duration=3.0, hubs=2):
    plan = Fleetplan(devices=20, cards=100, balance=1_000_000, site="hubs-park")
    provisioned, cards, _key = prepare(pg_url, plan)
    with Broker(workdir=tmp_path) as broker, Hubs(hubs, pg_url, broker, tmp_path) as group:
        workers = Workers(
            provisioned,
            cards,
            plan.site,
            broker.host,
            broker.port,
            rate=40,
            duration=duration,
            ids_dir=str(tmp_path),
            duplicates=duplicates,
        )
        try:
            workers.start()
            workers.go()
            killer = threading.Timer(kill_after_s, group.kill, [0]) if kill_after_s else None
            if killer:
                killer.start()
            tally = merge(workers.results())
            if killer:
                killer.join()
        finally:
            workers.stop()
        alive = [p.poll() is None for p in group.procs]
    problems = exactly_once(pg_url, {d for d, _ in provisioned}, tally["delivered"])
    return tally, problems, alive


@pytest.mark.parametrize("hubs", [2, 3])
def test_hubs_book_each_request_once_though_it_arrives_twice(pg_url, tmp_path, hubs):
    tally, problems, alive = _run(pg_url, tmp_path, duplicates=0.5, hubs=hubs)
    assert alive == [True] * hubs
    assert tally["duplicates"] > 10  # requests sent twice, to either hub
    assert tally["granted"] > 50 and tally["timeouts"] == 0 and tally["report_timeouts"] == 0
    assert len(tally["delivered"]) == tally["granted"]
    assert problems == []


def test_a_hub_killed_mid_run_loses_nothing_and_the_other_carries_on(pg_url, tmp_path):
    tally, problems, alive = _run(pg_url, tmp_path, kill_after_s=1.5, duration=4.0)
    assert alive == [False, True]
    # Taps went on being answered after the kill (4 s at 40/s, the kill at 1.5 s), and
    # every request the dead hub took with it was repeated and answered by the other.
    assert tally["granted"] > 120
    assert tally["timeouts"] == 0 and tally["report_timeouts"] == 0
    assert problems == []


def test_demo_runs_two_hubs(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "hil.cli", "demo", "--hubs", "2", "--devices", "4", "--duration", "3"]
        + ["--json", "--data", str(tmp_path), "--api-port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["hubs"] == 2 and summary["granted"] > 0 and summary["timeouts"] == 0


def test_a_change_made_by_another_hub_reaches_the_machine_cache_without_waiting_out_its_ttl(pg_url):
    """On PostgreSQL the machines' loyalty cache checks its tables' version every
    VERSION_CHECK_S: an outlet written by another process (no forget() here) is seen then."""
    engine = open_database(pg_url)
    try:
        with engine.begin() as conn:
            before = device_loyalty.static(conn)
            # What another hub process does: its own transaction, this process's cache untouched.
            outlets.create_site(conn, "other-hub-site")
            outlets.create_outlet(conn, "CHF", "other-hub-bar", "other-hub-site", kind="bar")
        assert "other-hub-bar" not in before.outlets
        time.sleep(device_loyalty.VERSION_CHECK_S)
        with engine.begin() as conn:
            assert "other-hub-bar" in device_loyalty.static(conn).outlets
    finally:
        engine.dispose()


def test_a_command_asked_of_either_hub_reaches_the_device_once(pg_url, tmp_path):
    plan = Fleetplan(devices=1, cards=1, balance=0, site="hubs-park")
    provisioned, _cards, key = prepare(pg_url, plan)
    device = provisioned[0][0]
    seen = []
    with Broker(workdir=tmp_path) as broker, Hubs(2, pg_url, broker, tmp_path) as group:
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        watcher.on_message = lambda c, u, m: seen.append(m.topic)
        watcher.connect(broker.host, broker.port)
        watcher.subscribe("tg/+/+/dn/cmd", 1)
        watcher.loop_start()
        try:
            time.sleep(0.5)
            for i in (0, 1):
                r = httpx.post(
                    f"{group.api_url(i)}/api/v1/devices/{device}/commands",
                    json={"k": "reboot"},
                    headers={"X-API-Key": key, "Idempotency-Key": f"reboot-{i}"},
                    timeout=30,
                )
                assert r.status_code == 202, r.text
            time.sleep(1.0)
        finally:
            watcher.loop_stop()
            watcher.disconnect()
    assert seen == [f"tg/hubs-park/{device}/dn/cmd"] * 2  # one each, not one per hub


def test_a_price_and_key_changed_through_another_hub_reach_this_hubs_devices_within_a_second(pg_url):
    """The device directory checks the devices table's version every VERSION_CHECK_S on
    PostgreSQL: a price or key changed by another process (no forget() here) is used then."""
    engine = open_database(pg_url)
    try:
        with engine.begin() as conn:
            registry.add_device(conn, "dir-1", "hubs-park", 100, "CHF")
        directory = registry.DeviceDirectory(engine)  # ttl 30 s: only the version check can help
        before = directory.get("hubs-park", "dir-1")
        with engine.begin() as conn:  # what another hub process does
            registry.change_device(conn, "dir-1", unit_price=250)
            new_key = registry.rotate_key(conn, "dir-1")["key_hex"]
        assert directory.get("hubs-park", "dir-1").unit_price == 100  # still cached
        time.sleep(registry.VERSION_CHECK_S)
        after = directory.get("hubs-park", "dir-1")
        assert (before.unit_price, after.unit_price) == (100, 250)
        body = b'{"id":"1-1","card":"AB12CD34","units":1}'
        sealed = Signer(new_key).seal("tg/hubs-park/dir-1/up/tap", body)
        assert directory.signer("hubs-park", "dir-1").open("tg/hubs-park/dir-1/up/tap", sealed) == body
    finally:
        engine.dispose()
