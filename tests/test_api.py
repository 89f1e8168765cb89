"""The REST API as a cash register uses it."""

from __future__ import annotations

from datetime import datetime

import pytest
from clients import api_client

from hub.api.app import create_app
from hub.core.clock import utcnow
from hub.devices import management


@pytest.fixture
def api(engine):
    with api_client(create_app(engine)) as client:
        yield client


def test_issue_top_up_and_read_a_card(api):
    assert api.post("/api/v1/cards", json={"uid": "04a1b2c3d4"}).status_code == 201
    r = api.post("/api/v1/cards/04A1B2C3D4/topups", json={"amount": 5000})
    assert r.status_code == 201
    card = api.get("/api/v1/cards/04a1b2c3d4").json()
    assert (card["uid"], card["balance"], card["available"]) == ("04A1B2C3D4", 5000, 5000)
    [entry] = api.get("/api/v1/cards/04A1B2C3D4/history").json()
    assert (entry["code"], entry["amount"]) == ("topup", 5000)
    assert api.get("/api/v1/ledgers").json() == {"CHF": {"posted": 0, "pending": 0}}


def test_a_retried_top_up_with_the_same_key_books_once(api):
    api.post("/api/v1/cards", json={"uid": "AABBCCDD"})
    headers = {"Idempotency-Key": "till-1-receipt-77"}
    first = api.post("/api/v1/cards/AABBCCDD/topups", json={"amount": 2000}, headers=headers)
    again = api.post("/api/v1/cards/AABBCCDD/topups", json={"amount": 2000}, headers=headers)
    assert first.json()["transfer"] == again.json()["transfer"]
    assert (first.json()["repeated"], again.json()["repeated"]) == (False, True)
    assert api.get("/api/v1/cards/AABBCCDD").json()["balance"] == 2000
    other = api.post("/api/v1/cards/AABBCCDD/topups", json={"amount": 999}, headers=headers)
    assert other.status_code == 409


@pytest.mark.parametrize(
    "body", [{"amount": 0}, {"amount": -5}, {"amount": 1.5}, {"amount": "10"}, {}, {"amount": 10**12}]
)
def test_bad_amounts_are_refused_clearly(api, body):
    api.post("/api/v1/cards", json={"uid": "0A0B0C0D"})
    r = api.post("/api/v1/cards/0A0B0C0D/topups", json=body)
    assert r.status_code == 422
    assert api.get("/api/v1/cards/0A0B0C0D").json()["balance"] == 0


def test_unknown_card_duplicate_card_and_bad_uid(api):
    assert api.get("/api/v1/cards/DEADBEEF").status_code == 404
    assert api.post("/api/v1/cards/DEADBEEF/topups", json={"amount": 100}).status_code == 404
    assert api.post("/api/v1/cards", json={"uid": "01020304"}).status_code == 201
    assert api.post("/api/v1/cards", json={"uid": "01020304"}).status_code == 409
    assert api.post("/api/v1/cards", json={"uid": "not-hex!"}).status_code == 422


def test_blocking_a_card_shows_in_its_status(api):
    api.post("/api/v1/cards", json={"uid": "11223344"})
    assert api.post("/api/v1/cards/11223344/block").json()["status"] == "blocked"
    assert api.post("/api/v1/cards/11223344/unblock").json()["status"] == "active"


def test_registering_a_device_returns_its_key_once(api):
    r = api.post("/api/v1/devices", json={"id": "slide-3", "site": "park", "unit_price": 250})
    assert r.status_code == 201 and len(r.json()["key"]) == 64
    assert (
        api.post("/api/v1/devices", json={"id": "slide-3", "site": "park", "unit_price": 250}).status_code
        == 409
    )
    [listed] = api.get("/api/v1/devices").json()
    assert listed["id"] == "slide-3" and "key" not in listed


def test_a_device_is_listed_with_the_online_state_a_hub_stored(api, engine):
    api.post("/api/v1/devices", json={"id": "slide-4", "site": "park", "unit_price": 250})
    [listed] = api.get("/api/v1/devices").json()
    assert (listed["state"], listed["state_changed_at"]) == (None, None)  # nothing heard yet
    heard = utcnow()
    # What a hub's manage loop stores of a status message it heard (any hub: the database's).
    management.store_reports(engine, {}, [], {"slide-4": (heard, "online", False)})
    [listed] = api.get("/api/v1/devices").json()
    assert listed["state"] == "online"
    assert datetime.fromisoformat(listed["state_changed_at"]) == heard


def test_openapi_documents_the_api(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/api/v1/cards", "/api/v1/cards/{uid}/topups", "/api/v1/devices"} <= set(paths)


def test_history_times_are_aware_utc(api):
    api.post("/api/v1/cards", json={"uid": "55667788"})
    api.post("/api/v1/cards/55667788/topups", json={"amount": 100})
    [entry] = api.get("/api/v1/cards/55667788/history").json()
    assert entry["at"].endswith(("Z", "+00:00")), entry["at"]


def test_the_card_routes_take_a_digital_cards_token(api):
    uid = api.post("/api/v1/cards/digital", json={}).json()["uid"]
    assert api.post(f"/api/v1/cards/{uid}/topups", json={"amount": 300}).status_code == 201
    assert api.get(f"/api/v1/cards/{uid}").json()["balance"] == 300
    assert api.post(f"/api/v1/cards/{uid}/block").json()["status"] == "blocked"
    assert [e["amount"] for e in api.get(f"/api/v1/cards/{uid}/history").json()] == [300]
    # Outside the protocol's card alphabet (protocol.messages.check_card) a uid is refused.
    assert api.get("/api/v1/cards/bad%20uid").status_code == 422
    assert api.get("/api/v1/cards/" + "A" * 65).status_code == 422
