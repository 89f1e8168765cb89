"""A card's uid is read one way on every path (hub.wallets.cards.canonical_uid): a card issued in
lower case at a till is found by a device that reads it in upper case, and the other way round,
through a real Mosquitto and the real hub."""

from __future__ import annotations

import uuid

from clients import api_client
from fastapi.testclient import TestClient
from test_end_to_end import PRICE, RawDevice, card, make_device, until

from hub.api.app import create_app
from hub.wallets.cards import canonical_uid
from protocol import messages, topics

V1 = "/api/v1"


def test_the_canonical_uid_is_upper_case_and_keeps_a_digital_token():
    assert canonical_uid("04a1b2c3d4") == canonical_uid("04A1B2C3D4") == "04A1B2C3D4"
    token = "QR-" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    assert canonical_uid(token) == token  # made upper-case: nothing to change
    assert canonical_uid(token.lower()) == token  # base32: a scanner's lower case is the same token


def rest(hub) -> TestClient:
    return api_client(create_app(hub.engine))


def fresh_uid() -> str:
    return "04" + uuid.uuid4().hex[:8]  # lower case


async def tap(raw: RawDevice, request_id: str, uid: str) -> dict:
    await raw.send(topics.TAP, {"id": request_id, "card": uid, "units": 1})
    [reply] = await raw.replies(1)
    return raw.open(reply)


async def test_a_card_issued_in_lower_case_is_found_by_a_device_reading_upper_case(hub, tmp_path):
    uid = fresh_uid()
    with rest(hub) as api:
        assert api.post(f"{V1}/cards", json={"uid": uid}).json()["uid"] == uid.upper()
        assert api.post(f"{V1}/cards/{uid}/topups", json={"amount": 1000}).status_code == 201
    device = make_device(hub, tmp_path)  # the real firmware: its reader sends upper case
    await device.start()
    try:
        await device.wait_connected()  # a tap before that would be an offline one
        device.tap(uid.upper())
        await until(lambda: card(hub, uid)["held"] == 0 and card(hub, uid)["balance"] == 1000 - PRICE)
        assert [r[1] for r in device.results] == ["grant"]
    finally:
        await device.stop()
    async with RawDevice(hub) as raw:  # and a device sending it as it was issued
        grant = await tap(raw, "1-1", uid)
        assert (grant["k"], grant["balance"]) == (messages.GRANT, 1000 - 2 * PRICE)


async def test_a_card_issued_in_upper_case_is_found_by_a_device_sending_lower_case(hub):
    uid = fresh_uid().upper()
    with rest(hub) as api:
        api.post(f"{V1}/cards", json={"uid": uid})
        api.post(f"{V1}/cards/{uid.lower()}/topups", json={"amount": 1000})
    async with RawDevice(hub) as raw:
        grant = await tap(raw, "1-1", uid.lower())
        assert grant["k"] == messages.GRANT
        await raw.send(topics.REPORT, {"id": "1-2", "hold": grant["hold"], "delivered": 1})
        [ack] = await raw.replies(1)
        assert raw.open(ack)["posted"] == PRICE
        # A balance enquiry (a kiosk) and a block read it the same way.
        await raw.send(topics.TAP, {"id": "1-3", "card": uid.lower(), "units": 0})
        [enquiry] = await raw.replies(1)
        assert raw.open(enquiry)["balance"] == 1000 - PRICE
        with rest(hub) as api:
            assert api.post(f"{V1}/cards/{uid.lower()}/block").json()["status"] == "blocked"
        denied = await tap(raw, "1-4", uid.lower())
        assert (denied["k"], denied["code"]) == (messages.DENY, messages.BLOCKED_CARD)


async def test_a_digital_cards_token_scanned_in_lower_case_is_the_card(hub):
    with rest(hub) as api:
        token = api.post(f"{V1}/cards/digital", json={}).json()["uid"]
        api.post(f"{V1}/cards/{token.lower()}/topups", json={"amount": 500})
        assert api.get(f"{V1}/cards/{token.lower()}").json()["uid"] == token
    async with RawDevice(hub) as raw:
        grant = await tap(raw, "1-1", token.lower())
        assert (grant["k"], grant["balance"]) == (messages.GRANT, 500 - PRICE)
        await raw.send(topics.REPORT, {"id": "1-2", "hold": grant["hold"], "delivered": 0})
        await raw.replies(1)
    assert card(hub, token)["balance"] == 500


async def test_a_kiosk_top_up_and_an_offline_vend_in_lower_case_reach_the_card(hub):
    uid = fresh_uid()
    with rest(hub) as api:
        api.post(f"{V1}/cards", json={"uid": uid.upper()})
    async with RawDevice(hub, kind="kiosk") as kiosk:
        await kiosk.send(topics.TOPUP, {"id": "1-1", "ev": "1-1", "card": uid, "amount": 700})
        [ack] = await kiosk.replies(1)
        assert kiosk.open(ack)["balance"] == 700
    async with RawDevice(hub) as raw:
        await raw.send(topics.REPORT, {"id": "2-1", "off": "1-9", "card": uid, "delivered": 1})
        [ack] = await raw.replies(1)
        assert raw.open(ack)["posted"] == PRICE
    assert card(hub, uid)["balance"] == 700 - PRICE
