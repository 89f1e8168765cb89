"""An API key revoked through one hub is refused by another hub on the same PostgreSQL from the
very next request (keys are read on every request, not cached)."""

from __future__ import annotations

from clients import api_client, make_key
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.migrations import open_database

V1 = "/api/v1"


def test_a_key_revoked_on_one_hub_is_refused_by_the_other_at_the_next_request(pg_url):
    one, other = open_database(pg_url), open_database(pg_url)
    try:
        till_key = make_key(one, "cashier")
        till = TestClient(create_app(other), headers={"X-API-Key": till_key})
        assert till.get(f"{V1}/cards/NOCARD").status_code == 404  # known key, unknown card
        with api_client(create_app(one)) as admin:
            revoked = admin.post(f"{V1}/api-keys/{till_key.split('.')[0]}/revoke")
            assert revoked.status_code == 200, revoked.text
        refused = till.get(f"{V1}/cards/NOCARD")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    finally:
        one.dispose()
        other.dispose()
