"""The REST API's own machinery (hub/api): a write is committed before its response starts
(DESIGN 5), domain errors map to HTTP in one place, anything else is a 500, a unique-key race
is retried once."""

from __future__ import annotations

import asyncio
import json

import pytest
from clients import make_key
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from hub.api.app import create_app
from hub.api.deps import Db
from hub.core.engine import reader
from hub.core.errors import (
    Conflict,
    DomainError,
    GiftError,
    InsufficientFunds,
    Invalid,
    NotFound,
    PointsError,
)
from hub.wallets import cards
from protocol import ProtocolError


async def call(app, method: str, path: str, body: dict, on_start, headers=()) -> list[dict]:
    """One raw ASGI request; on_start() runs when the response starts, before any of it is sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("test", 1),
        "server": ("test", 80),
    }
    data = json.dumps(body).encode()
    sent = []

    async def receive():
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            on_start()
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_a_top_up_is_committed_before_its_response_starts(engine):
    with engine.begin() as conn:
        cards.issue_card(conn, "CHF", "A1A2A3A4")
    seen = []

    def look():  # another connection sees only what is committed (a reader: no write lock)
        with reader(engine).connect() as conn:
            seen.append(cards.card_view(conn, "A1A2A3A4")["balance"])

    key = make_key(engine).encode()
    headers = [(b"x-api-key", key), (b"idempotency-key", b"k1")]
    sent = asyncio.run(
        call(create_app(engine), "POST", "/api/v1/cards/A1A2A3A4/topups", {"amount": 5000}, look, headers)
    )
    assert sent[0]["status"] == 201
    assert seen == [5000]


@pytest.mark.parametrize(
    "error, status",
    [
        (NotFound("no card X"), 404),
        (Conflict("card X is blocked"), 409),
        (Invalid("bad tz"), 422),
        (InsufficientFunds("too little"), 409),
        (PointsError("too few points"), 409),
        (GiftError("no such gift"), 409),
        (DomainError("refused"), 400),
        (ProtocolError("bad_field", "pulse_ms"), 422),
    ],
)
def test_domain_and_protocol_errors_answer_their_status_with_the_message(error, status):
    app = create_app(create_engine("sqlite://"))

    @app.get("/boom")
    def boom():
        raise error

    r = TestClient(app).get("/boom")
    assert (r.status_code, r.json()) == (status, {"detail": str(error)})


def test_a_library_value_error_is_a_500_that_keeps_its_message_to_itself():
    app = create_app(create_engine("sqlite://"))

    @app.get("/boom")
    def boom():
        raise ValueError("invalid literal for int() with base 10: 'internal'")

    r = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert r.status_code == 500
    assert "internal" not in r.text


def test_a_write_retries_once_after_a_unique_key_race():
    db = Db(create_engine("sqlite://"))
    calls = []

    def book(conn, key):
        calls.append(key)
        if len(calls) == 1:  # a parallel request committed the same key first
            raise IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))
        return {"key": key, "repeated": True}

    assert db.write(book, "k", retry=True) == {"key": "k", "repeated": True}
    assert calls == ["k", "k"]
    calls.clear()
    with pytest.raises(IntegrityError):
        db.write(book, "k")
    assert calls == ["k"]


def test_every_operation_of_the_previous_release_is_still_served(tmp_path):
    """The layers moved every route: a till integrated against 0.1.0 finds each operation and
    each status code the document listed then (tests/data/openapi_0.1.0.txt)."""
    from pathlib import Path

    from hub.migrations import open_database

    engine = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    paths = create_app(engine).openapi()["paths"]
    engine.dispose()
    golden = Path(__file__).parent / "data" / "openapi_0.1.0.txt"
    missing = []
    for line in golden.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        method, path, *codes = line.split()
        operation = paths.get(path, {}).get(method.lower())
        if operation is None or not set(codes) <= set(operation["responses"]):
            missing.append(line)
    assert missing == []
