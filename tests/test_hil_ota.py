"""Updates over the air with the real firmware on a simulated board, a real Mosquitto and the
real hub: a version rolled out is fetched in pieces over MQTT, started on trial after a restart
and kept once the hub confirms it; a bundle whose manifest or file was tampered with is refused
and the old version keeps running; a version that crashes at start is given up by the board
itself and the hub hears of it. (The staging logic under the real MicroPython interpreter:
tests/micropython/test_ota.py.)"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from clients import make_key
from sqlalchemy import update
from test_end_to_end import SITE, make_card, make_device, until

from firmware import app as running_app
from firmware import ota
from hub.core.errors import Conflict, NotFound
from hub.devices import firmware_updates
from hub.devices.registry import add_device

REPO = Path(__file__).resolve().parents[1]


# What a simulated dispenser never loads, left out to keep the tests quick (a board's bundle,
# from `tapgift fw publish`, has every module it gets).
NOT_IN_A_SIMULATED_DISPENSER = ("firmware/hal_esp32", "firmware/hal_sim", "firmware/readers/", "firmware/lcd")


def source_bundle(version: str, crash: bool = False) -> dict[str, bytes]:
    """firmware/ and protocol/ as source, as a simulated controller runs them (a board gets the
    .mpy build), with app.py's VERSION set; crash: an app.py that raises as it loads."""
    files = {}
    for package in firmware_updates.PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = path.relative_to(REPO).as_posix()
            if not name.startswith(NOT_IN_A_SIMULATED_DISPENSER):
                files[name] = path.read_bytes()
    app = (
        files["firmware/app.py"]
        .decode()
        .replace(f'VERSION = "{running_app.VERSION}"', f'VERSION = "{version}"')
    )
    if crash:
        app = app.replace(
            "\nclass App:", '\nraise RuntimeError("this build crashes at start")\n\n\nclass App:'
        )
    files["firmware/app.py"] = app.encode()
    return files


@pytest.fixture(autouse=True)
def quick_restart(monkeypatch):
    """A staged version starts once the relays have been off IDLE_MS: shorter here."""
    monkeypatch.setattr(ota, "IDLE_MS", 200)


def publish(hub, version, **kw):
    with hub.engine.begin() as conn:
        return firmware_updates.publish(conn, version, source_bundle(version, **kw), by="test")


def update_of(hub, device, version=None):
    with hub.engine.connect() as conn:
        rows = firmware_updates.updates(conn, device_id=device.id)
    [row] = [r for r in rows if version in (None, r["version"])]
    return row


async def state_becomes(hub, device, state, timeout=20.0, version=None):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await hub.bridge.flush_management()  # acks are stored in batches
        row = update_of(hub, device, version)
        if row["state"] == state:
            return row
        assert loop.time() < deadline, row
        await asyncio.sleep(0.1)


def running_from(device) -> str:
    return sys.modules[type(device.app).__module__].__file__


async def test_an_update_is_fetched_started_on_trial_confirmed_and_kept(hub, tmp_path):
    device = make_device(hub, tmp_path)
    await device.start()
    try:
        await device.wait_connected()
        assert device.fw == running_app.VERSION
        publish(hub, "9.9.0")
        await firmware_updates.roll_out(hub.bridge, hub.engine, "9.9.0", devices=[device.id])
        await until(lambda: device.board.reboots == 1, 20)  # staged, acked, restarted
        await device.wait_connected()
        assert device.fw == "9.9.0"
        slot = Path(device.board.flash_dir) / "ota" / "a"
        assert running_from(device).startswith(str(slot))  # the new code runs, not the repository's
        row = await state_becomes(hub, device, "confirmed")
        assert row["version"] == "9.9.0" and row["ended_at"] is not None
        await until(lambda: (slot.parent / "active").exists() and not (slot.parent / "trial").exists())
        uid = make_card(hub, 1000)
        device.tap(uid)
        await until(lambda: device.results)
        assert device.results[-1][1] == "grant"
        # Kept: after a power cut it starts again, and stays.
        await device.power_cut()
        assert "firmware.app" in sys.modules and not running_from(device).startswith(str(slot))
        await device.power_on()
        await device.wait_connected()
        assert device.fw == "9.9.0" and running_from(device).startswith(str(slot))
    finally:
        await device.stop()


async def test_a_tampered_bundle_is_refused_and_the_old_version_keeps_running(hub, tmp_path):
    device = make_device(hub, tmp_path)
    for tamper, version, refusal in (
        ("manifest", "9.8.1", "bad_signature"),
        ("file", "9.8.2", "bad_hash: firmware/controller.py"),
    ):
        publish(hub, version)
        # Offered while the device is off; then the stored bundle is altered (a disk, a copy,
        # a man in the middle: the device cannot tell where), and the device comes online.
        await firmware_updates.roll_out(hub.bridge, hub.engine, version, devices=[device.id])
        tamper_with(hub, version, tamper)
        await device.start()
        try:
            await device.wait_connected()
            row = await state_becomes(hub, device, "failed", version=version)
            assert row["reason"].startswith(refusal), row
            assert device.board.reboots == 0 and device.fw == running_app.VERSION
            assert ota.boot(device.board.flash_dir) == (None, None, None)  # nothing to start
            uid = make_card(hub, 1000)
            device.tap(uid)
            await until(lambda: device.results)
            assert device.results[-1][1] == "grant"
        finally:
            await device.stop()
        device.results.clear()


def tamper_with(hub, version, what):
    with hub.engine.begin() as conn:
        if what == "manifest":
            table = firmware_updates.BUNDLES
            manifest = (
                conn.execute(table.select().where(table.c.version == version)).mappings().one()["manifest"]
            )
            forged = manifest.replace("tapgift-fw 1", "tapgift-fw  1", 1)  # one byte more: another hash
            conn.execute(update(table).where(table.c.version == version).values(manifest=forged))
        else:
            table = firmware_updates.FILES
            where = (table.c.version == version) & (table.c.path == "firmware/controller.py")
            data = conn.execute(table.select().where(where)).mappings().one()["data"]
            owned = b"print('owned')#" + bytes(data[15:])  # as long as the real one: another hash
            conn.execute(update(table).where(where).values(data=owned))


async def test_a_version_that_crashes_at_start_is_rolled_back_by_the_board_itself(hub, tmp_path):
    device = make_device(hub, tmp_path)
    other = make_device(hub, tmp_path)
    await device.start()
    try:
        await device.wait_connected()
        publish(hub, "9.7.0", crash=True)
        await firmware_updates.roll_out(hub.bridge, hub.engine, "9.7.0", devices=[device.id])
        # The staging's restart, then one per boot on trial that crashes, then the old version.
        await until(lambda: device.board.reboots == 1 + ota.TRIAL_BOOTS, 30)
        await device.wait_connected()
        assert device.fw == running_app.VERSION
        row = await state_becomes(hub, device, "rolled_back")
        assert row["reason"] == "restarted"
        assert "this build crashes at start" in (Path(device.board.flash_dir) / "crash.txt").read_text()
        uid = make_card(hub, 1000)
        device.tap(uid)
        await until(lambda: device.results)
        assert device.results[-1][1] == "grant"
        # The first group showed it: the version goes to no one else unless forced.
        with pytest.raises(Conflict, match="rolled back"):
            await firmware_updates.roll_out(hub.bridge, hub.engine, "9.7.0", devices=[other.id])
    finally:
        await device.stop()


# The rollouts' queries run on PostgreSQL in the tests above; these two on SQLite alone.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_rest_api_publishes_rolls_out_and_shows_each_device_and_refuses_others(hub, tmp_path):
    device = make_device(hub, tmp_path)
    transport = httpx.ASGITransport(app=hub.app)
    files = {p: base64.b64encode(d).decode() for p, d in source_bundle("9.6.0").items()}

    def client(role, **scope):
        headers = {"X-API-Key": make_key(hub.engine, role, **scope)}
        return httpx.AsyncClient(transport=transport, base_url="http://hub", headers=headers)

    async with client("admin") as admin, client("auditor") as auditor:
        bad = await admin.post(
            "/api/v1/firmware/bundles", json={"version": "9.6.0", "files": {"boot.py": "eA=="}}
        )
        assert bad.status_code == 422, bad.text
        bad = await admin.post(
            "/api/v1/firmware/bundles", json={"version": "9.6.0", "files": {"firmware/app.py": "%%"}}
        )
        assert bad.status_code == 422 and "base64" in bad.text, bad.text
        refused = await auditor.post("/api/v1/firmware/bundles", json={"version": "9.6.0", "files": files})
        assert refused.status_code == 403, refused.text
        made = await admin.post("/api/v1/firmware/bundles", json={"version": "9.6.0", "files": files})
        assert made.status_code == 201 and made.json()["files"] == len(files), made.text
        [entry] = [e for e in (await admin.get("/api/v1/audit")).json() if e["action"] == "publish_bundle"]
        digest = hashlib.sha256(base64.b64decode(files["firmware/app.py"])).hexdigest()
        assert entry["request"]["files"]["firmware/app.py"] == digest  # a hash, not the file
        again = await admin.post("/api/v1/firmware/bundles", json={"version": "9.6.0", "files": files})
        assert again.status_code == 201 and again.json() == made.json()
        other = dict(files, **{"firmware/app.py": base64.b64encode(b"VERSION = 1\n").decode()})
        clash = await admin.post("/api/v1/firmware/bundles", json={"version": "9.6.0", "files": other})
        assert clash.status_code == 409, clash.text
        detail = await admin.get("/api/v1/firmware/bundles/9.6.0")
        assert {f["path"] for f in detail.json()["file_list"]} == set(files)
        assert (await admin.get("/api/v1/firmware/bundles/0.0.0")).status_code == 404
        nobody = await admin.post(
            "/api/v1/firmware/rollouts", json={"version": "9.6.0", "devices": ["nobody"]}
        )
        assert nobody.status_code == 404, nobody.text
        both = await admin.post(
            "/api/v1/firmware/rollouts", json={"version": "9.6.0", "devices": [device.id], "percent": 10}
        )
        assert both.status_code == 422, both.text
        out = await admin.post("/api/v1/firmware/rollouts", json={"version": "9.6.0", "devices": [device.id]})
        assert out.status_code == 202, out.text
        assert out.json()["counts"] == {"offered": 1}
        rollout = await admin.get(f"/api/v1/firmware/rollouts/{out.json()['id']}")
        assert [d["device_id"] for d in rollout.json()["devices"]] == [device.id]
        mine = await admin.get(f"/api/v1/devices/{device.id}/firmware")
        assert [(u["version"], u["state"]) for u in mine.json()] == [("9.6.0", "offered")]
        assert (await auditor.get("/api/v1/firmware/rollouts")).json()[0]["counts"] == {"offered": 1}
        refused = await auditor.post("/api/v1/firmware/rollouts", json={"version": "9.6.0", "percent": 50})
        assert refused.status_code == 403, refused.text


def test_fw_publish_publishes_the_mpy_build(tmp_path):
    from processes import TAPGIFT

    from hil import micropython
    from hub.migrations import open_database

    build = tmp_path / "build"
    micropython.build(build)
    db = f"sqlite:///{tmp_path}/hub.db"
    argv = TAPGIFT + ["fw", "publish", "--db", db, "--build", str(build), "--version", "1.2.3"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    bundle = json.loads(first.stdout)
    mpy = sorted(p.relative_to(build / "lib").as_posix() for p in (build / "lib").rglob("*.mpy"))
    assert bundle["version"] == "1.2.3" and bundle["files"] == len(mpy)
    engine = open_database(db)
    with engine.connect() as conn:
        listed = firmware_updates.get_bundle(conn, "1.2.3")["file_list"]
    engine.dispose()
    assert [f["path"] for f in listed] == mpy and "firmware/hal_sim.mpy" not in mpy


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_share_of_a_site_grows_one_group(engine):
    ids = [f"share-{i}" for i in range(10)]
    with engine.begin() as conn:
        for device_id in ids:
            add_device(conn, device_id, SITE, 100, "CHF")
        firmware_updates.publish(conn, "9.5.0", {"firmware/app.py": b"VERSION = '9.5.0'\n"})
    ten, _ = firmware_updates.start_rollout(engine, "9.5.0", site=SITE, percent=10)
    half, offers = firmware_updates.start_rollout(engine, "9.5.0", site=SITE, percent=50)
    first = {d["device_id"] for d in ten["devices"]}
    second = {d["device_id"] for d in half["devices"]}
    assert (len(first), len(second)) == (1, 4)  # 10 % of ten; then 50 %: four more, not five
    assert not first & second and first | second <= set(ids)
    assert {device_id for _site, device_id, _data in offers} == second
    with pytest.raises(NotFound, match="no device at site"):
        firmware_updates.start_rollout(engine, "9.5.0", site="nowhere", percent=10)
