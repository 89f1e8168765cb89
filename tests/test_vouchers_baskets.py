"""Vouchers as a means of payment inside POST /baskets/pay (seed 001), on SQLite and PostgreSQL: a
money voucher pays part of a basket and the card's wallet the rest, goods and discount vouchers
cover their lines, a refund gives the vouchers back what they paid, two baskets paying with one
voucher at the same instant — exactly one wins — and a quote books nothing."""

from __future__ import annotations

import threading

import pytest
from clients import api_client
from test_vouchers import CARD, OTHER, V1, check_books, lines, make_app, ok, revenue


@pytest.fixture
def app(engine):
    app = make_app(engine)
    yield app
    check_books(engine)


@pytest.fixture
def api(app):
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    ok(api.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park", "kind": "bar"}), 201)
    for group in ("drinks", "snacks"):
        ok(api.post(f"{V1}/product-groups", json={"id": group}), 201)
    for aid, group, price in (("beer", "drinks", 500), ("chips", "snacks", 300), ("burger", "snacks", 900)):
        ok(api.post(f"{V1}/articles", json={"id": aid, "product_group_id": group, "price": price}), 201)
    for uid in (CARD, OTHER):
        ok(api.post(f"{V1}/cards", json={"uid": uid}), 201)
        ok(api.post(f"{V1}/cards/{uid}/topups", json={"amount": 10000}), 201)
    return api


def issue(api, **voucher):
    return ok(api.post(f"{V1}/vouchers", json=voucher), 201)


def basket(card=CARD, codes=(), **extra):
    return {
        "card_uid": card,
        "outlet_id": "bar",
        "lines": lines(("beer", 3), ("burger", 1)),
        "voucher_codes": list(codes),
        **extra,
    }


def test_a_money_voucher_pays_part_of_a_basket_and_the_wallet_the_rest_and_a_refund_gives_it_back(
    api, engine
):
    v = issue(api, kind="money", amount=2000)
    quote = ok(api.post(f"{V1}/baskets/quote", json=basket(codes=[v["code"]])))
    assert (quote["total"], quote["voucher_codes_value"], quote["amount_due"]) == (2400, 2000, 400)
    assert ok(api.get(f"{V1}/vouchers/{v['id']}"))["remaining"] == 2000  # a quote books nothing

    paid = ok(api.post(f"{V1}/baskets/pay", json=basket(codes=[v["code"]])), 201)
    assert (paid["voucher_codes_value"], paid["amount_due"]) == (2000, 400)
    assert paid["coded_vouchers"][0]["remaining"] == 0
    assert ok(api.get(f"{V1}/cards/{CARD}"))["balance"] == 9600
    assert revenue(engine, "bar") == 2400
    seen = ok(api.get(f"{V1}/vouchers/{v['id']}"))
    assert seen["status"] == "redeemed" and seen["redemptions"][0]["caller"] == f"basket {paid['id']}"
    again = api.post(f"{V1}/baskets/pay", json=basket(codes=[v["code"]]))
    assert again.status_code == 409 and "nothing is left of it" in again.json()["detail"]

    refund = ok(api.post(f"{V1}/baskets/{paid['id']}/refund"))
    assert (refund["refunded"], refund["voucher_value_returned"]) == (400, 2000)
    seen = ok(api.get(f"{V1}/vouchers/{v['id']}"))
    assert seen["remaining"] == 2000 and seen["status"] == "issued"
    assert [r["used"] for r in seen["redemptions"]] == [2000, -2000]
    assert ok(api.get(f"{V1}/cards/{CARD}"))["balance"] == 10000 and revenue(engine, "bar") == 0


def test_goods_and_discount_vouchers_share_one_basket(api, engine):
    goods = issue(api, kind="goods", article_ids=["beer"], units=2)
    off = issue(api, kind="discount", percent="50", group_ids=["snacks"])
    money = issue(api, kind="money", amount=10000)
    paid = ok(
        api.post(f"{V1}/baskets/pay", json=basket(codes=[goods["code"], off["code"], money["code"]])), 201
    )
    values = [(c["kind"], c["used"], c["value"]) for c in paid["coded_vouchers"]]
    # two beers (10.00), half the burger (4.50), and the money voucher the last beer and the rest
    assert values == [("goods", 2, 1000), ("discount", 1, 450), ("money", 950, 950)]
    assert paid["amount_due"] == 0 and ok(api.get(f"{V1}/cards/{CARD}"))["balance"] == 10000
    assert revenue(engine, "bar") == 2400
    refund = ok(api.post(f"{V1}/baskets/{paid['id']}/refund"))
    assert refund["voucher_value_returned"] == 2400
    assert [ok(api.get(f"{V1}/vouchers/{v['id']}"))["remaining"] for v in (goods, off, money)] == [
        2,
        1,
        10000,
    ]
    assert revenue(engine, "bar") == 0


def test_a_basket_refuses_a_voucher_it_may_not_use(api):
    bound = issue(api, kind="money", amount=500, transferable=False, card_uid=CARD)
    online = issue(api, kind="money", amount=500, online_only=True)
    points = issue(api, kind="points", amount=5)
    snacks = issue(api, kind="goods", group_ids=["snacks"])
    for codes, card, status in (
        ([bound["code"]], OTHER, 409),
        ([online["code"]], CARD, 409),
        ([points["code"]], CARD, 422),
        ([bound["code"], bound["code"]], CARD, 422),
        (["TGV-M-500-0-AAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAA"], CARD, 422),
    ):
        r = api.post(f"{V1}/baskets/pay", json=basket(card=card, codes=codes))
        assert r.status_code == status, (codes, r.text)
    r = api.post(f"{V1}/baskets/pay", json={**basket(codes=[snacks["code"]]), "lines": lines(("beer", 1))})
    assert r.status_code == 409 and "limited to group snacks" in r.json()["detail"]
    assert (
        ok(api.post(f"{V1}/baskets/pay", json=basket(codes=[bound["code"]])), 201)["voucher_codes_value"]
        == 500
    )
    assert ok(api.post(f"{V1}/baskets/pay", json=basket(codes=[online["code"]], channel_in="webshop")), 201)
    balances = [ok(api.get(f"{V1}/cards/{uid}"))["balance"] for uid in (CARD, OTHER)]
    assert balances == [10000 - 2 * (2400 - 500), 10000]  # the refused baskets booked nothing


def race(requests: list[tuple]) -> list:
    """Send each (client, body) to /baskets/pay from its own thread, all released at once."""
    barrier = threading.Barrier(len(requests))
    out: list = [None] * len(requests)

    def pay(i: int, client, body: dict) -> None:
        barrier.wait()
        out[i] = client.post(f"{V1}/baskets/pay", json=body)

    threads = [threading.Thread(target=pay, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_two_baskets_paying_with_one_voucher_at_the_same_instant_exactly_one_wins(app, api, engine):
    tills = [api_client(app, "cashier", outlet_id="bar") for _ in range(2)]
    for _ in range(3):
        v = issue(api, kind="money", amount=2400)
        out = race(
            [
                (tills[0], basket(card=CARD, codes=[v["code"]])),
                (tills[1], basket(card=OTHER, codes=[v["code"]])),
            ]
        )
        assert sorted(r.status_code for r in out) == [201, 409], [r.text for r in out]
        seen = ok(api.get(f"{V1}/vouchers/{v['id']}"))
        assert seen["remaining"] == 0 and len(seen["redemptions"]) == 1
    assert revenue(engine, "bar") == 3 * 2400
    balances = [ok(api.get(f"{V1}/cards/{uid}"))["balance"] for uid in (CARD, OTHER)]
    assert balances == [10000, 10000]  # the vouchers paid every basket that went through


@pytest.mark.parametrize("include_redeemed", [True, False])
def test_what_a_voucher_pays_earns_no_basket_value_points_even_including_redeemed_value(
    api, include_redeemed
):
    """Seed 003: "Inklusive eingelöstem Warenwert" counts redeemed points, not vouchers."""
    settings = {
        "hours_until_available": 0,
        "default_validity_days": None,
        "enabled_stores": ["bar"],
        "point_value": 10,
    }
    ok(api.put(f"{V1}/bonus-settings", json=settings))
    rule = {"name": "1 per franc", "kind": "basket_value", "stores": ["bar"], "amount_per_point": 100}
    ok(api.post(f"{V1}/bonus-rules", json={**rule, "include_redeemed": include_redeemed}), 201)
    v = issue(api, kind="money", amount=1000)
    paid = ok(api.post(f"{V1}/baskets/pay", json=basket(codes=[v["code"]])), 201)
    # 24.00 in the basket, 10.00 of it paid by the voucher: points on 14.00
    assert (paid["total"], paid["voucher_codes_value"], paid["points_earned"]) == (2400, 1000, 14)
