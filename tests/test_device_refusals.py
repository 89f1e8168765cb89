"""Refused MQTT messages are visible to operators: per device and reason, through the API,
from a real broker and hub (SQLite and PostgreSQL); a flood of made-up names stays bounded."""

from __future__ import annotations

import datetime as dt

from clients import api_client
from test_end_to_end import SITE, RawDevice, make_card, until

from hub.devices import refusals
from protocol import messages, topics
from protocol.signing import Signer


async def test_forged_and_malformed_messages_are_counted_per_device_and_reason(hub):
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        topic, forged = raw.frame(
            topics.TAP, {"id": "1-1", "card": uid, "units": 1}, signer=Signer("11" * 32)
        )
        for _ in range(3):
            await raw.client.publish(topic, forged, qos=1)
        await raw.client.publish(topic, b"not a tapgift frame", qos=1)
        await until(lambda: hub.bridge.stats["refused"] >= 4)
    await hub.bridge.flush_management()

    api = api_client(hub.app, "auditor")
    listed = api.get("/api/v1/device-refusals", params={"device_id": raw.id})
    assert listed.status_code == 200, listed.text
    counts = {r["reason"]: r["count"] for r in listed.json()}
    assert counts == {"bad_tag": 3, "bad_frame": 1}
    assert {r["site"] for r in listed.json()} == {topic.split("/")[1]}
    assert api_client(hub.app, "kiosk").get("/api/v1/device-refusals").status_code == 403


def test_a_flood_of_made_up_device_names_stays_bounded():
    tally = refusals.Tally()
    now = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    for i in range(refusals.MAX_KEYS * 3):
        tally.add("park", f"fake-{i}", "unknown_device", "", now)
    counts = tally.take()
    assert len(counts) == refusals.MAX_KEYS + 1
    assert counts[(refusals.UNKNOWN, refusals.UNKNOWN, "too_many_sources")].count == refusals.MAX_KEYS * 2
    assert tally.take() == {}


async def test_a_request_id_reused_for_another_request_is_listed_for_operators(hub):
    rich, poor = make_card(hub, 1000), make_card(hub, 0)
    async with RawDevice(hub) as raw:
        await raw.send(topics.TAP, {"id": "1-1", "card": rich, "units": 1})
        await raw.replies(1)
        await raw.send(topics.TAP, {"id": "1-1", "card": poor, "units": 1})  # an erased board
        [refused] = await raw.replies(1)
        assert raw.open(refused)["code"] == messages.ID_REUSED
    listed = (
        api_client(hub.app, "auditor").get("/api/v1/device-refusals", params={"device_id": raw.id}).json()
    )
    [reused] = [r for r in listed if r["reason"] == "id_reused"]
    assert reused["count"] == 1 and reused["site"] == SITE and "1-1" in reused["detail"]
    assert reused["first_at"] <= reused["last_at"]
