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
from hub.devices.registry import DeviceDirectory
from hub.taps.authorize import Authorizer, Incoming
from protocol import messages, topics


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


class Slide:
    """A controller in process: its requests handed to the hub's authorizer as the bridge does
    (no broker), for tests that need machine taps in the ledger."""

    def __init__(self, engine, device_id: str = "slide-1", site: str = "park"):
        self.device = DeviceDirectory(engine).get(site, device_id)
        self.authorizer = Authorizer(engine)
        self.n = 0

    def send(self, kind: str, **body) -> dict:
        self.n += 1
        [reply] = self.authorizer.process([Incoming(self.device, kind, {"id": f"1-{self.n}", **body})])
        return messages.decode(topics.REPLY, reply)

    def ride(self, uid: str, units: int) -> dict:
        grant = self.send(topics.TAP, card=uid, units=units)
        assert grant["k"] == "grant", grant
        return self.send(topics.REPORT, hold=grant["hold"], delivered=units)
