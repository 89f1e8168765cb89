"""The hub books its batches on one kept database connection (Authorizer keep_connection).
If the database drops that connection (a restart, an administrator ending the session),
the batch in hand is booked on a fresh one and nothing is lost or booked twice."""

from __future__ import annotations

import json

import psycopg
from sqlalchemy import select

from hub.devices.registry import DeviceDirectory, add_device
from hub.ledger import ACCOUNTS, ledger_totals
from hub.migrations import open_database
from hub.taps.authorize import Authorizer, Incoming
from hub.wallets import cards as wallets
from hub.wallets.cash_desk import top_up
from protocol import topics

SITE, PRICE, UID = "kept-park", 250, "CA4D77"


def _balance(engine) -> int:
    with engine.connect() as conn:
        row = conn.execute(
            select(ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted - ACCOUNTS.c.debits_pending).where(
                ACCOUNTS.c.name == f"card {UID}"
            )
        ).one()
    return row[0]


def _tap(authorizer, device, request_id) -> dict:
    (reply,) = authorizer.process([Incoming(device, topics.TAP, {"id": request_id, "card": UID, "units": 1})])
    return json.loads(reply)


def test_a_batch_after_the_database_dropped_the_kept_connection_is_booked_once(pg_url):
    engine = open_database(pg_url)
    try:
        with engine.begin() as conn:
            add_device(conn, "kept-1", SITE, PRICE, "CHF")
            wallets.issue_card(conn, "CHF", UID)
            top_up(conn, UID, 10 * PRICE, f"kept/{UID}")
        device = DeviceDirectory(engine).get(SITE, "kept-1")
        authorizer = Authorizer(engine, keep_connection=True)
        assert _tap(authorizer, device, "1-1")["k"] == "grant"
        backend = authorizer._kept.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(pg_url, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (backend,)).fetchone()[0]

        second = _tap(authorizer, device, "1-2")
        assert second["k"] == "grant"
        assert authorizer._kept.connection.dbapi_connection.info.backend_pid != backend
        # The repeat of a request answered before the drop gets its stored answer.
        assert _tap(authorizer, device, "1-1")["re"] == "1-1"
        assert _balance(engine) == 8 * PRICE
        with engine.connect() as conn:
            assert all(t == {"posted": 0, "pending": 0} for t in ledger_totals(conn).values())
        authorizer.close()
    finally:
        engine.dispose()
