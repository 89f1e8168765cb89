"""The console with the whole hub behind it, in Chromium: a real Mosquitto, the hub process's
bridge and API on one event loop (hub.service.Hub), and a simulated controller running the
real firmware. An operator blocks a card on its page and the controller's next tap with it is
denied; the controller loses power and the Live page shows it offline within seconds."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from pathlib import Path

import pytest
import uvicorn

from hil.device import SimDevice
from hub.access import operators
from hub.core.engine import reader
from hub.core.settings import Settings
from hub.devices import management
from hub.devices.registry import add_device
from hub.loyalty import outlets
from hub.service import Hub
from hub.wallets import cards, cash_desk

CHROMIUM = os.environ.get("TAPGIFT_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"

# Outside CI a machine without Debian's chromium skips these; in CI (tests/bootstrap.sh
# installs it) they run, and fail if it is missing.
pytestmark = pytest.mark.skipif(
    not (os.environ.get("CI") or Path(CHROMIUM).exists() or shutil.which("chromium")),
    reason="Debian's chromium is not installed (bash tests/bootstrap.sh installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(check, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def stored_state(hub: Hub, device_id: str) -> str | None:
    # A read-only connection: on SQLite a plain one takes the write lock, here in the event
    # loop that also serves the page and runs the bridge.
    with reader(hub.engine).connect() as conn:
        return management.device_states(conn, [device_id]).get(device_id, {}).get("state")


async def test_block_a_card_and_watch_a_controller_go_offline(broker, tmp_path):
    from playwright.async_api import async_playwright

    port = _free_port()
    hub = Hub(
        Settings(
            db=f"sqlite:///{tmp_path / 'hub.db'}",
            mqtt=broker.url,
            client_id="hub-" + uuid.uuid4().hex[:8],
            api_port=port,
            sweep_interval_s=0.2,
        )
    )
    with hub.engine.begin() as conn:
        outlets.create_site(conn, "park", "Water park")
        operators.add_operator(conn, "tech", PASSWORD, "manager")
        cards.issue_card(conn, "CHF", "04C0FFEE01")
        cash_desk.top_up(conn, "04C0FFEE01", 1000, "test/live")
        key = add_device(conn, "disp-7", "park", 250, "CHF", "Slide bar dispenser")
    bridge = asyncio.create_task(hub.bridge.run())
    server = uvicorn.Server(uvicorn.Config(hub.app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    device = SimDevice(
        "disp-7",
        "park",
        key,
        hub.bridge.mqtt["hostname"],
        hub.bridge.mqtt["port"],
        str(tmp_path / "flash"),
        profile={"units": 1, "pulse_ms": 5, "gap_ms": 5, "cooldown_ms": 0},
    )
    try:
        await asyncio.wait_for(hub.bridge.connected.wait(), 10)
        await until(lambda: server.started)
        await device.start()
        await device.wait_connected()
        await until(lambda: stored_state(hub, "disp-7") == "online")  # what the Live page reads
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await browser.new_page(base_url=f"http://127.0.0.1:{port}")
            page.set_default_timeout(20_000)  # a first page load in a fresh browser on a busy machine
            await page.goto("/login?next=/live")
            await page.get_by_label("User name").fill("tech")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_url("**/live")
            row = page.locator("#device-disp-7")
            await row.locator(".status-online").wait_for()

            device.tap("04C0FFEE01")
            _, outcome, _, _ = await device.wait_results(1)
            assert outcome == "grant"

            await page.goto("/cards/04C0FFEE01")
            await page.get_by_role("button", name="Block").click()
            await page.wait_for_url("**/cards/04C0FFEE01?done=blocked")
            assert await page.locator("#card-status").inner_text() == "blocked"
            device.tap("04C0FFEE01")
            card, outcome, code, _ = await device.wait_results(2)
            # refused by the controller's deny list (the hub sends it after the block) or by
            # the hub, whichever comes first
            assert (card, outcome, code) == ("04C0FFEE01", "deny", "blocked_card")

            await page.goto("/live")
            await row.locator(".status-online").wait_for()
            await device.power_cut()  # its will tells the broker, the broker the hub
            await row.locator(".status-offline").wait_for()  # the table polls every 3 s
            assert int(await row.locator("td").nth(3).inner_text()) >= 1  # taps the hub answered
            await browser.close()
    finally:
        await device.stop()
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        bridge.cancel()
        await asyncio.gather(bridge, return_exceptions=True)
        hub.engine.dispose()
