"""A replaced board or an erased flash (esptool erase_flash, as the technicians' guide has it)
through a real Mosquitto and the real hub, on SQLite and on PostgreSQL: the board keeps its
provisioning file and key but loses its boot counter, so it must never start its request ids
again where the old board started them. And the hub, whatever a board sends, never answers a
known request id carrying another request with the stored answer: a stored grant would move the
relay for a card with no money on it."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from test_end_to_end import PRICE, RawDevice, card, holds_of, make_card, make_device, until

from hub.tables.taps import DeviceRequestConflict
from protocol import messages, topics

CONFLICTS = DeviceRequestConflict.__table__


def conflicts(hub, device_id):
    with hub.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(select(CONFLICTS).where(CONFLICTS.c.device_id == device_id)).mappings()
        ]


async def test_an_erased_board_gets_no_free_vend_from_a_stored_grant(hub, tmp_path):
    device = make_device(hub, tmp_path)
    uid = make_card(hub, PRICE)  # enough for one vend
    await device.start()
    try:
        await device.wait_connected()
        device.tap(uid)
        await until(lambda: any(h["status"] == "posted" for h in holds_of(hub, device.id)))
        assert device.results[-1][1] == "grant" and device.pulses() == 1
        assert card(hub, uid)["balance"] == 0

        await device.power_cut()
        device.erase_flash()  # a new board with the old provisioning file, or erase_flash + fw flash
        await device.power_on()
        await device.wait_connected()
        device.tap(uid)
        await until(lambda: len(device.results) == 2)
        assert device.results[-1][1:3] == ("deny", messages.INSUFFICIENT_FUNDS)
        assert device.pulses() == 1, "the relay moved for a card with no money"
        assert len(holds_of(hub, device.id)) == 1
        assert card(hub, uid)["balance"] == 0
    finally:
        await device.stop()


async def test_a_known_request_id_with_another_request_is_refused_flagged_and_books_nothing(hub):
    rich, poor = make_card(hub, 1000), make_card(hub, 0)
    async with RawDevice(hub) as raw:
        await raw.send(topics.TAP, {"id": "1-1", "card": rich, "units": 1})
        [first] = await raw.replies(1)
        assert raw.open(first)["k"] == messages.GRANT

        # The same id again with another card (an erased board, counting from 1-1 again).
        await raw.send(topics.TAP, {"id": "1-1", "card": poor, "units": 1})
        [second] = await raw.replies(1)
        refusal = raw.open(second)
        assert (refusal["k"], refusal["re"], refusal["code"]) == (messages.ERROR, "1-1", messages.ID_REUSED)
        assert len(holds_of(hub, raw.id)) == 1
        assert card(hub, poor)["balance"] == 0 and card(hub, rich)["available"] == 1000 - PRICE
        [flag] = conflicts(hub, raw.id)
        assert (flag["request_id"], flag["kind"]) == ("1-1", topics.TAP)

        # A report under the tap's id is another request as well.
        await raw.send(topics.REPORT, {"id": "1-1", "hold": raw.open(first)["hold"], "delivered": 1})
        [third] = await raw.replies(1)
        assert raw.open(third)["code"] == messages.ID_REUSED
        assert len(conflicts(hub, raw.id)) == 2
        assert card(hub, rich)["held"] == PRICE  # the hold is still waiting for its real report

        # The very same request again (a QoS 1 redelivery, a retry) still gets its first answer.
        await raw.send(topics.TAP, {"id": "1-1", "card": rich, "units": 1})
        [again] = await raw.replies(1)
        assert again == first
        assert len(conflicts(hub, raw.id)) == 2


async def test_two_requests_under_one_id_in_one_batch_get_one_answer_each(hub):
    """Both arrive before the hub answers either: the first is booked, the second refused."""
    rich, other = make_card(hub, 1000), make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        rid = "%d-1" % (uuid.uuid4().int % 1000 + 1)
        topic, a = raw.frame(topics.TAP, {"id": rid, "card": rich, "units": 1})
        _topic, b = raw.frame(topics.TAP, {"id": rid, "card": other, "units": 1})
        await raw.client.publish(topic, a, qos=1)
        await raw.client.publish(topic, b, qos=1)
        replies = [raw.open(p) for p in await raw.replies(2)]
        assert sorted(r["k"] for r in replies) == [messages.ERROR, messages.GRANT]
        assert len(holds_of(hub, raw.id)) == 1
        assert card(hub, rich)["available"] + card(hub, other)["available"] == 2000 - PRICE
        assert len(conflicts(hub, raw.id)) == 1
