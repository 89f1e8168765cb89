"""Bad input gets a clear 4xx, never a 500 or a silent acceptance (issue 10)."""

from __future__ import annotations

import pytest
from clients import api_client

from hub.api.app import create_app

V1 = "/api/v1"


@pytest.fixture
def api(engine):
    with api_client(create_app(engine), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/cards", '{"uid": NaN}', "NaN"),
        ("/cards/AAAA1111/topups", '{"amount": Infinity}', "Infinity"),
        ("/cards/AAAA1111/topups", '{"amount": NaN}', "NaN"),
        ("/devices", '{"id": "slide-1", "site": "park", "unit_price": -Infinity}', "-Infinity"),
    ],
)
def test_nan_and_infinity_in_a_body_are_a_422(api, path, body, field):
    r = api.post(V1 + path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["input"] == field


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/bonus-rules/{}"),
        ("post", "/bonus-rules/{}/activate"),
        ("post", "/bonus-rules/{}/deactivate"),
        ("get", "/gift-rules/{}"),
        ("post", "/gift-rules/{}/activate"),
        ("post", "/gift-rules/{}/deactivate"),
    ],
)
def test_row_ids_beyond_the_database_are_refused(api, method, path):
    for rule_id in (2**31, 2**63, 2**64 + 1, 10**30):
        r = getattr(api, method)(V1 + path.format(rule_id))
        assert r.status_code in (404, 422), r.text
    assert getattr(api, method)(V1 + path.format(2**31 - 1)).status_code == 404


def test_every_operation_documents_its_refusals_as_they_are_answered(api):
    """400/404/409 carry {"detail": message}; 422 a message (the domain's Invalid) or FastAPI's
    list of validation issues."""
    doc = api.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["Message"]["properties"]["detail"]["type"] == "string"
    detail = schemas["InvalidRequest"]["properties"]["detail"]["anyOf"]
    assert {"type": "string"} in detail and any(d.get("type") == "array" for d in detail)
    for path, operations in doc["paths"].items():
        if not path.startswith(V1):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("400", "404", "409", "422"):
                assert status in responses, (method, path, status)
            ref = responses["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/InvalidRequest"), (method, path)


@pytest.mark.parametrize("report", ["/gift-settlement", "/gift-activities"])
@pytest.mark.parametrize("value", ["0.5", "0", "1700000000", "2025-01-01T00:00:00", "2025-01-01", "tomorrow"])
def test_report_times_are_iso_8601_with_a_zone(api, report, value):
    for name in ("since", "until"):
        r = api.get(V1 + report, params={name: value})
        assert r.status_code == 422, (name, value, r.text)
    assert api.get(V1 + report, params={"until": "2025-01-01T00:00:00Z"}).status_code == 200
    assert api.get(V1 + report, params={"since": "2025-01-01T00:00:00+02:00"}).status_code == 200


def test_flags_and_days_are_strict(api):
    assert api.post(f"{V1}/sites", json={"id": "park"}).status_code == 201
    assert api.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park"}).status_code == 201
    assert api.post(f"{V1}/gift-items", json={"id": "DRINK", "value": 300}).status_code == 201
    rule = {"name": "r", "site_id": "park", "activities": 3, "item_id": "DRINK"}
    for flag in ({"repeat": 0}, {"repeat": 1}, {"repeat": "yes"}, {"active": 0}):
        assert api.post(f"{V1}/gift-rules", json={**rule, **flag}).status_code == 422, flag
    assert api.post(f"{V1}/gift-rules", json={**rule, "repeat": True}).status_code == 201
    for days in ([0], [20250716], ["16.07.2025"], ["2025-07-16T00:00:00Z"]):
        assert api.put(f"{V1}/outlets/bar/holidays", json=days).status_code == 422, days
    assert api.put(f"{V1}/outlets/bar/holidays", json=["2025-07-16"]).json() == ["2025-07-16"]


def test_a_bonus_rules_validity_is_an_iso_date_time_with_a_zone(api):
    rule = {"name": "r", "kind": "registration", "points": 5}
    for bound in (0, 1.5, "1700000000", "2025-07-01T00:00:00", "2025-07-01"):
        for name in ("valid_from", "valid_to"):
            r = api.post(f"{V1}/bonus-rules", json={**rule, name: bound})
            assert r.status_code == 422, (name, bound, r.text)
    r = api.post(f"{V1}/bonus-rules", json={**rule, "valid_from": "2025-07-01T00:00:00+02:00"})
    assert r.status_code == 201, r.text
    assert api.get(f"{V1}/bonus-rules/{r.json()['id']}").json()["valid_from"].startswith("2025-06-30T22:00")
    assert api.post(f"{V1}/bonus-rules", json={**rule, "expiry_date": 0}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/bonus-settings", {"default_validity_days": 2**63}),
        ("put", "/bonus-settings", {"hours_until_available": 2**63}),
        ("post", "/bonus-rules", {"name": "r", "kind": "registration", "points": 2**63}),
        ("post", "/bonus-rules", {"name": "r", "kind": "registration", "expiry_days": 2**63}),
        ("post", "/bonus-rules", {"name": "r", "kind": "registration", "weekdays": [2**63]}),
        ("post", "/gift-items", {"id": "DRINK", "value": 300, "points_price": 2**63}),
        ("post", "/gift-items", {"id": "DRINK", "value": 300, "points_level": 2**63}),
    ],
)
def test_numbers_beyond_what_is_stored_are_a_422(api, method, path, body):
    r = getattr(api, method)(V1 + path, json=body)
    assert r.status_code == 422, r.text
