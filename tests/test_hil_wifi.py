"""Wi-Fi as it behaves on an ESP32, with the real firmware, Mosquitto and the hub: when the
Wi-Fi goes, the TCP connection to the broker neither closes nor hears anything (lwIP keeps it
until keepalive gives up, 45 s), so the controller must drop the MQTT link itself at once, and
a tap on a machine that may vend offline goes offline at once instead of waiting for replies
that cannot come."""

from __future__ import annotations

import asyncio

from test_end_to_end import make_card, until
from test_hil_offline import make_device


async def test_a_tap_after_the_wifi_is_lost_goes_offline_at_once(hub, tmp_path):
    device = make_device(hub, tmp_path, reply_timeout_ms=1500, retries=1)
    uid = make_card(hub, 1000)
    await device.start()
    try:
        await device.wait_connected()
        device.wifi_lost()
        await asyncio.sleep(0.4)  # the board's network check runs every 250 ms
        assert not device.app.client.is_connected()
        loop = asyncio.get_running_loop()
        started = loop.time()
        device.tap(uid)
        await device.wait_results(1, timeout=10)
        assert device.results[-1][1] == "offline"
        assert loop.time() - started < 0.5  # not 2 x 1.5 s of reply timeouts

        device.wifi_back()
        await device.wait_connected()
        await until(lambda: device.app.controller.pending_reports() == 0)
    finally:
        await device.stop()
