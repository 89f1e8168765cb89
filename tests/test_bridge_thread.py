"""The hub runs its MQTT bridge on a thread and an event loop of its own (hub.service.BridgeThread)
and books each batch of taps inline there: while a batch is being booked the REST API, on the
main loop, still answers; a command sent through the API goes out through the bridge's loop once
that batch is booked; and stopping the hub gives the kept connection back on the bridge's thread."""

from __future__ import annotations

import asyncio
import threading
import uuid

from test_device_commands import api, send, wait_acked
from test_end_to_end import make_card, make_device, until

from hub.core.settings import Settings
from hub.service import Hub


async def test_the_api_answers_while_the_bridge_books_a_batch(db_url, broker, tmp_path):
    hub = Hub(Settings(db=db_url, mqtt=broker.url, client_id="hub-" + uuid.uuid4().hex[:8]))
    booking, release = threading.Event(), threading.Event()
    booked_on: set[int] = set()
    process = hub.authorizer.process

    def held(batch):  # the bridge's thread waits here, in the middle of its loop
        booked_on.add(threading.get_ident())
        booking.set()
        assert release.wait(30), "never released"
        return process(batch)

    hub.authorizer.process = held
    device = make_device(hub, tmp_path)
    uid = make_card(hub, 1000)
    run = asyncio.create_task(hub.run(api=False))
    try:
        await asyncio.wait_for(hub.bridge.connected.wait(), 10)  # set on the bridge's loop
        await device.start()
        await device.wait_connected()
        device.tap(uid)
        assert await asyncio.to_thread(booking.wait, 10)
        async with api(hub) as client:  # on this loop, where uvicorn serves the API
            command = asyncio.create_task(send(client, device, k="config", set={"pulse_ms": 40}))
            r = await client.get("/api/v1/health")
            assert r.status_code == 200, r.text
            assert r.json()["mqtt_connected"] and r.json()["stats"].get("answered", 0) == 0
            assert not release.is_set() and not command.done()  # still booking
            release.set()
            await until(lambda: device.results)
            assert device.results[-1][1] == "grant"
            await wait_acked(client, device, await asyncio.wait_for(command, 10))
        assert booked_on and threading.get_ident() not in booked_on
    finally:
        release.set()
        await device.stop()
        hub.stop()
        await asyncio.wait_for(run, 10)  # the bridge has disconnected and its thread ended
    assert hub.authorizer._kept is None and not hub.bridge.connected.is_set()
