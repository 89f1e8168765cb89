"""What the REST routes need, as FastAPI dependencies (`Annotated[..., Depends(...)]`).

`create_app` puts the app's state on `app.state` (engine, the `Db`, currency, device directory,
MQTT bridge); the dependencies here hand it to the routes. Tests replace one with
`app.dependency_overrides`, e.g. the booking clock:

    app.dependency_overrides[booking_clock] = lambda: datetime(2025, 7, 16, 10, tzinfo=UTC)

The dependencies are `async def` although they do no I/O: FastAPI runs a plain `def`
dependency in the thread pool, and these only read `app.state`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from hub.access import audit, limits
from hub.access.callers import Caller
from hub.api.auth import client_address
from hub.core.clock import utcnow
from hub.core.engine import reader
from hub.core.errors import Forbidden
from hub.core.raw import Raw
from hub.devices.registry import DeviceDirectory
from hub.ledger import requests

T = TypeVar("T")


class Db:
    """The database work of a route: each call runs fn(conn, *args) in one transaction.

    `write` commits before it returns, so a route that returns has its booking durable
    before FastAPI builds the response (DESIGN 5: nothing is acknowledged before it is
    durable). `read` runs on a read-only connection (on SQLite no write lock is taken).

    Why an object with methods rather than a dependency that yields a transaction:

    - A `yield` dependency's exit code (where the commit would be) runs by default *after*
      the response is sent: FastAPI 0.118.0 moved it there, and since 0.121.0 the default
      scope of a dependency with yield is "request" — "end after the response is sent back
      to the client"; only `Depends(..., scope="function")` ends it after the path operation
      function and before the response is sent (FastAPI docs, "Dependencies with yield —
      Early exit and scope"; release notes 0.118.0 and 0.121.0; in 0.165
      `fastapi.routing.request_response` closes the function-scope exit stack before
      `await response(...)` and the request-scope one after it). A commit there could answer
      201 for a booking that then fails to commit.
    - Money routes retry once on a unique-key race (`retry=True`): a parallel request with
      the same Idempotency-Key commits first, ours fails with IntegrityError, and running fn
      again in a new transaction answers it as a repeat. A dependency that yields one
      transaction cannot run the route's work a second time; the route has to ask for it.
    - Reads and writes need different transactions (a write on SQLite is BEGIN IMMEDIATE and
      takes the write lock; a read must not), which the route knows and a shared
      dependency does not.
    - A sync route then costs one thread-pool hop; a sync generator dependency adds two
      more (its setup and its exit each run in the pool).

    With `write`, the commit is inside the route's own call, whatever the dependency scope.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._reader = reader(engine)
        # one-statement reads (a request's credentials): on PostgreSQL outside a transaction,
        # which spares the BEGIN and ROLLBACK round trips
        pg = engine.dialect.name == "postgresql"
        self._single = engine.execution_options(isolation_level="AUTOCOMMIT") if pg else self._reader
        # a unique key raced in: SQLAlchemy's error, or the driver's from statements run on it
        # directly (hub.core.raw, as the ledger books)
        self.integrity_errors = (IntegrityError, engine.dialect.loaded_dbapi.IntegrityError)

    def write(self, fn: Callable[..., T], *args: Any, retry: bool = False, **kw: Any) -> T:
        """fn(conn, *args, **kw) in one transaction, committed when this returns. With retry,
        an IntegrityError (a unique key that raced in from a parallel request) runs fn once
        more in a new transaction, where it finds the other request's booking."""
        try:
            return self._transaction(fn, args, kw)
        except IntegrityError:
            if not retry:
                raise
            return self._transaction(fn, args, kw)

    def write_keyed(
        self, prefix: str, key: str | None, request: Any, fn: Callable[[Connection, str], T]
    ) -> T:
        """A money write under the caller's Idempotency-Key `key` (a new random key without
        one): fn(conn, stored_key) in one transaction, retried once on a unique-key race.
        The key is stored in the route's namespace `prefix` (hub.ledger.requests.store_key)
        with a fingerprint of `request` (the path parameters and body): the same key with
        another request is a 409."""
        try:
            return self._transaction(keyed(prefix, key, request, fn), (), {})
        except self.integrity_errors:
            return self._transaction(keyed(prefix, key, request, fn, fresh=False), (), {})

    def read(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """fn(conn, *args, **kw) on a read-only connection; nothing is committed."""
        with self._reader.connect() as conn:
            return fn(conn, *args, **kw)

    def read_one(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(conn, *args) for a single statement that reads (no consistent view of several
        statements is needed): as `read`, but on PostgreSQL with no transaction around it."""
        with self._single.connect() as conn:
            return fn(conn, *args)

    def _transaction(self, fn: Callable[..., T], args: tuple, kw: dict) -> T:
        with self.engine.begin() as conn:
            return fn(conn, *args, **kw)


_FRESH = "tapgift.fresh_key"


def fresh_key(conn: Connection) -> str | None:
    """The key this transaction has just claimed as new (`keyed`): nothing can be booked under
    it yet, so the route may skip looking for an earlier booking; None otherwise."""
    return conn.info.get(_FRESH)


def keyed(
    prefix: str, key: str | None, request: Any, fn: Callable[[Connection, str], T], fresh: bool = True
) -> Callable[[Connection], T]:
    """fn(conn, stored_key) under the caller's Idempotency-Key, claimed with the request's
    fingerprint (a new random key without one). A key claimed new is `fresh_key(conn)` for
    fn — unless `fresh` is False: the run after a unique-key race, where the route looks for
    the earlier booking whatever the claim says (a booking under a key from before the keys
    were recorded has no claim)."""

    def run(conn: Connection) -> T:
        if key is None:
            stored = prefix + uuid.uuid4().hex
            conn.info[_FRESH] = stored if fresh else None
            return fn(conn, stored)
        stored = requests.store_key(conn, prefix, key)
        new = _claim(conn, stored, request)
        conn.info[_FRESH] = stored if new and fresh else None
        return fn(conn, stored)

    return run


_CLAIM = (
    "INSERT INTO request_keys (key, fingerprint, created_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO NOTHING RETURNING fingerprint"
)


def _claim(conn: Connection, key: str, request: Any) -> bool:
    """As hub.ledger.requests.claim, in one statement for a new key (True) rather than a read
    and then a write: the same request under a known key is False, another one a Conflict. A
    parallel request inserting the same key holds ours until it commits (then ours is the
    known key) or rolls back (then ours is new)."""
    raw = Raw(conn)
    digest = requests.fingerprint(request)
    if raw.rows(_CLAIM, (key, digest, raw.when(utcnow()))):
        return True
    requests.claim(conn, key, request)  # known: the same request, or a Conflict
    return False


@dataclass(frozen=True)
class Scope:
    """What a request acts for: an outlet, a counter (its outlet), a site, or every outlet of
    the coalition (settings and reports that are not one outlet's)."""

    outlet: str | None = None
    counter: str | None = None
    site: str | None = None
    device: str | None = None
    coalition: bool = False


def _check_scope(conn: Connection, caller: Caller | None, scope: Scope | None) -> None:
    if caller is None or scope is None or not caller.scoped:
        return
    if scope.coalition:
        raise Forbidden("this concerns every outlet: only a caller not bound to an outlet or site may")
    if scope.counter is not None:
        caller.check_counter(conn, scope.counter)
    if scope.outlet is not None:
        caller.check_outlet(conn, scope.outlet)
    if scope.site is not None:
        caller.check_site(conn, scope.site)
    if scope.device is not None:
        caller.check_device(conn, scope.device)


class AuditedDb:
    """A request's `Db`: each write also records who made it in the audit log
    (hub.access.audit), in the write's own transaction, and checks the caller's money limits
    there (hub.access.limits), so that a refused booking is rolled back with its entry.

    The caller is the one hub.api.auth found for this request; a write by a route without a
    caller (the login) is not recorded here."""

    def __init__(self, db: Db, request: Request, body: Any):
        """`body`: what the request asked, for the audit log — its data, or the raw JSON bytes
        (parsed only when a write is recorded)."""
        self.db = db
        self.engine = db.engine
        self._request = request
        self._body = body

    def read(self, fn: Callable[..., T], *args: Any, scope: Scope | None = None, **kw: Any) -> T:
        """As Db.read; `scope` names the outlet, counter or site the read is for: a caller
        bound to other outlets is refused (403)."""
        caller = self._caller()

        def scoped(conn: Connection, *a: Any, **k: Any) -> T:
            _check_scope(conn, caller, scope)
            return fn(conn, *a, **k)

        return self.db.read(scoped, *args, **kw)

    def write(
        self,
        fn: Callable[..., T],
        *args: Any,
        retry: bool = False,
        before: Callable[[Connection], Any] | None = None,
        scope: Scope | None = None,
        **kw: Any,
    ) -> T:
        """As Db.write; `before(conn)` reads what the change replaces, for the audit log;
        `scope` as for read, checked in the write's transaction."""
        caller = self._caller()
        if caller is None:
            return self.db.write(fn, *args, retry=retry, **kw)

        def audited(conn: Connection, *a: Any, **k: Any) -> T:
            _check_scope(conn, caller, scope)
            prior = before(conn) if before else None
            result = fn(conn, *a, **k)
            self._record(conn, caller, prior, result)
            return result

        return self.db.write(audited, *args, retry=retry, **kw)

    def write_keyed(
        self,
        prefix: str,
        key: str | None,
        request: Any,
        fn: Callable[[Connection, str], T],
        scope: Scope | None = None,
    ) -> T:
        """As Db.write_keyed, audited and scoped."""
        try:
            return self.write(keyed(prefix, key, request, fn), scope=scope)
        except self.db.integrity_errors:
            return self.write(keyed(prefix, key, request, fn, fresh=False), scope=scope)

    def _caller(self) -> Caller | None:
        return getattr(self._request.state, "caller", None)

    def _record(self, conn: Connection, caller: Any, prior: Any, result: Any) -> None:
        request = self._request
        route = request.scope.get("route")
        action = getattr(route, "name", request.url.path)
        now = utcnow()
        change = audit.Change(
            caller=caller,
            action=action,
            method=request.method,
            path=request.url.path,
            source=client_address(request),
            target=dict(request.path_params),
            request=_json_or_none(self._body),
            before=prior,
        )
        amount = audit.record(conn, change, _plain(result), now)
        limits.check_money(conn, caller, action, amount, request.app.state.ceilings, now)


def _json_or_none(raw: Any) -> Any:
    if not isinstance(raw, bytes):
        return raw
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _plain(result: Any) -> Any:
    """A route's result as JSON-like data (a pydantic model becomes its dict)."""
    dump = getattr(result, "model_dump", None)
    return dump(mode="json") if dump else result


class Bridge(Protocol):
    """What the API uses of the MQTT bridge (hub.mqtt.bridge.Bridge); the API never imports
    it. hub.devices.management publishes commands through it."""

    stats: Mapping[str, int]
    connected: asyncio.Event
    directory: DeviceDirectory


async def get_db(request: Request) -> AuditedDb:
    # The body as sent, for the audit log: read here (a sync route cannot await it; Starlette
    # keeps it for the route), parsed only if the route writes.
    raw = await request.body() if request.method not in ("GET", "HEAD") else b""
    return AuditedDb(request.app.state.db, request, raw)


async def get_engine(request: Request) -> Engine:
    """For work that opens its own transactions (device commands: store, then publish)."""
    return request.app.state.engine


async def get_currency(request: Request) -> str:
    """The ledger of the site's money (Settings.currency), e.g. "CHF"."""
    return request.app.state.currency


async def get_bridge(request: Request) -> Bridge | None:
    """None when the API runs without MQTT (tests, tools)."""
    return request.app.state.bridge


async def get_directory(request: Request) -> DeviceDirectory | None:
    """The bridge's cached device lookups, to drop after a device changes; None without one."""
    return request.app.state.directory


async def booking_clock() -> dt.datetime:
    """The time a booking is made at (lots' availability and expiry, rules' days, visits).
    Tests override it with app.dependency_overrides[booking_clock]."""
    return utcnow()


DbDep = Annotated[AuditedDb, Depends(get_db)]
EngineDep = Annotated[Engine, Depends(get_engine)]
Currency = Annotated[str, Depends(get_currency)]
BridgeDep = Annotated[Bridge | None, Depends(get_bridge)]
DirectoryDep = Annotated[DeviceDirectory | None, Depends(get_directory)]
Now = Annotated[dt.datetime, Depends(booking_clock)]


COALITION = Scope(coalition=True)
