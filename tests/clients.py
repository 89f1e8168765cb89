"""REST clients for tests: an API key of a role (made in the database, as `tapgift key add`
does) on a TestClient that sends an Idempotency-Key with every POST that lacks one, as a
careful till does."""

from __future__ import annotations

import subprocess
import sys
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.access import keys
from hub.access.callers import SYSTEM
from hub.core.clock import utcnow


def make_key(engine, role: str = "admin", **scope) -> str:
    with engine.begin() as conn:
        made = keys.create_key(conn, SYSTEM, name=f"test {role}", role=role, now=utcnow(), **scope)
    return made["key"]


class KeyedClient(TestClient):
    def request(self, method, url, **kw):
        if method.upper() == "POST":
            headers = dict(kw.pop("headers", None) or {})
            if not any(h.lower() == "idempotency-key" for h in headers):
                headers["Idempotency-Key"] = uuid.uuid4().hex
            kw["headers"] = headers
        return super().request(method, url, **kw)


def api_client(app: FastAPI, role: str = "admin", **kw) -> TestClient:
    """A client with a new key of `role` (scope: site_id=, outlet_id=, permissions=)."""
    scope = {k: kw.pop(k) for k in ("site_id", "outlet_id", "permissions", "rate_per_minute") if k in kw}
    key = make_key(app.state.engine, role, **scope)
    return KeyedClient(app, headers={"X-API-Key": key}, **kw)


def cli_api_key(db) -> str:
    """An admin key made by `tapgift key add` in a running hub's database, as an operator
    makes one."""
    made = subprocess.run(
        [sys.executable, "-m", "hil.cli", "key", "add", "--name", "sim", "--role", "admin", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()
