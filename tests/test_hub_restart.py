"""The hub killed (SIGKILL) and restarted in the middle of a run loses no
committed debit, and reports sent across the restart still resolve their holds."""

from __future__ import annotations

import asyncio
import signal
import uuid

import processes
from sqlalchemy import select

from hil.device import SimDevice
from hub.devices.registry import add_device
from hub.ledger import ledger_totals
from hub.migrations import open_database as make_engine
from hub.tables.taps import Hold
from hub.wallets import cards as wallets
from hub.wallets import cash_desk

HOLDS = Hold.__table__
PRICE = 100
SITE = "restart-park"


def start_hub(db_url, broker, log_path):
    log = open(log_path, "a")  # noqa: SIM115  (the hub process keeps it until it dies)
    return processes.start_hub(db_url, broker.url, "--client-id", "restart-hub", log=log)[0]


async def test_hub_killed_mid_run_loses_nothing_and_resolves_holds(db_url, broker, tmp_path):
    engine = make_engine(db_url)
    cards, devices = [], []
    with engine.begin() as conn:
        for i in range(3):
            uid = uuid.uuid4().hex[:8].upper()
            wallets.issue_card(conn, "CHF", uid)
            cash_desk.top_up(conn, uid, 100 * PRICE, f"start/{uid}")
            cards.append(uid)
            device_id = f"r{i}-" + uuid.uuid4().hex[:6]
            key = add_device(conn, device_id, SITE, PRICE, "CHF")
            flash = tmp_path / device_id
            flash.mkdir()
            # Long pulses: many grants are still being delivered when the hub dies.
            devices.append(
                SimDevice(
                    device_id,
                    SITE,
                    key,
                    broker.host,
                    broker.port,
                    str(flash),
                    profile={
                        "units": 1,
                        "pulse_ms": 300,
                        "gap_ms": 10,
                        "cooldown_ms": 0,
                        "reply_timeout_ms": 1000,
                        "retries": 20,
                    },
                )
            )
    log = tmp_path / "hub.log"
    hub = start_hub(db_url, broker, log)
    for d in devices:
        await d.start()
    try:

        async def tapping(device, uid, n):
            for _ in range(n):
                before = len(device.results)
                device.tap(uid)
                while len(device.results) == before:
                    await asyncio.sleep(0.02)

        run = asyncio.gather(*(tapping(d, c, 12) for d, c in zip(devices, cards, strict=True)))
        await asyncio.sleep(1.5)
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        await asyncio.sleep(0.5)
        hub = start_hub(db_url, broker, log)
        await asyncio.wait_for(run, 120)

        async def all_resolved():
            while True:
                with engine.connect() as conn:
                    if not conn.execute(select(HOLDS).where(HOLDS.c.status == "pending")).first():
                        return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(all_resolved(), 30)
        with engine.connect() as conn:
            for device, uid in zip(devices, cards, strict=True):
                holds = conn.execute(select(HOLDS).where(HOLDS.c.device_id == device.id)).mappings().all()
                granted = [r for r in device.results if r[1] == "grant"]
                # Every grant a device acted on is a committed hold, and each was posted once.
                assert len(holds) == len(granted) == device.pulses()
                assert all(h["status"] == "posted" and h["posted"] == PRICE for h in holds)
                view = wallets.card_view(conn, uid)
                assert view["balance"] == 100 * PRICE - PRICE * len(holds)
                assert view["held"] == 0
            assert all(s == {"posted": 0, "pending": 0} for s in ledger_totals(conn).values())
        assert "Traceback" not in log.read_text()
    finally:
        for d in devices:
            await d.stop()
        hub.terminate()
        hub.wait(10)
        engine.dispose()
