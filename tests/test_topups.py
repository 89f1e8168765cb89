"""Top-up bonus tiers, refunds and lost cards (seed 002), through the REST API."""

from __future__ import annotations

import pytest
from clients import api_client

from hub.api.app import create_app
from hub.ledger import Book
from hub.wallets.cards import get_card


@pytest.fixture
def api(engine):
    with api_client(create_app(engine)) as client:
        yield client
        for sums in client.get("/api/v1/ledgers").json().values():
            assert sums == {"posted": 0, "pending": 0}


def spend(engine, uid, amount):
    """What a tap or a till sale does to the wallet (wallet -> a machine)."""
    from hub.ledger import create_account

    with engine.begin() as conn:
        machine = create_account(conn, "CHF", "machine", "test machine", allow_negative=True)
        book = Book(conn)
        book.transfer(
            get_card(conn, uid).account_id, machine, amount, "sale", "test sale", key=f"spend/{uid}/{amount}"
        )
        book.flush()


def test_seed_002_five_percent_on_50_gives_52_50(api):
    assert api.put("/api/v1/topup-tiers", json=[{"min_amount": 5000, "percent": 5}]).status_code == 200
    api.post("/api/v1/cards", json={"uid": "A1A2A3A4"})
    r = api.post("/api/v1/cards/A1A2A3A4/topups", json={"amount": 5000}).json()
    assert (r["bonus"], r["balance"]) == (250, 5250)
    codes = sorted((e["code"], e["amount"]) for e in api.get("/api/v1/cards/A1A2A3A4/history").json())
    assert codes == [("topup", 5000), ("topup_bonus", 250)]


def test_the_highest_tier_reached_applies_and_below_the_first_there_is_none(api):
    api.put(
        "/api/v1/topup-tiers",
        json=[{"min_amount": 2000, "percent": "2.5"}, {"min_amount": 10000, "percent": 10}],
    )
    api.post("/api/v1/cards", json={"uid": "B1B2B3B4"})
    bonuses = [
        api.post("/api/v1/cards/B1B2B3B4/topups", json={"amount": a}).json()["bonus"]
        for a in (1999, 2000, 9999, 10000)
    ]
    assert bonuses == [0, 50, 249, 1000]  # 2.5 % of 99.99 = 2.49975, rounded down


def test_a_repeated_top_up_gives_its_bonus_once(api):
    api.put("/api/v1/topup-tiers", json=[{"min_amount": 0, "percent": 10}])
    api.post("/api/v1/cards", json={"uid": "C1C2C3C4"})
    headers = {"Idempotency-Key": "till-9-1"}
    first = api.post("/api/v1/cards/C1C2C3C4/topups", json={"amount": 1000}, headers=headers).json()
    again = api.post("/api/v1/cards/C1C2C3C4/topups", json={"amount": 1000}, headers=headers).json()
    assert (first["bonus"], again["bonus"], again["repeated"], again["balance"]) == (100, 100, True, 1100)


def test_bad_tiers_are_refused(api):
    assert api.put("/api/v1/topup-tiers", json=[{"min_amount": 100, "percent": -1}]).status_code == 422
    assert (
        api.put(
            "/api/v1/topup-tiers", json=[{"min_amount": 100, "percent": 5}, {"min_amount": 100, "percent": 6}]
        ).status_code
        == 422
    )
    assert api.get("/api/v1/topup-tiers").json() == []


def test_refund_pays_back_own_money_and_lets_the_bonus_lapse(api, engine):
    api.put("/api/v1/topup-tiers", json=[{"min_amount": 5000, "percent": 5}])
    api.post("/api/v1/cards", json={"uid": "D1D2D3D4"})
    api.post("/api/v1/cards/D1D2D3D4/topups", json={"amount": 5000})
    spend(engine, "D1D2D3D4", 1000)
    r = api.post("/api/v1/cards/D1D2D3D4/refund", headers={"Idempotency-Key": "r1"}).json()
    assert (r["refunded"], r["bonus_lapsed"], r["balance"]) == (4000, 250, 0)
    again = api.post("/api/v1/cards/D1D2D3D4/refund", headers={"Idempotency-Key": "r1"}).json()
    assert (again["refunded"], again["repeated"]) == (4000, True)


def test_refund_when_the_bonus_is_spent_too(api, engine):
    api.put("/api/v1/topup-tiers", json=[{"min_amount": 5000, "percent": 5}])
    api.post("/api/v1/cards", json={"uid": "E1E2E3E4"})
    api.post("/api/v1/cards/E1E2E3E4/topups", json={"amount": 5000})
    spend(engine, "E1E2E3E4", 5100)  # own money first, then 100 of the bonus
    r = api.post("/api/v1/cards/E1E2E3E4/refund").json()
    assert (r["refunded"], r["bonus_lapsed"]) == (0, 150)


def test_a_lost_card_is_blocked_and_its_balance_moves_to_the_new_one(api, engine):
    api.put("/api/v1/topup-tiers", json=[{"min_amount": 5000, "percent": 5}])
    api.post("/api/v1/cards", json={"uid": "F1F2F3F4", "label": "Ana"})
    api.post("/api/v1/cards/F1F2F3F4/topups", json={"amount": 5000})
    spend(engine, "F1F2F3F4", 1000)
    r = api.post("/api/v1/cards/F1F2F3F4/replace", json={"uid": "0F0F0F0F"})
    assert r.status_code == 201
    old, new = r.json()["old"], r.json()["new"]
    assert (old["status"], old["balance"]) == ("blocked", 0)
    assert (new["uid"], new["label"], new["balance"]) == ("0F0F0F0F", "Ana", 4250)
    assert len(api.get("/api/v1/cards/F1F2F3F4/history").json()) == 5  # nothing deleted
    # The moved bonus is still bonus: a refund of the new card keeps it apart.
    assert api.post("/api/v1/cards/0F0F0F0F/refund").json()["refunded"] == 4000
    assert api.post("/api/v1/cards/F1F2F3F4/replace", json={}).status_code == 409


def test_a_replacement_card_keeps_the_lost_cards_own_discounts(api):
    api.post("/api/v1/cards", json={"uid": "A5A5A5A5"})
    rates = [{"scope": "revenue_group", "target": "drinks", "percent": "15"}]
    assert api.put("/api/v1/cards/A5A5A5A5/discounts", json={"rates": rates}).status_code == 200
    assert api.post("/api/v1/cards/A5A5A5A5/replace", json={"uid": "5A5A5A5A"}).status_code == 201
    kept = api.get("/api/v1/cards/5A5A5A5A/discounts").json()
    assert [(r["scope"], r["target"], float(r["percent"])) for r in kept["rates"]] == [
        ("revenue_group", "drinks", 15.0)
    ]
