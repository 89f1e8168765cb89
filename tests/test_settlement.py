"""The coalition's money settled by period (seed 004, hub.settlement), on SQLite and PostgreSQL:
three outlets with a hand-computed answer through the REST API (top-ups at two outlets, baskets
and a machine's taps at three, a gift given at one and redeemed at another), closing the period,
and corrections booked after the close landing in the next period. The allocation of a card's
money and the netting to the fewest payments are checked on their own, the netting with
hypothesis."""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
from clients import Slide, api_client
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from hil import bench_settlement
from hub.api.app import create_app
from hub.core.clock import utcnow
from hub.ledger import TRANSFERS, Book
from hub.ledger import book as ledger_book
from hub.loyalty import outlets
from hub.migrations import open_database
from hub.settlement import close, record_cash
from hub.settlement.allocation import NODE, Allocation
from hub.settlement.netting import fewest_payments
from hub.wallets import cards as card_service
from hub.wallets.cash_desk import top_up
from protocol import topics

V1 = "/api/v1"
A, B, C = "bar", "shop", "slide"  # C's takings are a machine's: the slide's controller
X, Y = "5E771E01", "5E771E02"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def app(engine):
    return create_app(engine)


@pytest.fixture
def api(app):
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    for outlet in (A, B, C):
        ok(api.post(f"{V1}/outlets", json={"id": outlet, "site_id": "park", "kind": outlet}), 201)
    ok(api.post(f"{V1}/product-groups", json={"id": "food"}), 201)
    for article, price in (("beer", 500), ("burger", 900), ("ride", 300)):
        ok(api.post(f"{V1}/articles", json={"id": article, "product_group_id": "food", "price": price}), 201)
    ok(api.post(f"{V1}/devices", json={"id": "slide-1", "site": "park", "unit_price": 300}), 201)
    ok(api.put(f"{V1}/devices/slide-1/loyalty", json={"outlet_id": C, "article_id": "ride"}))
    ok(api.post(f"{V1}/gift-items", json={"id": "DRINK", "value": 400}), 201)
    for uid in (X, Y):
        ok(api.post(f"{V1}/cards", json={"uid": uid}), 201)
    return api


def till(app, outlet):
    return api_client(app, "cashier", outlet_id=outlet)


def pay(api, uid, outlet, *lines):
    basket = {
        "card_uid": uid,
        "outlet_id": outlet,
        "lines": [{"article_id": a, "quantity": q} for a, q in lines],
    }
    return ok(api.post(f"{V1}/baskets/pay", json=basket), 201)


def by_outlet(statement):
    return {o["outlet_id"]: o for o in statement["outlets"]}


def figures(statement, *names):
    return {
        o["outlet_id"]: tuple(o[n] if n == "net" else o[n]["amount"] for n in names)
        for o in statement["outlets"]
    }


def report(api, since, until):
    return ok(api.get(f"{V1}/settlement", params={"from": since.isoformat(), "to": until.isoformat()}))


def test_three_outlets_settle_as_computed_by_hand_and_corrections_land_in_the_next_period(
    app, api, engine, monkeypatch
):
    start = utcnow()
    ok(till(app, A).post(f"{V1}/cards/{X}/topups", json={"amount": 5000}), 201)  # A takes 50.00
    ok(till(app, B).post(f"{V1}/cards/{Y}/topups", json={"amount": 3000}), 201)  # B takes 30.00
    at_b = pay(api, X, B, ("beer", 2))  # X spends 10.00 of A's money at B: A owes B 1000
    pay(api, X, A, ("burger", 1))  # 9.00 at A: A's own
    slide = Slide(engine)
    assert slide.ride(Y, 2)["posted"] == 600  # B's money at C: B owes C 600
    assert slide.ride(X, 1)["posted"] == 300  # A's money at C: A owes C 300
    pay(api, Y, A, ("beer", 1))  # B's money at A: B owes A 500
    ok(api.post(f"{V1}/cards/{X}/gifts/give", json={"item_id": "DRINK", "outlet_id": A}), 201)
    ok(api.post(f"{V1}/cards/{X}/gifts/redeem", json={"item_id": "DRINK", "outlet_id": C}))
    end = utcnow()

    live = report(api, start, end)
    names = ("cash_in", "from_cards", "gifts_given", "gifts_redeemed", "net")
    # A: owes B 1000, C 300, the node 400 (the gift); B owes it 500.  B: owed 1000, owes C 600, A 500.
    # C: owed 600 + 300 by B and A, 400 by the node.  The node: owed 400 by A, owes C 400.
    assert figures(live, *names) == {
        A: (5000, 900 + 500, 400, 0, 500 - 1700),
        B: (3000, 1000, 0, 0, 1000 - 1100),
        C: (0, 900, 0, 400, 1300),
        NODE: (0, 0, 0, 0, 0),
    }
    assert live["payments"] == [{"from": A, "to": C, "amount": 1200}, {"from": B, "to": C, "amount": 100}]
    assert live["period"] is None and live["corrections"] == []
    a = by_outlet(live)[A]
    assert a["gifts_redeemed_elsewhere"]["amount"] == 400  # the guard: A's gift, handed over at C
    assert by_outlet(live)[C]["gifts_redeemed_elsewhere"]["amount"] == 0
    assert {o["to"]: o["amount"] for o in a["owes"]} == {B: 1000, C: 300, NODE: 400}
    assert len(a["cash_in"]["transfers"]) == 1 and len(a["from_cards"]["transfers"]) == 2
    owed_b = next(o for o in a["owes"] if o["to"] == B)
    assert owed_b["transfers"] == [sale_transfer(engine, at_b["id"])]

    closed = ok(api.post(f"{V1}/settlement/periods", json=span(start, end)), 201)
    assert closed["period"]["id"] >= 1 and closed["outlets"] == live["outlets"]
    assert closed["payments"] == live["payments"]
    period_id = closed["period"]["id"]
    [audited] = ok(api.get(f"{V1}/audit", params={"action": "close_period"}))
    assert audited["after"]["nets"] == {A: -1200, B: -100, C: 1300, NODE: 0}

    # After the close: X's basket at B is refunded (B gives the 1000 back: it owes A again) by a
    # booking whose transfer carries a time inside the closed period (one that committed after the
    # close had read the ledger, or a clock behind); an offline vend X made on the slide before the
    # close is replayed late (A owes C 300); A's till pays Y back what is left of the money B took
    # (B owes A 1900).
    inside = start + (end - start) / 2
    monkeypatch.setattr(ledger_book, "utcnow", lambda: inside)
    ok(api.post(f"{V1}/baskets/{at_b['id']}/refund"))
    monkeypatch.undo()
    ago = int((utcnow() - start).total_seconds())
    assert slide.send(topics.REPORT, off="9-1", card=X, delivered=1, ago=ago)["posted"] == 300
    assert ok(till(app, A).post(f"{V1}/cards/{Y}/refund"))["refunded"] == 3000 - 600 - 500
    later = utcnow()

    stored = ok(api.get(f"{V1}/settlement/periods/{period_id}"))
    assert stored == closed
    assert report(api, start, end)["outlets"] == closed["outlets"]  # the closed period is frozen
    after = report(api, end, later)
    expected = {A: (-1900, 0, 1000 - 300 + 1900), B: (0, -1000, -1000 - 1900), C: (0, 300, 300)}
    assert figures(after, "cash_in", "from_cards", "net") == expected
    assert after["payments"] == [{"from": B, "to": A, "amount": 2600}, {"from": B, "to": C, "amount": 300}]
    [refund] = after["corrections"]  # booked at a time of the closed period, settled in this one
    assert refund in by_outlet(after)[B]["from_cards"]["transfers"]

    # Closing the next period takes the correction along; the first stays as it was.
    closed_next = ok(api.post(f"{V1}/settlement/periods", json=span(end, later)), 201)
    assert figures(closed_next, "cash_in", "from_cards", "net") == expected
    assert closed_next["corrections"] == [refund]
    assert ok(api.get(f"{V1}/settlement/periods/{period_id}")) == closed
    assert figures(report(api, start, later), "net") == {
        A: (-1200 + 2600,),
        B: (-100 - 2900,),
        C: (1300 + 300,),
        NODE: (0,),
    }

    listed = ok(api.get(f"{V1}/settlement/periods"))
    assert [(p["id"], p["closed_by"].split()[0]) for p in listed] == [
        (period_id, "key"),
        (closed_next["period"]["id"], "key"),
    ]
    text = api.get(f"{V1}/settlement/periods/{period_id}/csv")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    assert f"payment,{A},pays,{C},1200," in text.text and f"outlet,{A},net,,-1200," in text.text


def span(since, until):
    return {"from": since.isoformat(), "to": until.isoformat()}


def sale_transfer(engine, basket_id):
    with engine.connect() as conn:
        return conn.execute(
            select(TRANSFERS.c.id).where(
                TRANSFERS.c.reason == f"basket {basket_id} at {B}", TRANSFERS.c.code == "sale"
            )
        ).scalar_one()


@pytest.fixture
def lite(tmp_path):
    """A hub on SQLite with one outlet: who may close and what is refused does not depend on the
    database."""
    engine = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    app = create_app(engine)
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    ok(api.post(f"{V1}/outlets", json={"id": A, "site_id": "park"}), 201)
    yield app, api
    engine.dispose()


def test_closing_is_for_an_admin_of_the_whole_coalition_and_refuses_bad_periods(lite):
    app, api = lite
    now = utcnow()
    hours = {
        "from": (now - dt.timedelta(hours=2)).isoformat(),
        "to": (now - dt.timedelta(hours=1)).isoformat(),
    }
    manager = api_client(app, "manager", outlet_id=A)
    assert manager.post(f"{V1}/settlement/periods", json=hours).status_code == 403
    assert manager.get(f"{V1}/settlement", params=hours).status_code == 403
    assert till(app, A).get(f"{V1}/settlement", params=hours).status_code == 403
    assert api_client(app, "auditor").post(f"{V1}/settlement/periods", json=hours).status_code == 403

    backwards = {"from": hours["to"], "to": hours["from"]}
    assert api.get(f"{V1}/settlement", params=backwards).status_code == 422
    assert api.post(f"{V1}/settlement/periods", json=backwards).status_code == 422
    future = {"from": hours["from"], "to": (now + dt.timedelta(days=1)).isoformat()}
    assert "not ended" in api.post(f"{V1}/settlement/periods", json=future).json()["detail"]
    huge = {"from": "0001-01-01T00:00:00+00:00", "to": "9999-12-31T23:59:59+00:00"}
    assert api.get(f"{V1}/settlement", params=huge).status_code == 422
    assert api.get(f"{V1}/settlement", params={"from": "yesterday", "to": hours["to"]}).status_code == 422

    ok(api.post(f"{V1}/settlement/periods", json=hours), 201)
    overlap = {"from": (now - dt.timedelta(minutes=90)).isoformat(), "to": now.isoformat()}
    refused = api.post(f"{V1}/settlement/periods", json=overlap)
    assert refused.status_code == 409 and "overlaps" in refused.json()["detail"]
    assert api.get(f"{V1}/settlement/periods/99").status_code == 404
    [audit] = ok(api.get(f"{V1}/audit", params={"action": "close_period"}))
    assert audit["after"]["nets"] == {} and audit["after"]["period"]["closed_by"].startswith("key ")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the three-outlet test covers both
def test_a_top_up_bonus_is_not_cash_and_a_kiosks_cash_is_its_outlets(app, api, engine):
    ok(api.put(f"{V1}/topup-tiers", json=[{"min_amount": 1000, "percent": "10"}]))
    ok(
        api.post(f"{V1}/devices", json={"id": "kiosk-1", "site": "park", "unit_price": 1, "kind": "kiosk"}),
        201,
    )
    ok(api.put(f"{V1}/devices/kiosk-1/loyalty", json={"outlet_id": B, "article_id": "ride"}))
    start = utcnow()
    assert ok(till(app, A).post(f"{V1}/cards/{X}/topups", json={"amount": 5000}), 201)["bonus"] == 500
    kiosk = Slide(engine, "kiosk-1")
    assert kiosk.send(topics.TOPUP, ev="7-1", card=Y, amount=2000)["bonus"] == 200  # B's cash box
    pay(api, X, B, ("beer", 11))  # A's 5000, then the 500 bonus A granted: the node pays B
    pay(api, Y, A, ("beer", 1))  # 500 of the cash B took
    live = report(api, start, utcnow())
    names = ("cash_in", "bonus_given", "bonus_redeemed_elsewhere", "net")
    assert figures(live, *names) == {
        A: (5000, 500, 500, -5000 - 500 + 500),
        B: (2000, 200, 0, 5000 + 500 - 200 - 500),
        NODE: (0, 0, 0, 500 + 200 - 500),
    }
    assert live["payments"] == [{"from": A, "to": B, "amount": 4800}, {"from": A, "to": NODE, "amount": 200}]


def test_a_top_up_is_the_cash_of_the_till_or_outlet_it_names_else_of_the_callers_outlet(lite):
    app, api = lite
    ok(api.post(f"{V1}/outlets", json={"id": B, "site_id": "park"}), 201)
    ok(api.post(f"{V1}/outlets/{B}/counters", json={"id": "b-1"}), 201)
    for uid in (X, Y):
        ok(api.post(f"{V1}/cards", json={"uid": uid}), 201)
    start = utcnow()
    ok(api.post(f"{V1}/cards/{X}/topups", json={"amount": 1000, "counter_id": "b-1"}), 201)
    ok(api.post(f"{V1}/cards/{X}/topups", json={"amount": 2000, "outlet_id": B}), 201)
    ok(till(app, A).post(f"{V1}/cards/{Y}/topups", json={"amount": 4000}), 201)
    ok(api.post(f"{V1}/cards/{Y}/topups", json={"amount": 8000}), 201)  # the node's own cash desk
    assert ok(till(app, A).post(f"{V1}/cards/{X}/refund"))["refunded"] == 3000  # A pays out B's cash
    assert api.post(f"{V1}/cards/{X}/topups", json={"amount": 1, "counter_id": "nowhere"}).status_code == 404
    live = report(api, start, utcnow())
    assert figures(live, "cash_in", "net") == {A: (4000 - 3000, 3000), B: (3000, -3000), NODE: (8000, 0)}
    assert len(by_outlet(live)[B]["cash_in"]["transfers"]) == 2


# -- the allocation of a card's money, without a database -------------------------------------------


def nets(allocation):
    out = {}
    for f in allocation.flows:
        out[f.payer] = out.get(f.payer, 0) - f.amount
        out[f.payee] = out.get(f.payee, 0) + f.amount
    return {k: v for k, v in out.items() if v}


def test_a_bonus_is_not_cash_the_granting_outlet_pays_the_node_which_pays_where_it_is_spent():
    alloc = Allocation()
    alloc.cash_in("t1", 1, A, 10000)
    alloc.bonus_in("t2", 1, A, 1000)  # A owes the node 1000
    alloc.spend("t3", 1, B, 10500)  # 10000 of A's cash, then 500 of the bonus: the node pays B
    assert nets(alloc) == {A: -10000 - 1000, B: 10500, NODE: 1000 - 500}
    assert [(f.party, f.name, f.amount) for f in alloc.figures if f.name.startswith("bonus")] == [
        (A, "bonus_given", 1000),
        (A, "bonus_redeemed_elsewhere", 500),
    ]


def test_money_is_spent_first_in_first_out_and_a_refund_undoes_the_latest_spend_there():
    alloc = Allocation()
    alloc.cash_in("t1", 1, A, 300)
    alloc.cash_in("t2", 1, B, 300)
    alloc.spend("t3", 1, C, 400)  # A's 300, then 100 of B's
    assert nets(alloc) == {A: -300, B: -100, C: 400}
    alloc.unspend("t4", 1, C, 150)  # B's 100 back, then 50 of A's
    assert nets(alloc) == {A: -250, C: 250}
    alloc.cash_out("t5", 1, B, 350)  # B pays back the rest: A's 50 first, then B's own 300
    assert nets(alloc) == {A: -300, B: 50, C: 250}


def test_a_debit_card_spends_first_and_whoever_takes_its_cash_owes_the_outlets_it_paid():
    alloc = Allocation()
    alloc.spend("t1", 1, B, 700)
    assert nets(alloc) == {}
    alloc.cash_in("t2", 1, A, 1000)
    assert nets(alloc) == {A: -700, B: 700}


# -- netting ----------------------------------------------------------------------------------------


@given(st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=12))
def test_netting_needs_at_most_one_payment_fewer_than_parties_and_meets_every_net(amounts):
    amounts.append(-sum(amounts))
    wanted = {f"o{i}": a for i, a in enumerate(amounts)}
    payments = fewest_payments(wanted)
    assert len(payments) <= max(0, sum(1 for a in amounts if a) - 1)
    got = dict.fromkeys(wanted, 0)
    for p in payments:
        assert p["amount"] > 0 and wanted[p["from"]] < 0 < wanted[p["to"]]
        got[p["from"]] -= p["amount"]
        got[p["to"]] += p["amount"]
    assert got == wanted


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["cash_in", "bonus_in", "spend", "unspend", "cash_out", "lapse", "move"]),
        st.sampled_from([1, 2]),
        st.sampled_from([A, B, C, NODE]),
        st.integers(1, 1000),
    ),
    max_size=40,
)


@given(EVENTS)
@example(
    [
        ("cash_in", 1, A, 100),
        ("bonus_in", 1, A, 50),
        ("spend", 1, B, 120),
        ("cash_in", 1, B, 100),
        ("lapse", 1, A, 50),
    ]
)
def test_a_wallets_lots_less_its_debts_are_always_its_balance_and_every_flow_has_a_payee(events):
    alloc, balance, bonus = Allocation(), {1: 0, 2: 0}, {1: 0, 2: 0}
    for n, (kind, wallet, party, amount) in enumerate(events):
        tid = f"t{n}"
        if kind == "cash_in":
            alloc.cash_in(tid, wallet, party, amount)
        elif kind == "bonus_in":
            alloc.bonus_in(tid, wallet, party, amount)
            bonus[wallet] += amount
        elif kind == "spend":
            alloc.spend(tid, wallet, party, amount)
            amount = -amount
        elif kind == "unspend":
            alloc.unspend(tid, wallet, party, amount)
        elif kind == "cash_out":
            amount = min(amount, max(0, balance[wallet] - bonus[wallet]))  # only own money is paid back
            if amount:
                alloc.cash_out(tid, wallet, party, amount)
            amount = -amount
        elif kind == "lapse":
            amount = min(amount, bonus[wallet], max(0, balance[wallet]))
            if amount:
                alloc.lapse(tid, wallet, amount)
            bonus[wallet] -= amount
            amount = -amount
        else:
            other = 3 - wallet
            alloc.move(tid, wallet, other, amount, bonus=False)
            balance[other] += amount
            amount = -amount
        balance[wallet] += amount
        for w in (1, 2):
            state = alloc.wallets.get(w)
            lots = sum(lot.amount for q in state.lots.values() for lot in q) if state else 0
            debts = sum(d[1] for d in state.debts) if state else 0
            assert lots - debts == balance[w], (w, events[: n + 1])
    assert all(f.amount > 0 and f.payer != f.payee for f in alloc.flows)


def test_a_close_while_tills_book_counts_every_sale_in_exactly_one_period(pg_url):
    """On PostgreSQL a sale may commit after a close read the ledger, with a time inside the
    closed period: it lands in the next period, never in none or in both."""
    engine = open_database(pg_url)
    try:
        with engine.begin() as conn:
            outlets.create_site(conn, "park")
            shop = outlets.create_outlet(conn, "CHF", B, "park")["revenue_account_id"]
            wallets = []
            for n in range(4):
                uid = f"5E7700{n:02X}"
                wallets.append(card_service.issue_card(conn, "CHF", uid) and card_service.get_card(conn, uid))
                top_up(conn, uid, 1_000_000, f"settle-race/top/{n}")
                record_cash(conn, f"settle-race/top/{n}", B)
        start, stop, sold = utcnow(), threading.Event(), []

        def till(card):
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    with engine.begin() as conn:
                        book = Book(conn)
                        book.transfer(card.account_id, shop, 7, "sale", "race", f"settle-race/{card.uid}/{n}")
                        book.flush()
                        time.sleep(0.002)  # the transfer's time is taken, its commit comes later
                except (DBAPIError, psycopg.Error):  # a till retries what the database refused
                    continue
                sold.append(7)

        threads = [threading.Thread(target=till, args=(card,)) for card in wallets]
        for t in threads:
            t.start()
        time.sleep(0.3)
        with engine.begin() as conn:
            first = close(conn, "CHF", start, utcnow(), utcnow(), "test")
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        end = utcnow()
        with engine.begin() as conn:
            second = close(conn, "CHF", dt.datetime.fromisoformat(first["until"]), end, utcnow(), "test")
        taken = [by_outlet(s)[B]["from_cards"]["amount"] for s in (first, second)]
        assert sum(taken) == sum(sold) and all(taken)
        ids = [set(by_outlet(s)[B]["from_cards"]["transfers"]) for s in (first, second)]
        assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == len(sold)
    finally:
        engine.dispose()


def test_the_settlement_benchmark_prints_its_figures():
    summary = bench_settlement.run("sqlite", cards=20, spends=3, n_outlets=3)
    assert summary["transfers_day1"] == 80 and summary["payments_day1"] <= 2
    for figure in ("statement_day1_seconds", "close_day1_seconds", "statement_day2_seconds"):
        assert summary[figure] >= 0, figure
