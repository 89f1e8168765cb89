"""Shared fixtures: a real Mosquitto per test session, SQLite files, PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest

from hil.broker import Broker

PG_ADMIN_URL = os.environ.get("TAPGIFT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def broker():
    with Broker() as b:
        yield b


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not reachable")
    name = "tapgift_test_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Every end-to-end test runs on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url):
    """A hub database (tables made) on the test's database."""
    from hub.migrations import open_database as make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def hub(db_url, broker):
    """A hub on the test's database, serving the session's broker (no HTTP server)."""
    import asyncio

    from sqlalchemy import select

    from hub.core.settings import Settings
    from hub.ledger import ACCOUNTS, ledger_totals
    from hub.service import Hub

    h = Hub(
        Settings(db=db_url, mqtt=broker.url, client_id="hub-" + uuid.uuid4().hex[:8], sweep_interval_s=0.2)
    )
    task = asyncio.create_task(h.bridge.run())
    await asyncio.wait_for(h.bridge.connected.wait(), 10)
    yield h
    task.cancel()
    # The invariant every test ends on: each ledger sums to zero, no wallet below zero
    # (a debit card's wallet: not below minus its credit limit).
    with h.engine.connect() as conn:
        for ledger, sums in ledger_totals(conn).items():
            assert sums == {"posted": 0, "pending": 0}, (ledger, sums)
        negative = conn.execute(
            select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.kind == "wallet",
                ACCOUNTS.c.credits_posted
                - ACCOUNTS.c.debits_posted
                - ACCOUNTS.c.debits_pending
                + ACCOUNTS.c.credit_limit
                < 0,
            )
        ).all()
        assert not negative
    h.engine.dispose()
