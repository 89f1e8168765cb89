"""Make tests/data/previous_release.{sqlite,postgresql}.sql: databases made by the release before
migrations (its hub.db.make_engine ran metadata.create_all), holding what a park's hub holds
after a day: sites, outlets, a catalogue, cards (one blocked), top-ups, a paid basket with bonus
points, a controller, a tap whose hold was posted and one still pending. tests/test_migrations.py
loads them and upgrades them with today's hub.

The artefacts come from that release's code, not today's: run this with a checkout of it first
on the path (commit 981226a, the parent of the reorganisation into layers):

    git worktree add /tmp/before 981226a
    PYTHONPATH=/tmp/before .venv/bin/python tests/data/make_previous_release.py

It needs PostgreSQL (TAPGIFT_TEST_PG, as the tests) and pg_dump. The output changes with every
run (times, keys, ids); regenerate only if the previous release's artefacts are lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
PG_ADMIN_URL = os.environ.get("TAPGIFT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
GEN_DB = "tapgift_previous_release"


def populate(url: str) -> dict:
    from fastapi.testclient import TestClient

    import hub
    from hub.api import create_app
    from hub.authorize import Authorizer, Incoming
    from hub.db import make_engine
    from hub.devices import DeviceDirectory
    from protocol import messages, topics

    if (Path(hub.__file__).parent / "migrations").exists():
        sys.exit(f"{hub.__file__} is today's hub: put the previous release first on PYTHONPATH")
    engine = make_engine(url)  # that release's schema: metadata.create_all

    def ok(response, status=201):
        assert response.status_code == status, response.text
        return response.json()

    v1 = "/api/v1"
    with TestClient(create_app(engine)) as api:
        ok(api.post(f"{v1}/sites", json={"id": "park", "name": "Aqua Park"}))
        ok(api.post(f"{v1}/outlets", json={"id": "bar", "site_id": "park", "kind": "bar"}))
        ok(api.post(f"{v1}/product-groups", json={"id": "drinks"}))
        ok(
            api.post(
                f"{v1}/articles",
                json={
                    "id": "beer",
                    "product_group_id": "drinks",
                    "revenue_group": "bar_drinks",
                    "price": 500,
                },
            )
        )
        ok(
            api.put(
                f"{v1}/bonus-settings",
                json={
                    "hours_until_available": 0,
                    "default_validity_days": None,
                    "enabled_stores": ["bar"],
                    "point_value": 10,
                },
            ),
            200,
        )
        ok(
            api.post(
                f"{v1}/bonus-rules",
                json={
                    "name": "beer points",
                    "kind": "article",
                    "stores": ["bar"],
                    "targets": [{"id": "beer", "points": 2}],
                },
            )
        )
        for uid, amount in (("04A1B2C3D4", 5000), ("AABBCCDD", 2000), ("11223344", 700)):
            ok(api.post(f"{v1}/cards", json={"uid": uid}))
            ok(
                api.post(
                    f"{v1}/cards/{uid}/topups",
                    json={"amount": amount},
                    headers={"Idempotency-Key": f"till-1/{uid}"},
                )
            )
        ok(api.post(f"{v1}/cards/11223344/block"), 200)
        ok(
            api.post(
                f"{v1}/baskets/pay",
                headers={"Idempotency-Key": "till-1/basket-1"},
                json={
                    "card_uid": "AABBCCDD",
                    "outlet_id": "bar",
                    "channel_in": "till",
                    "channel_out": "counter",
                    "lines": [{"article_id": "beer", "quantity": 2}],
                },
            )
        )
        ok(api.post(f"{v1}/devices", json={"id": "slide-3", "site": "park", "unit_price": 250}))

    device = DeviceDirectory(engine).get("park", "slide-3")
    authorizer = Authorizer(engine)

    def send(kind, body):
        [reply] = authorizer.process([Incoming(device, kind, body)])
        return messages.decode(topics.REPLY, reply)

    posted = send(topics.TAP, {"id": "1-1", "card": "04A1B2C3D4", "units": 1})
    assert send(topics.REPORT, {"id": "1-2", "hold": posted["hold"], "delivered": 1})["k"] == "ack"
    pending = send(topics.TAP, {"id": "1-3", "card": "04A1B2C3D4", "units": 2})
    assert pending["k"] == "grant", pending
    engine.dispose()
    return {"pending_hold": pending["hold"], "pending_request": "1-3"}


def dump_sqlite() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hub.db"
        facts = populate(f"sqlite:///{path}")
        conn = sqlite3.connect(path)
        text = "\n".join(conn.iterdump()) + "\n"
        conn.close()
    return _header("sqlite3's iterdump", facts) + text


def dump_postgresql() -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{GEN_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{GEN_DB}"')
    try:
        facts = populate(f"{base}/{GEN_DB}")
        out = subprocess.run(
            [
                "pg_dump",
                "--no-owner",
                "--no-privileges",
                "--no-comments",
                "--column-inserts",
                f"{base}/{GEN_DB}",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{GEN_DB}" WITH (FORCE)')
    # psql's meta-commands (\restrict, \unrestrict) mean nothing to a driver: the test runs the
    # script through psycopg.
    text = "\n".join(line for line in out.splitlines() if not line.startswith("\\")) + "\n"
    return _header("pg_dump --no-owner --no-privileges --no-comments --column-inserts", facts) + text


def _header(tool: str, facts: dict) -> str:
    return (
        f"-- A database made by tapgift's release before migrations (981226a), dumped by {tool}.\n"
        f"-- Made by tests/data/make_previous_release.py. Facts: {json.dumps(facts)}\n"
    )


if __name__ == "__main__":
    (HERE / "previous_release.sqlite.sql").write_text(dump_sqlite())
    (HERE / "previous_release.postgresql.sql").write_text(dump_postgresql())
