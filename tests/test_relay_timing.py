"""A relay pulse ends on time even when the event loop is held up (a DNS lookup, a flash
erase, a garbage collection hold the loop on a board): the board's timer ends it, not the
task that started it. The simulated board's timer is a thread, as the ESP32's is hardware."""

from __future__ import annotations

import asyncio
import time

from firmware import config, profiles
from firmware.hal_sim import SimBoard


async def test_a_pulse_is_not_stretched_by_a_blocked_event_loop(tmp_path):
    board = SimBoard(str(tmp_path))
    profile = config.profile_defaults("dispenser")
    profile.update({"units": 2, "pulse_ms": 40, "gap_ms": 40})
    machine = profiles.make(board, profile)
    delivering = asyncio.create_task(machine.pulse(2))
    await asyncio.sleep(0.005)
    time.sleep(0.4)  # something holds the loop for 400 ms in the middle of the first pulse
    assert await delivering == 2
    (on1, _, up1), (off1, _, down1), (on2, _, up2), (off2, _, down2) = board.timeline
    assert (up1, down1, up2, down2) == (True, False, True, False)
    assert off1 - on1 < 100, board.timeline  # not 400 ms
    assert off2 - on2 < 100, board.timeline


async def test_a_later_pulse_is_not_cut_short_by_an_earlier_timer(tmp_path):
    board = SimBoard(str(tmp_path))
    relay = board.relays[0]
    relay.pulse(30)
    relay.off()  # the task ended it first
    relay.on()  # a session switches the relay on (billiard, kiosk)
    await asyncio.sleep(0.08)
    assert relay.value()
    relay.off()
