"""The basket's cache of outlets, counters, articles and bonus rules (hub.loyalty.cache): a change
is seen by the next basket — made in this hub process, or by another hub process on the same
PostgreSQL — and a basket that read the tables while a change was being committed does not keep
the old rows."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from clients import api_client

from hub.api.app import create_app
from hub.core.clock import utcnow
from hub.core.engine import reader
from hub.loyalty import cache, catalogue, outlets, points
from hub.wallets import cash_desk
from hub.wallets.cards import issue_card

V1 = "/api/v1"
CARD = "CACE0001"


def _park(engine) -> None:
    """A bar with two tills, a beer at 5.00, a card with 100.00, the bonus system on at the bar."""
    with engine.begin() as conn:
        outlets.create_site(conn, "park")
        outlets.create_outlet(conn, "CHF", "bar", "park")
        for till in ("till-1", "till-2"):
            outlets.create_counter(conn, "bar", till)
        catalogue.create_group(conn, "drinks")
        catalogue.create_article(conn, {"id": "beer", "price": 500, "product_group_id": "drinks"})
        issue_card(conn, "CHF", CARD)
        cash_desk.top_up(conn, CARD, 10_000, "cache-test/topup")
        points.set_settings(
            conn,
            {
                "hours_until_available": 0,
                "default_validity_days": None,
                "enabled_stores": ["bar"],
                "point_value": 0,
            },
        )


def _rule(api) -> int:
    """1 point per 1.00 at the tills."""
    rule = {
        "name": "1 per 1.00",
        "kind": "basket_value",
        "stores": ["bar"],
        "channels_in": ["till"],
        "amount_per_point": 100,
    }
    made = api.post(f"{V1}/bonus-rules", json=rule)
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _basket(till: str, article: str = "beer") -> dict:
    return {"card_uid": CARD, "outlet_id": "bar", "counter_id": till, "lines": [{"article_id": article}]}


def _quote(api, till: str, article: str = "beer"):
    return api.post(f"{V1}/baskets/quote", json=_basket(till, article))


def test_a_change_made_by_another_hub_process_is_seen_by_the_next_basket(pg_url, monkeypatch):
    from hub.migrations import open_database

    engine = open_database(pg_url)
    _park(engine)
    # every basket compares the cache with the tables (by default: at most every 0.5 s)
    monkeypatch.setattr(cache, "VERSION_CHECK_S", 0.0)
    try:
        with api_client(create_app(engine)) as api:
            rule = _rule(api)
            first = _quote(api, "till-1").json()
            assert (first["total"], first["points_earned"]) == (500, 5)
            other_hub = f"""
                from hub.core.engine import make_engine
                from hub.loyalty import outlets, points
                engine = make_engine({pg_url!r})
                with engine.begin() as conn:
                    outlets.set_counter_active(conn, "till-1", False)
                    points.set_active(conn, {rule}, False)
                    conn.exec_driver_sql("UPDATE articles SET price = 700 WHERE id = 'beer'")
            """
            subprocess.run([sys.executable, "-c", textwrap.dedent(other_hub)], check=True, timeout=60)

            now = _quote(api, "till-2").json()
            assert (now["total"], now["points_earned"]) == (700, 0)
            refused = _quote(api, "till-1")
            assert refused.status_code == 409 and "switched off" in refused.json()["detail"]
    finally:
        engine.dispose()


def test_a_change_made_in_this_hub_is_seen_at_once(engine, monkeypatch):
    _park(engine)
    # not by comparing versions: by the change's own statements
    monkeypatch.setattr(cache, "VERSION_CHECK_S", 3600.0)
    with api_client(create_app(engine)) as api:
        rule = _rule(api)
        assert _quote(api, "till-1").json()["points_earned"] == 5
        assert api.post(f"{V1}/counters/till-1/deactivate").status_code == 200
        assert api.post(f"{V1}/bonus-rules/{rule}/deactivate").status_code == 200
        r = api.post(f"{V1}/articles", json={"id": "wine", "price": 800, "product_group_id": "drinks"})
        assert r.status_code == 201, r.text

        assert _quote(api, "till-1").status_code == 409
        wine = _quote(api, "till-2", "wine").json()
        assert (wine["total"], wine["points_earned"]) == (800, 0)
        paid = api.post(f"{V1}/baskets/pay", json=_basket("till-2", "wine"))
        assert paid.status_code == 201 and paid.json()["amount_due"] == 800


def test_a_basket_reading_while_a_change_commits_does_not_keep_the_old_rows(engine):
    _park(engine)
    with reader(engine).connect() as conn:
        assert cache.static(conn).counters["till-1"]["active"]
    with engine.connect() as writer, writer.begin():
        outlets.set_counter_active(writer, "till-1", False)
        # a basket on another connection reads the tables before the change is committed
        with reader(engine).connect() as conn:
            assert cache.static(conn).counters["till-1"]["active"]
    with reader(engine).connect() as conn:
        assert not cache.static(conn).counters["till-1"]["active"]


def test_points_issued_account_made_by_a_basket_is_cached_once_committed(engine):
    _park(engine)
    with api_client(create_app(engine)) as api:
        _rule(api)
        for _ in range(2):
            paid = api.post(f"{V1}/baskets/pay", json=_basket("till-1"))
            assert paid.status_code == 201 and paid.json()["points_earned"] == 5
    with engine.connect() as conn:
        assert cache.static(conn).points_issued is not None
        assert points.summary(conn, CARD, utcnow())["balance"] == 10
