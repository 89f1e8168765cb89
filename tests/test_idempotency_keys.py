"""Idempotency keys of the REST money writes (issue 10): a key the hub derives (`…/bonus`,
`…/post`, `…/gift/…`) is never one a caller can send, keys a database already holds keep their
meaning, and the same key with any other request is a 409 that says so."""

from __future__ import annotations

import datetime as dt

import pytest
from clients import api_client
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.api.deps import booking_clock
from hub.ledger import TRANSFERS
from hub.wallets import cash_desk

V1 = "/api/v1"
CARD = "C0FFEE01"
NOW = dt.datetime(2025, 7, 16, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def api(engine):
    app = create_app(engine)
    app.dependency_overrides[booking_clock] = lambda: NOW
    with api_client(app) as client:
        yield client
        for sums in client.get(f"{V1}/ledgers").json().values():
            assert sums == {"posted": 0, "pending": 0}


def ok(response, status=201):
    assert response.status_code == status, response.text
    return response.json()


def top_up(api, key, amount=1000, reason="", card=CARD):
    return api.post(
        f"{V1}/cards/{card}/topups",
        json={"amount": amount, "reason": reason},
        headers={"Idempotency-Key": key},
    )


@pytest.fixture
def card(api):
    ok(api.post(f"{V1}/cards", json={"uid": CARD}))
    ok(api.put(f"{V1}/topup-tiers", json=[{"min_amount": 0, "percent": 10}]), 200)
    return api


def test_a_key_ending_in_bonus_does_not_block_the_key_it_starts_with(card):
    first = ok(top_up(card, "K/bonus"))
    second = ok(top_up(card, "K"))  # was 500: UNIQUE constraint failed: transfers.idempotency_key
    assert (first["repeated"], second["repeated"]) == (False, False)
    assert second["balance"] == 2200


def test_a_key_ending_in_bonus_is_not_a_repeat_of_the_bonus_of_its_stem(card):
    ok(top_up(card, "K", amount=1000))
    # the bonus of K is 100: a top-up of 100 under "K/bonus" used to answer as its repeat
    again = ok(top_up(card, "K/bonus", amount=100))
    assert again["repeated"] is False
    assert again["balance"] == 1100 + 110


@pytest.mark.parametrize("suffix", ["post", "void", "pay", "redeem", "gift/1", "obligation", "refund/gifts"])
def test_no_caller_key_is_a_key_the_hub_derives(card, suffix):
    ok(top_up(card, "K"))
    ok(top_up(card, f"K/{suffix}"))
    ok(top_up(card, f"K/bonus/{suffix}"))
    assert card.get(f"{V1}/cards/{CARD}").json()["balance"] == 3300


def test_the_character_that_stands_for_a_slash_is_refused_in_a_key(card):
    assert top_up(card, "K|bonus").status_code == 422
    assert top_up(card, "").status_code == 422
    assert top_up(card, "x" * 101).status_code == 422


def test_a_key_with_a_slash_stored_before_keeps_meaning_its_request(card, engine):
    """A database from before stores `topup/till-1/42` as sent: its repeat is still that request."""
    with engine.begin() as conn:
        cash_desk.top_up(conn, CARD, 1000, "topup/till-1/42")
    again = ok(top_up(card, "till-1/42"))
    assert (again["repeated"], again["balance"]) == (True, 1100)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(TRANSFERS)).scalar() == 2


def test_the_same_key_with_another_reason_is_a_409(card):
    ok(top_up(card, "till-1/7", reason="cash"))
    assert ok(top_up(card, "till-1/7", reason="cash"))["repeated"] is True
    r = top_up(card, "till-1/7", reason="card payment")
    assert r.status_code == 409, r.text
    assert "different request" in r.json()["detail"]
    assert card.get(f"{V1}/cards/{CARD}").json()["balance"] == 1100


def test_the_same_key_on_another_card_or_amount_is_a_409(card):
    ok(card.post(f"{V1}/cards", json={"uid": "C0FFEE02"}))
    ok(top_up(card, "k1"))
    assert top_up(card, "k1", card="C0FFEE02").status_code == 409
    assert top_up(card, "k1", amount=999).status_code == 409


@pytest.fixture
def park(card):
    ok(card.post(f"{V1}/sites", json={"id": "park"}))
    for oid, kind in (("bar", "bar"), ("slide1", "slide"), ("slide2", "slide")):
        ok(card.post(f"{V1}/outlets", json={"id": oid, "site_id": "park", "kind": kind}))
    ok(card.post(f"{V1}/product-groups", json={"id": "drinks"}))
    ok(card.post(f"{V1}/articles", json={"id": "cola", "product_group_id": "drinks", "price": 450}))
    ok(card.put(f"{V1}/bonus-settings", json={"enabled_stores": ["bar"], "point_value": 10}), 200)
    ok(card.post(f"{V1}/gift-items", json={"id": "DRINK", "value": 300, "redeem_kinds": ["bar"]}))
    ok(top_up(card, "park", amount=10000))
    return card


@pytest.mark.parametrize(
    ("path", "first", "other"),
    [
        ("gifts/give", {"item_id": "DRINK", "units": 1, "outlet_id": "bar", "reason": "a"}, {"reason": "b"}),
        ("gifts/give", {"item_id": "DRINK", "units": 1, "outlet_id": "bar"}, {"units": 2}),
        ("activities", {"outlet_id": "slide1"}, {"outlet_id": "slide2"}),
        ("exit", {"site_id": "park"}, {"site_id": "elsewhere"}),
        ("points/purchase", {"outlet_id": "bar", "points": 10}, {"points": 11}),
    ],
)
def test_the_same_key_with_another_body_is_a_409_on_every_money_write(park, path, first, other):
    url, headers = f"{V1}/cards/{CARD}/{path}", {"Idempotency-Key": "till-1/9"}
    r1 = park.post(url, json=first, headers=headers)
    assert r1.status_code < 300, r1.text
    assert park.post(url, json=first, headers=headers).status_code == r1.status_code
    r = park.post(url, json={**first, **other}, headers=headers)
    assert r.status_code == 409, r.text
    assert "different request" in r.json()["detail"]


def test_a_basket_paid_again_under_its_key_with_other_lines_is_a_409(park):
    basket = {"card_uid": CARD, "outlet_id": "bar", "lines": [{"article_id": "cola", "quantity": 1}]}
    headers = {"Idempotency-Key": "till-1/basket-1"}
    ok(park.post(f"{V1}/baskets/pay", json=basket, headers=headers))
    other = {**basket, "lines": [{"article_id": "cola", "quantity": 2}]}
    r = park.post(f"{V1}/baskets/pay", json=other, headers=headers)
    assert r.status_code == 409, r.text


def test_a_key_with_a_colon_does_not_collide_with_the_points_of_another_basket(park):
    """Points earned by a basket are keyed `<basket key>:line:<line id>` and `<basket key>:basket`:
    basket `X` with a line `basket` and basket `X:line` earned under the same key."""
    ok(
        park.post(
            f"{V1}/bonus-rules",
            json={
                "name": "a",
                "kind": "article",
                "stores": ["bar"],
                "targets": [{"id": "cola", "points": 2}],
            },
        )
    )
    ok(
        park.post(
            f"{V1}/bonus-rules",
            json={"name": "v", "kind": "basket_value", "stores": ["bar"], "amount_per_point": 100},
        )
    )
    line = {"article_id": "cola", "quantity": 1}
    first = {"card_uid": CARD, "outlet_id": "bar", "lines": [{**line, "line_id": "basket"}]}
    second = {"card_uid": CARD, "outlet_id": "bar", "lines": [line]}
    a = ok(park.post(f"{V1}/baskets/pay", json=first, headers={"Idempotency-Key": "X"}))
    b = ok(park.post(f"{V1}/baskets/pay", json=second, headers={"Idempotency-Key": "X:line"}))
    assert (a["repeated"], b["repeated"]) == (False, False)
    assert a["points_earned"] == b["points_earned"] == 2 + 4


def test_a_baskets_line_ids_cannot_be_a_derived_suffix(park):
    """A voucher line's gift is keyed `…/gift/<line id>` and its obligation `…/gift/<line id>/obligation`:
    a line `a/obligation` was the obligation of line `a`."""
    basket = {"card_uid": CARD, "outlet_id": "bar"}
    for line_id in ("a/obligation", "x:basket", "a b", ""):
        body = {**basket, "lines": [{"article_id": "cola", "line_id": line_id}]}
        assert park.post(f"{V1}/baskets/quote", json=body).status_code == 422, line_id
    voucher = {
        **basket,
        "lines": [{"article_id": "cola"}],
        "vouchers": [{"line_id": "1/x", "item_id": "DRINK"}],
    }
    assert park.post(f"{V1}/baskets/quote", json=voucher).status_code == 422


def test_a_key_with_a_colon_stored_before_keeps_meaning_its_request(card, engine):
    with engine.begin() as conn:
        cash_desk.top_up(conn, CARD, 1000, "topup/till-1:42")
    again = ok(top_up(card, "till-1:42"))
    assert (again["repeated"], again["balance"]) == (True, 1100)


@pytest.mark.parametrize("device_id", ["topup", "basket", "gift-redeem", "Exit", "kiosk"])
def test_a_device_cannot_take_a_name_the_hub_keys_its_bookings_by(api, device_id):
    """A tap is keyed `<device id>/<request id>`: device `topup` tapping request 1-5 would book
    under `topup/1-5`, the key of a till's top-up with Idempotency-Key `1-5`."""
    r = api.post(f"{V1}/devices", json={"id": device_id, "site": "park", "unit_price": 100})
    assert r.status_code == 422, r.text
    assert "reserved" in r.json()["detail"]
    assert (
        api.post(f"{V1}/devices", json={"id": "topup-1", "site": "park", "unit_price": 100}).status_code
        == 201
    )
