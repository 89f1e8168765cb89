"""PostgreSQL's pool pings a connection only when it has been idle (hub.core.engine): a
connection the server dropped while idle is replaced before use; one used moments ago is not
pinged, and if the server dropped it, only the first statement on it fails."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from hub.core import engine as engines


def _pings(engine) -> list[int]:
    count = [0]
    ping = engine.dialect.do_ping

    def counted(dbapi_conn):
        count[0] += 1
        return ping(dbapi_conn)

    engine.dialect.do_ping = counted
    return count


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_used_moments_ago_is_not_pinged(pg_url):
    engine = engines.make_engine(pg_url)
    try:
        pings = _pings(engine)
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert pings[0] == 0
    finally:
        engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced(pg_url, monkeypatch):
    engine = engines.make_engine(pg_url)
    try:
        pings = _pings(engine)
        _terminate(pg_url, _backend(engine))
        monkeypatch.setattr(engines, "PING_IDLE_S", 0.0)  # every pooled connection counts as idle
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert pings[0] >= 1
    finally:
        engine.dispose()


def test_a_busy_connection_the_server_dropped_fails_once(pg_url):
    engine = engines.make_engine(pg_url)
    try:
        _terminate(pg_url, _backend(engine))
        with pytest.raises(OperationalError) as failed, engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert failed.value.connection_invalidated
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
