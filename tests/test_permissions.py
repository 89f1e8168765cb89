"""Every REST route against the permission table (hub/access/roles.py): anonymous callers get
401, each role 403 exactly where the table says, and nothing is booked by a refused request.
Generated from the OpenAPI document, so a new route without a permission fails here."""

from __future__ import annotations

import re

import pytest
from clients import api_client, make_key
from fastapi.testclient import TestClient

from hub.access.roles import PERMISSIONS, ROLES
from hub.api.app import create_app

V1 = "/api/v1"
OPEN = {("post", "/api/v1/auth/login"), ("get", "/api/v1/health")}
# Any caller who is logged in: who am I, log out.
ANY_CALLER = {("get", "/api/v1/auth/me"), ("post", "/api/v1/auth/logout")}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from hub.migrations import open_database

    engine = open_database(f"sqlite:///{tmp_path_factory.mktemp('perm') / 'hub.db'}")
    yield create_app(engine)
    engine.dispose()


def operations(app) -> list[tuple[str, str, list[str]]]:
    """(method, path, permissions) of every operation."""
    found = []
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            scopes = {s for requirement in op.get("security", []) for s in next(iter(requirement.values()))}
            found.append((method, path, sorted(scopes)))
    return found


def call(client: TestClient, method: str, path: str):
    """The operation with made-up path values and an empty body: enough to pass the
    permission check or be refused by it."""
    url = re.sub(
        r"\{[^}]+\}", lambda m: "1" if m.group(0).endswith("_id}") and "rule" in m.group(0) else "X1", path
    )
    body = {} if method in ("post", "put", "patch") else None
    return client.request(method.upper(), url, json=body, headers={"Idempotency-Key": "perm-test"})


def test_every_operation_but_login_and_health_names_one_permission_of_the_table(app):
    for method, path, scopes in operations(app):
        if (method, path) in OPEN:
            assert scopes == [], (method, path)
            continue
        op = app.openapi()["paths"][path][method]
        assert op.get("security"), f"{method} {path} has no security scheme"
        if (method, path) in ANY_CALLER:
            continue
        assert len(scopes) == 1 and scopes[0] in PERMISSIONS, (method, path, scopes)


def test_an_anonymous_caller_gets_401_on_every_operation_but_login_and_health(app):
    client = TestClient(app)
    for method, path, _ in operations(app):
        if (method, path) in OPEN:
            continue
        r = call(client, method, path)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers.get("www-authenticate") == "Bearer"


def test_a_wrong_key_gets_401(app):
    client = TestClient(app, headers={"X-API-Key": "tk_000000000000.not-a-secret"})
    assert client.get(f"{V1}/cards/ABCD1234").status_code == 401
    key = make_key(app.state.engine, "admin")
    key_id, secret = key.split(".")
    forged = f"{key_id}.{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"  # one character other
    assert TestClient(app, headers={"X-API-Key": forged}).get(f"{V1}/ledgers").status_code == 401


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_is_refused_exactly_where_the_table_says(app, role):
    client = api_client(app, role)
    held = ROLES[role]
    for method, path, scopes in operations(app):
        if (method, path) in OPEN | ANY_CALLER:
            continue
        r = call(client, method, path)
        if scopes[0] in held:
            assert r.status_code not in (401, 403), (role, method, path, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.status_code, r.text)
            assert scopes[0] in r.json()["detail"]


def test_a_key_holds_only_the_permissions_it_was_given(app):
    client = api_client(app, "manager", permissions=["cards.read"])
    assert client.get(f"{V1}/cards/ABCD1234").status_code == 404
    r = client.post(f"{V1}/cards", json={"uid": "ABCD1234"})
    assert r.status_code == 403 and "cards.write" in r.json()["detail"]


def test_a_refused_request_books_nothing(app):
    admin = api_client(app, "admin")
    admin.post(f"{V1}/cards", json={"uid": "AB000001"}).raise_for_status()
    auditor = api_client(app, "auditor")
    r = auditor.post(f"{V1}/cards/AB000001/topups", json={"amount": 5000})
    assert r.status_code == 403
    assert admin.get(f"{V1}/cards/AB000001").json()["balance"] == 0
    assert auditor.get(f"{V1}/cards/AB000001").json()["balance"] == 0


def test_the_openapi_document_shows_the_schemes_and_the_permission(app):
    doc = app.openapi()
    assert set(doc["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer", "APIKeyCookie"}
    topup = doc["paths"]["/api/v1/cards/{uid}/topups"]["post"]
    assert {"APIKeyHeader": ["money.topup"]} in topup["security"]
    assert "401" in topup["responses"] and "403" in topup["responses"]
