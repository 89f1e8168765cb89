"""Eight tills paying baskets at one outlet at once on PostgreSQL: every basket is paid (no
deadlock on the outlet's revenue or the points issued, which every sale credits) and every ledger
sums to zero."""

from __future__ import annotations

import threading

from clients import api_client
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.ledger import ledger_totals
from hub.loyalty import catalogue, outlets, points
from hub.migrations import open_database
from hub.wallets import cash_desk
from hub.wallets.cards import issue_card

V1 = "/api/v1"
TILLS, BASKETS = 8, 6


def _bar(engine) -> None:
    """A bar selling a beer at 5.00, its bonus system on."""
    with engine.begin() as conn:
        outlets.create_site(conn, "park")
        outlets.create_outlet(conn, "CHF", "bar", "park")
        catalogue.create_group(conn, "drinks")
        catalogue.create_article(conn, {"id": "beer", "price": 500, "product_group_id": "drinks"})
        settings = {"hours_until_available": 0, "default_validity_days": None, "point_value": 0}
        points.set_settings(conn, {**settings, "enabled_stores": ["bar"]})


RULE = {
    "name": "1 per 1.00",
    "kind": "basket_value",
    "stores": ["bar"],
    "channels_in": ["till"],
    "amount_per_point": 100,
}


def test_eight_tills_pay_at_one_outlet_at_once_without_a_failure(pg_url):
    engine = open_database(pg_url)
    try:
        _bar(engine)
        cards = [f"CA5E{i:04d}" for i in range(TILLS)]
        with engine.begin() as conn:
            for uid in cards:
                issue_card(conn, "CHF", uid)
                cash_desk.top_up(conn, uid, 10_000, f"concurrent/{uid}")
        app = create_app(engine)
        with api_client(app) as admin:
            assert admin.post(f"{V1}/bonus-rules", json=RULE).status_code == 201
            key = admin.post(f"{V1}/api-keys", json={"name": "till", "role": "cashier", "outlet_id": "bar"})
            till_key = key.json()["key"]
        statuses: list[int] = []

        def till(uid: str) -> None:
            client = TestClient(app, headers={"X-API-Key": till_key})
            for i in range(BASKETS):
                body = {"card_uid": uid, "outlet_id": "bar", "lines": [{"article_id": "beer"}]}
                r = client.post(f"{V1}/baskets/pay", json=body, headers={"Idempotency-Key": f"{uid}-{i}"})
                statuses.append(r.status_code)

        threads = [threading.Thread(target=till, args=(uid,)) for uid in cards]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [201] * (TILLS * BASKETS)
        with engine.connect() as conn:
            for ledger, sums in ledger_totals(conn).items():
                assert sums == {"posted": 0, "pending": 0}, (ledger, sums)
    finally:
        engine.dispose()
