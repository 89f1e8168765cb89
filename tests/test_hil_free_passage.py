"""A passage that costs nothing (the exit turnstile that resets a visit): a turnstile may be
registered at a price of 0, and a visitor with an empty card passes, through the real firmware,
Mosquitto and the hub. Every other kind still costs at least one minor unit."""

from __future__ import annotations

import pytest
from test_end_to_end import card, make_card
from test_hil_profiles import make_device, outcome, relay_on, resolved

from hub.core.errors import Invalid
from hub.devices.registry import FREE_KINDS, add_device, change_device


async def test_an_empty_card_passes_the_free_exit_turnstile(hub, tmp_path):
    device = make_device(
        hub, tmp_path, 0, pins={"sensor": 34}, kind="turnstile", direction="exit", pass_timeout_ms=5000
    )
    uid = make_card(hub, 0)
    await device.start()
    try:
        device.tap(uid)
        await until_on(device)
        device.board.sensor.pulse()
        [hold] = await resolved(hub, device)
        assert outcome(hold) == ("posted", 0, 0)
        assert device.results[-1][1] == "grant"
        assert card(hub, uid)["balance"] == 0
    finally:
        await device.stop()


async def until_on(device):
    from test_end_to_end import until

    await until(lambda: relay_on(device))


def test_only_a_kind_that_may_be_free_takes_a_price_of_0(hub):
    assert FREE_KINDS == ("turnstile",)
    with hub.engine.begin() as conn:
        add_device(conn, "exit-gate-1", "park", 0, "CHF", kind="turnstile")
        for kind in ("dispenser", "slot_machine", "billiard", "kiosk"):
            with pytest.raises(Invalid, match="unit_price"):
                add_device(conn, f"free-{kind}", "park", 0, "CHF", kind=kind)
        with pytest.raises(Invalid, match="unit_price"):
            add_device(conn, "gate-2", "park", -1, "CHF", kind="turnstile")
        add_device(conn, "slide-1", "park", 250, "CHF")
        with pytest.raises(Invalid, match="unit_price"):
            change_device(conn, "slide-1", unit_price=0)
        assert change_device(conn, "exit-gate-1", unit_price=100)["unit_price"] == 100
        assert change_device(conn, "exit-gate-1", unit_price=0)["unit_price"] == 0
