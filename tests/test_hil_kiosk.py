"""A balance kiosk on a simulated controller (the real firmware) through a real
Mosquitto and the real hub, on SQLite and on PostgreSQL: a tap shows the
balance, the coins the acceptor counts are credited to the card with the
top-up bonus exactly once - also when the power goes in the middle of a
session."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from test_end_to_end import SITE, card, make_card, until

from hil.device import SimDevice
from hub.devices.registry import add_device
from hub.ledger import TRANSFERS
from hub.wallets import topup_bonus as promotions

KIOSK = {
    "kind": "kiosk",
    "cooldown_ms": 0,
    "coin_value": 50,
    "idle_ms": 20000,
    "reply_timeout_ms": 2000,
    "retries": 1,
}


def make_kiosk(hub, tmp_path, **profile):
    device_id = "k-" + uuid.uuid4().hex[:8]
    with hub.engine.begin() as conn:
        key = add_device(conn, device_id, SITE, 1, "CHF", kind="kiosk")  # a kiosk sells nothing
        promotions.set_tiers(conn, "CHF", [{"min_amount": 500, "percent": 10}])
    flash = tmp_path / device_id
    flash.mkdir()
    return SimDevice(
        device_id,
        SITE,
        key,
        hub.bridge.mqtt["hostname"],
        hub.bridge.mqtt["port"],
        str(flash),
        profile={**KIOSK, **profile},
        pins={"sensor": 34},
    )


def acceptor_on(kiosk):
    return kiosk.board.relays[0].value()


def credits(hub):
    """How many transfers the hub booked (the ledger is append-only)."""
    with hub.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(TRANSFERS)).scalar()


async def insert(kiosk, pulses, want):
    """Coins worth `pulses` acceptor pulses; wait until the session has counted `want`."""
    kiosk.board.sensor.pulse(pulses)
    await until(lambda: kiosk.app.controller.machine.amount == want)


async def test_counted_coins_are_credited_with_the_bonus_exactly_once(hub, tmp_path):
    kiosk = make_kiosk(hub, tmp_path)
    uid = make_card(hub, 300)
    await kiosk.start()
    try:
        await kiosk.wait_connected()
        kiosk.tap(uid)
        assert (await kiosk.wait_results(1))[1] == "balance"
        assert kiosk.board.display.lines == ("Balance 3.00", "Insert coins")
        assert acceptor_on(kiosk)
        booked = credits(hub)
        await insert(kiosk, 6, 300)
        await insert(kiosk, 4, 500)
        kiosk.tap(uid)  # done: the second tap ends the session
        assert (await kiosk.wait_results(2))[1] == "topup"
        assert not acceptor_on(kiosk)
        await until(lambda: kiosk.board.display.lines[1].startswith("Bonus"))
        assert kiosk.board.display.lines == ("Balance 8.50", "Bonus 0.50")
        assert card(hub, uid)["balance"] == 300 + 500 + 50
        assert kiosk.app.controller.pending_reports() == 0
        after = credits(hub)
        assert after > booked
        # Nothing more is booked for it, however long we wait.
        kiosk.tap(uid)
        await kiosk.wait_results(3)
        kiosk.tap(uid)
        await kiosk.wait_results(4)  # a session without coins
        assert credits(hub) == after and card(hub, uid)["balance"] == 850
    finally:
        await kiosk.stop()


async def test_power_cut_mid_session_is_credited_once_after_the_reboot(hub, tmp_path):
    kiosk = make_kiosk(hub, tmp_path)
    uid = make_card(hub, 0)
    await kiosk.start()
    try:
        await kiosk.wait_connected()
        kiosk.tap(uid)
        await kiosk.wait_results(1)
        await insert(kiosk, 4, 200)
        await kiosk.power_cut()  # counted, not yet credited
        assert not acceptor_on(kiosk)
        assert card(hub, uid)["balance"] == 0
        await kiosk.power_on()
        await until(lambda: card(hub, uid)["balance"] == 200)  # below the bonus tier
        await until(lambda: kiosk.app.controller.pending_reports() == 0)
        assert not acceptor_on(kiosk)
        # A second reboot finds nothing left to send.
        await kiosk.power_cut()
        await kiosk.power_on()
        await kiosk.wait_connected()
        assert kiosk.app.controller.pending_reports() == 0
        assert card(hub, uid)["balance"] == 200
    finally:
        await kiosk.stop()


async def test_blocked_card_gets_no_acceptor(hub, tmp_path):
    kiosk = make_kiosk(hub, tmp_path)
    uid = make_card(hub, 1000, status="blocked")
    await kiosk.start()
    try:
        await kiosk.wait_connected()
        kiosk.tap(uid)
        card_, outcome, code, _rtt = await kiosk.wait_results(1)
        assert (outcome, code) == ("deny", "blocked_card")
        assert not acceptor_on(kiosk) and kiosk.board.timeline == []
        assert kiosk.board.display.lines == ("Card refused", "blocked_card")
    finally:
        await kiosk.stop()
