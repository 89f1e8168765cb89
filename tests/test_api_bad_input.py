"""Bad input gets a clear 4xx, never a 500 or a silent acceptance (issue 10)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app

V1 = "/api/v1"


@pytest.fixture
def api(engine):
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
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
