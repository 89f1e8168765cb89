"""A discount voucher as a credit on a past purchase (seed 001: "ein Rabatt, der sich auf den Wert
einer in der Vergangenheit erbrachten Leistung bezieht"), through POST /vouchers/credit-basket on
SQLite and PostgreSQL: 10 % of a basket paid yesterday credited to the card's wallet by the
issuer, once; refused twice, on another card's basket when not transferable, on a basket without
the articles it is limited to; two tills at the same instant — exactly one credit; a refund of the
basket takes the credit back."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from clients import api_client
from sqlalchemy import select
from test_vouchers import CARD, NOW, OTHER, V1, check_books, lines, make_app, ok

from hub.api.deps import booking_clock
from hub.ledger import ACCOUNTS

YESTERDAY = NOW - dt.timedelta(days=1)
# What does not depend on the database's locking is checked on SQLite alone.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def app(engine):
    app = make_app(engine)
    yield app
    check_books(engine)


@pytest.fixture
def api(app):
    """A park with a bar and a shop, drinks and snacks, two cards with 100.00 each."""
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    for outlet in ("bar", "shop"):
        ok(api.post(f"{V1}/outlets", json={"id": outlet, "site_id": "park"}), 201)
    for group in ("drinks", "snacks"):
        ok(api.post(f"{V1}/product-groups", json={"id": group}), 201)
    for aid, group, price in (("beer", "drinks", 500), ("chips", "snacks", 300), ("burger", "snacks", 900)):
        ok(api.post(f"{V1}/articles", json={"id": aid, "product_group_id": group, "price": price}), 201)
    for uid in (CARD, OTHER):
        ok(api.post(f"{V1}/cards", json={"uid": uid}), 201)
        ok(api.post(f"{V1}/cards/{uid}/topups", json={"amount": 10000}), 201)
    return api


def paid_yesterday(app, api, card=CARD, items=(("beer", 3), ("burger", 1)), outlet="bar", **extra):
    app.dependency_overrides[booking_clock] = lambda: YESTERDAY
    try:
        body = {"card_uid": card, "outlet_id": outlet, "lines": lines(*items), **extra}
        return ok(api.post(f"{V1}/baskets/pay", json=body), 201)
    finally:
        app.dependency_overrides[booking_clock] = lambda: NOW


def issue(api, **voucher):
    return ok(api.post(f"{V1}/vouchers", json={"kind": "discount", **voucher}), 201)


def credit(api, code, basket_id, status=201, **headers):
    body = {"code": code, "basket_id": basket_id}
    return ok(api.post(f"{V1}/vouchers/credit-basket", json=body, headers=headers), status)


def balance(api, uid=CARD):
    return ok(api.get(f"{V1}/cards/{uid}"))["balance"]


def issued_by(engine, outlet):
    with engine.connect() as conn:
        return conn.execute(
            select(ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted).where(
                ACCOUNTS.c.name == f"issued by {outlet}", ACCOUNTS.c.ledger == "CHF"
            )
        ).scalar()


def test_ten_percent_of_yesterdays_basket_is_credited_to_the_card_once(app, api, engine):
    basket = paid_yesterday(app, api)  # 3 beers 15.00 + a burger 9.00
    assert balance(api) == 10000 - 2400
    v = issue(api, percent="10", outlet_id="bar", card_uid=CARD)
    done = credit(api, v["code"], basket["id"], **{"Idempotency-Key": "desk-1"})
    assert (done["channel"], done["used"], done["value"], done["remaining"]) == ("credit", 1, 240, 0)
    assert (done["basket_id"], done["card_uid"], done["status"]) == (basket["id"], CARD, "redeemed")
    assert balance(api) == 10000 - 2400 + 240
    assert issued_by(engine, "bar") == -240  # the issuing outlet pays the discount

    seen = ok(api.get(f"{V1}/vouchers/{v['id']}"))
    [r] = seen["redemptions"]
    assert (seen["status"], r["channel"], r["basket_id"], r["value"]) == (
        "redeemed",
        "credit",
        basket["id"],
        240,
    )
    assert r["at"].startswith(NOW.date().isoformat())
    again = credit(api, v["code"], basket["id"], **{"Idempotency-Key": "desk-1"})
    assert again["repeated"] is True and balance(api) == 10000 - 2400 + 240
    twice = credit(api, v["code"], basket["id"], 409)
    assert "nothing is left of it" in twice["detail"]
    other = paid_yesterday(app, api, items=(("chips", 1),))
    assert "nothing is left of it" in credit(api, v["code"], other["id"], 409)["detail"]
    assert balance(api) == 10000 - 2400 - 300 + 240

    # The basket refunded: its money back, the credit taken back, the voucher usable again.
    refund = ok(api.post(f"{V1}/baskets/{basket['id']}/refund"))
    assert (refund["refunded"], refund["voucher_credit_taken_back"]) == (2400, 240)
    assert balance(api) == 10000 - 300 and issued_by(engine, "bar") == 0
    assert ok(api.get(f"{V1}/vouchers/{v['id']}"))["status"] == "issued"
    assert "is refunded" in credit(api, v["code"], basket["id"], 409)["detail"]


@sqlite_only
def test_limits_apply_to_the_baskets_lines_and_credits_never_pass_what_was_paid(app, api):
    snacks_only = paid_yesterday(app, api, items=(("beer", 2),))
    drinks = issue(api, percent="50", group_ids=["drinks"])
    snacks = issue(api, amount=5000, group_ids=["snacks"])
    refused = credit(api, snacks["code"], snacks_only["id"], 409)
    assert "limited to group snacks: no line of the basket" in refused["detail"]
    mixed = paid_yesterday(app, api)  # beers 15.00, burger 9.00
    assert credit(api, drinks["code"], mixed["id"])["value"] == 750  # half the beers only
    assert credit(api, snacks["code"], mixed["id"])["value"] == 900  # 50.00 off, the burger was 9.00
    whole = issue(api, amount=5000)  # the beers are half credited, the burger wholly
    assert credit(api, whole["code"], mixed["id"])["value"] == 750
    everything = issue(api, percent="10")
    assert "nothing of the basket is left" in credit(api, everything["code"], mixed["id"], 409)["detail"]
    assert balance(api) == 10000 - 1000 - 2400 + 2400
    assert ok(api.get(f"{V1}/vouchers/{everything['id']}"))["status"] == "issued"  # refused: unused


@sqlite_only
def test_a_non_transferable_voucher_is_credited_only_on_its_cards_baskets(app, api):
    mine = paid_yesterday(app, api, card=CARD)
    theirs = paid_yesterday(app, api, card=OTHER)
    v = issue(api, amount=500, transferable=False, card_uid=CARD)
    refused = credit(api, v["code"], theirs["id"], 409)
    assert "not transferable" in refused["detail"] and balance(api, OTHER) == 10000 - 2400
    assert credit(api, v["code"], mine["id"])["value"] == 500
    free = issue(api, amount=100, card_uid=CARD)  # transferable: the basket's card gets it
    assert credit(api, free["code"], theirs["id"])["card_uid"] == OTHER
    assert balance(api, OTHER) == 10000 - 2400 + 100


@sqlite_only
def test_wrong_vouchers_baskets_and_callers_are_refused_clearly(app, api):
    basket = paid_yesterday(app, api)
    money = ok(api.post(f"{V1}/vouchers", json={"kind": "money", "amount": 500}), 201)
    assert "only a discount" in credit(api, money["code"], basket["id"], 422)["detail"]
    later = issue(api, percent="10", valid_from=(NOW + dt.timedelta(days=1)).isoformat())
    assert "valid from" in credit(api, later["code"], basket["id"], 409)["detail"]
    online = issue(api, percent="10", online_only=True)
    assert "online only" in credit(api, online["code"], basket["id"], 409)["detail"]
    v = issue(api, percent="10", outlet_id="bar")
    credit(api, v["code"], "0" * 32, 404)
    credit(api, "TGV-R-1000-0-AAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAA", basket["id"], 422)
    assert api.post(f"{V1}/vouchers/credit-basket", json={"code": v["code"]}).status_code == 422
    with api_client(app, "cashier", outlet_id="shop") as shop:
        assert (
            shop.post(
                f"{V1}/vouchers/credit-basket", json={"code": v["code"], "basket_id": basket["id"]}
            ).status_code
            == 403
        )
    with api_client(app, "auditor") as auditor:
        assert (
            auditor.post(
                f"{V1}/vouchers/credit-basket", json={"code": v["code"], "basket_id": basket["id"]}
            ).status_code
            == 403
        )
    with api_client(app, "cashier", outlet_id="bar") as bar:
        assert credit(bar, v["code"], basket["id"])["value"] == 240
    assert balance(api) == 10000 - 2400 + 240


def race(tills, bodies) -> list:
    """Each till posts its body to /vouchers/credit-basket from its own thread, released at once."""
    barrier = threading.Barrier(len(tills))
    out: list = [None] * len(tills)

    def run(i: int) -> None:
        barrier.wait()
        out[i] = tills[i].post(f"{V1}/vouchers/credit-basket", json=bodies[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tills))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_two_tills_crediting_one_voucher_at_the_same_instant_credit_it_once(app, api):
    baskets = [paid_yesterday(app, api, card=c) for c in (CARD, OTHER)]
    tills = [api_client(app, "cashier", outlet_id="bar") for _ in range(2)]
    credited = 0
    for _ in range(3):
        v = issue(api, percent="10")
        out = race(tills, [{"code": v["code"], "basket_id": b["id"]} for b in baskets])
        assert sorted(r.status_code for r in out) == [201, 409], [r.text for r in out]
        assert len(ok(api.get(f"{V1}/vouchers/{v['id']}"))["redemptions"]) == 1
        credited += sum(r.json()["value"] for r in out if r.status_code == 201)
    # 10 % of what is left of a basket after its earlier credits: 2.40, then 2.16, …
    assert 3 * 216 <= credited <= 3 * 240
    assert balance(api, CARD) + balance(api, OTHER) == 2 * (10000 - 2400) + credited
