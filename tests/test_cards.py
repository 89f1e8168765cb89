"""Card types and digital cards (seed 002) through the REST API, on SQLite and PostgreSQL: digital
cards and their QR codes, an RFID card linked to a digital wallet (and the reverse refused), debit
cards paid later, employee cards, personalised and anonymous cards, lost cards of every type, the
outlets' counters; and two taps through MQTT at a real controller request path."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from clients import api_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_end_to_end import PRICE, RawDevice

from hub.api.app import create_app
from hub.ledger import (
    ACCOUNTS,
    Book,
    InsufficientFunds,
    balance_from_log,
    create_account,
    ledger_totals,
    new_id,
)
from protocol import messages, topics

V1 = "/api/v1"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status=409):
    assert response.status_code == status, response.text
    return response.json()["detail"]


def assert_books_balance(engine):
    """Every ledger sums to zero; no wallet is below minus its credit limit."""
    with engine.connect() as conn:
        for ledger, sums in ledger_totals(conn).items():
            assert sums == {"posted": 0, "pending": 0}, (ledger, sums)
        below = conn.execute(
            select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.kind == "wallet",
                ACCOUNTS.c.credits_posted
                - ACCOUNTS.c.debits_posted
                - ACCOUNTS.c.debits_pending
                + ACCOUNTS.c.credit_limit
                < 0,
            )
        ).all()
        assert not below


@pytest.fixture
def api(engine):
    with api_client(create_app(engine)) as client:
        yield client
    assert_books_balance(engine)


def setup_park(api):
    """A site with a bar (two tills) and a shop, a beer at 5.00, a burger at 9.00; points cost 0.10."""
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    for outlet in ("bar", "shop"):
        ok(api.post(f"{V1}/outlets", json={"id": outlet, "site_id": "park"}), 201)
    ok(api.post(f"{V1}/articles", json={"id": "beer", "revenue_group": "drinks", "price": 500}), 201)
    ok(api.post(f"{V1}/articles", json={"id": "burger", "revenue_group": "food", "price": 900}), 201)
    ok(api.put(f"{V1}/bonus-settings", json={"enabled_stores": ["bar"], "point_value": 10}))
    return api


@pytest.fixture
def park(api):
    return setup_park(api)


def rfid(api, uid, status=201, **body):
    return ok(api.post(f"{V1}/cards/rfid", json={"uid": uid, **body}), status)


def digital(api, **body):
    return ok(api.post(f"{V1}/cards/digital", json=body), 201)


def top_up(api, uid, amount):
    return ok(api.post(f"{V1}/cards/{uid}/topups", json={"amount": amount}), 201)


def details(api, uid):
    return ok(api.get(f"{V1}/cards/{uid}/details"))


def buy(api, uid, amount_due, status=201, **kw):
    """A basket at the bar worth amount_due (beers at 5.00)."""
    assert amount_due % 500 == 0
    body = {
        "card_uid": uid,
        "outlet_id": "bar",
        "lines": [{"article_id": "beer", "quantity": amount_due // 500}],
        **kw,
    }
    return api.post(f"{V1}/baskets/pay", json=body)


# -- digital cards and their QR codes ---------------------------------------------------------------


def decode_png(data: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return cv2.QRCodeDetector().detectAndDecode(image)[0]


def decode_svg(data: bytes) -> str:
    """Rasterise the SVG's one path of horizontal runs (M/m moves, h lines) and decode it."""
    svg = ET.fromstring(data)
    path = svg.find("{http://www.w3.org/2000/svg}path")
    scale = int(re.fullmatch(r"scale\((\d+)\)", path.get("transform")).group(1))
    size = int(svg.get("width")) // scale
    image = np.full((size, size), 255, np.uint8)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d")):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            image[int(y), int(x) : int(x + float(a))] = 0
            x += float(a)
    return cv2.QRCodeDetector().detectAndDecode(
        cv2.resize(image, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    )[0]


def test_a_digital_card_gets_an_unguessable_token_its_qr_code_carries(api):
    cards = [digital(api) for _ in range(3)]
    uids = [c["uid"] for c in cards]
    assert len(set(uids)) == 3
    for uid in uids:
        messages.check_card(uid, "card")  # a controller's scanner may send it as the card
        assert re.fullmatch(r"QR-[A-Z2-7]{24}", uid)  # 120 random bits
    uid = uids[0]
    assert (cards[0]["medium"], cards[0]["kind"], cards[0]["personalised"]) == ("digital", "value", False)
    png = api.get(f"{V1}/cards/{uid}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert decode_png(png.content) == uid
    svg = api.get(f"{V1}/cards/{uid}/qr.svg", params={"scale": 3})
    assert svg.headers["content-type"] == "image/svg+xml"
    assert decode_svg(svg.content) == uid
    # A digital card is a card like any other: topped up, read and listed by its token.
    assert top_up(api, uid, 2000)["balance"] == 2000
    assert ok(api.get(f"{V1}/cards/{uid}"))["available"] == 2000


def test_qr_codes_only_for_digital_cards_and_a_digital_uid_is_never_chosen(api):
    rfid(api, "04A1B2C3")
    assert "RFID card" in refused(api.get(f"{V1}/cards/04A1B2C3/qr.png"))
    refused(api.get(f"{V1}/cards/QR-NOSUCHCARD/qr.svg"), 404)
    refused(api.get(f"{V1}/cards/{digital(api)['uid']}/qr.png", params={"scale": 0}), 422)
    # The body of a digital card has no uid field: one sent is ignored, the hub makes the token.
    made = ok(api.post(f"{V1}/cards/digital", json={"uid": "04A1B2C4"}), 201)
    assert made["uid"].startswith("QR-")


# -- personalised and anonymous ---------------------------------------------------------------------


def test_cards_are_personalised_or_anonymous(api):
    card = rfid(api, "0A0B0C0D", holder_name="Ana Muster", holder_email="ana@example.org")
    assert (card["personalised"], card["holder_name"]) == (True, "Ana Muster")
    anon = ok(api.put(f"{V1}/cards/0A0B0C0D/holder", json={"holder_name": ""}))
    assert (anon["personalised"], anon["holder_name"], anon["holder_email"]) == (False, "", "")
    assert not rfid(api, "0A0B0C0E")["personalised"]
    refused(api.put(f"{V1}/cards/0A0B0C0E/holder", json={"holder_email": "x@example.org"}), 422)
    refused(api.put(f"{V1}/cards/0A0B0C0E/holder", json={"holder_name": "B", "holder_email": "no"}), 422)


# -- linking an RFID card to a digital wallet -------------------------------------------------------


def test_an_rfid_card_linked_to_a_digital_wallet_shares_balance_points_and_history(park):
    api = park
    ok(api.put(f"{V1}/topup-tiers", json=[{"min_amount": 5000, "percent": 5}]))
    rfid(api, "04AA0001")
    top_up(api, "04AA0001", 5000)  # 52.50, of which 2.50 bonus
    ok(buy(api, "04AA0001", 1000), 201)
    ok(api.post(f"{V1}/cards/04AA0001/points/purchase", json={"outlet_id": "bar", "points": 30}), 201)
    wallet = digital(api)["uid"]  # the app made later
    top_up(api, wallet, 1000)

    linked = ok(api.post(f"{V1}/cards/04AA0001/link", json={"wallet_uid": wallet}))
    assert (linked["moved"], linked["points_moved"]) == (5250 - 1000 - 300, 30)
    assert linked["card"]["linked_to"] == wallet and linked["wallet"]["linked_cards"] == ["04AA0001"]
    assert details(api, wallet)["balance"] == 3950 + 1000
    assert details(api, "04AA0001")["balance"] == 4950  # either credential shows the one wallet

    # Spending with the RFID card debits the digital wallet; points earned or bought land there too.
    ok(buy(api, "04AA0001", 500), 201)
    ok(api.post(f"{V1}/cards/04AA0001/points/purchase", json={"outlet_id": "bar", "points": 10}), 201)
    assert details(api, wallet)["balance"] == 4950 - 500 - 100
    assert ok(api.get(f"{V1}/cards/{wallet}/points"))["balance"] == 40
    assert ok(api.get(f"{V1}/cards/04AA0001/points"))["balance"] == 40

    # Nothing is deleted: the RFID card's history still shows its own top-up and spending.
    codes = [(e["code"], e["amount"]) for e in ok(api.get(f"{V1}/cards/04AA0001/history"))]
    assert ("topup", 5000) in codes and ("topup_bonus", 250) in codes and ("sale", -1000) in codes
    assert ("card_linked", 0) in codes and ("sale", -500) in codes
    # The moved bonus is still bonus: a refund of the wallet keeps it apart.
    refund = ok(api.post(f"{V1}/cards/{wallet}/refund"))
    assert (refund["refunded"], refund["bonus_lapsed"]) == (4350 - 250, 250)


def test_a_digital_card_made_first_cannot_later_be_linked_to_an_rfid_card(api):
    wallet = digital(api)["uid"]
    rfid(api, "04BB0001")
    top_up(api, "04BB0001", 700)
    assert "created before" in refused(api.post(f"{V1}/cards/04BB0001/link", json={"wallet_uid": wallet}))
    # The reverse direction is refused too: a digital card never joins another wallet.
    assert "never the other way round" in refused(
        api.post(f"{V1}/cards/{wallet}/link", json={"wallet_uid": "04BB0001"})
    )
    assert (details(api, "04BB0001")["balance"], details(api, "04BB0001")["linked_to"]) == (700, None)
    assert details(api, wallet)["linked_cards"] == []


def test_links_need_active_cards_of_one_kind_and_happen_once(api):
    rfid(api, "04CC0001")
    rfid(api, "04CC0002", kind="debit", credit_limit=1000)
    rfid(api, "04CC0003")
    wallet, other = digital(api)["uid"], digital(api)["uid"]
    assert "RFID card" in refused(api.post(f"{V1}/cards/04CC0001/link", json={"wallet_uid": "04CC0003"}))
    assert "one kind" in refused(api.post(f"{V1}/cards/04CC0002/link", json={"wallet_uid": wallet}))
    ok(api.post(f"{V1}/cards/04CC0001/link", json={"wallet_uid": wallet}))
    assert "already" in refused(api.post(f"{V1}/cards/04CC0001/link", json={"wallet_uid": other}))
    ok(api.post(f"{V1}/cards/04CC0003/block"))
    assert "blocked" in refused(api.post(f"{V1}/cards/04CC0003/link", json={"wallet_uid": wallet}))
    refused(api.post(f"{V1}/cards/04CC0001/link", json={"wallet_uid": "QR-NONE"}), 404)


def test_a_lost_linked_card_is_replaced_by_a_card_linked_to_the_same_wallet(park):
    api = park
    rfid(api, "04DD0001", holder_name="Ben")
    wallet = digital(api)["uid"]
    top_up(api, wallet, 3000)
    ok(api.post(f"{V1}/cards/04DD0001/link", json={"wallet_uid": wallet}))
    swap = ok(api.post(f"{V1}/cards/04DD0001/replace", json={"uid": "04DD0002"}), 201)
    assert (swap["old"]["status"], swap["new"]["uid"], swap["new"]["balance"]) == (
        "blocked",
        "04DD0002",
        3000,
    )
    new = details(api, "04DD0002")
    assert (new["linked_to"], new["holder_name"], new["medium"]) == (wallet, "Ben", "rfid")
    ok(buy(api, "04DD0002", 500), 201)
    refused(buy(api, "04DD0001", 500))  # the lost card is blocked
    assert details(api, wallet)["balance"] == 2500
    assert sorted(details(api, wallet)["linked_cards"]) == ["04DD0001", "04DD0002"]


def test_a_lost_digital_card_takes_its_wallet_and_linked_cards_along(park):
    api = park
    rfid(api, "04EE0001")
    wallet = digital(api)["uid"]
    top_up(api, wallet, 2000)
    ok(api.post(f"{V1}/cards/04EE0001/link", json={"wallet_uid": wallet}))
    assert "token" in refused(api.post(f"{V1}/cards/{wallet}/replace", json={"uid": "04EE0009"}))
    swap = ok(api.post(f"{V1}/cards/{wallet}/replace", json={}), 201)
    new = swap["new"]["uid"]
    assert new.startswith("QR-") and new != wallet and swap["new"]["balance"] == 2000
    assert details(api, "04EE0001")["linked_to"] == new
    ok(buy(api, "04EE0001", 500), 201)
    assert (details(api, new)["balance"], details(api, wallet)["balance"]) == (1500, 0)


# -- debit cards ------------------------------------------------------------------------------------


def test_a_debit_card_is_paid_later_down_to_its_limit_then_settled(park):
    api = park
    card = rfid(api, "0DEB0001", kind="debit", credit_limit=2000, holder_name="Cleo")
    assert (card["kind"], card["credit_limit"], card["spendable"]) == ("debit", 2000, 2000)
    assert "settle" in refused(api.post(f"{V1}/cards/0DEB0001/topups", json={"amount": 1000}))
    ok(buy(api, "0DEB0001", 1500), 201)
    assert "has -1500 and a credit limit of 2000" in refused(buy(api, "0DEB0001", 1000))
    ok(buy(api, "0DEB0001", 500), 201)
    state = details(api, "0DEB0001")
    assert (state["balance"], state["spendable"]) == (-2000, 0)

    statement = ok(api.get(f"{V1}/cards/0DEB0001/statement"))
    assert (statement["owed"], statement["last_settlement_at"]) == (2000, None)
    assert ok(api.get(f"{V1}/debit-cards/owed")) == [
        {"uid": "0DEB0001", "holder_name": "Cleo", "holder_email": "", "credit_limit": 2000, "owed": 2000}
    ]
    assert [e["amount"] for e in statement["entries"]] == [-500, -1500]
    assert "owes 2000" in refused(api.post(f"{V1}/cards/0DEB0001/settle", json={"amount": 2001}))
    first = ok(
        api.post(f"{V1}/cards/0DEB0001/settle", json={"amount": 1200}, headers={"Idempotency-Key": "s1"}), 201
    )
    again = ok(
        api.post(f"{V1}/cards/0DEB0001/settle", json={"amount": 1200}, headers={"Idempotency-Key": "s1"}), 201
    )
    assert (first["settled"], first["balance"]) == (1200, -800)
    assert (again["settled"], again["repeated"], again["balance"]) == (1200, True, -800)
    statement = ok(api.get(f"{V1}/cards/0DEB0001/statement"))
    assert (statement["owed"], statement["entries"]) == (800, [])
    # The refund at the end of a debit card settles what it still owes.
    refund = ok(api.post(f"{V1}/cards/0DEB0001/refund"))
    assert (refund["refunded"], refund["balance"]) == (-800, 0)
    assert ok(api.get(f"{V1}/debit-cards/owed")) == []
    assert "owes 0" in refused(api.post(f"{V1}/cards/0DEB0001/settle", json={}))
    assert "only a debit card" in refused(api.get(f"{V1}/cards/{digital(api)['uid']}/statement"))


def test_debit_cards_need_a_limit_and_a_lost_one_takes_its_debt_along(park):
    api = park
    refused(api.post(f"{V1}/cards/rfid", json={"uid": "0DEB0002", "kind": "debit"}), 422)
    refused(api.post(f"{V1}/cards/rfid", json={"uid": "0DEB0002", "credit_limit": 100}), 422)
    rfid(api, "0DEB0002", kind="debit", credit_limit=3000)
    ok(buy(api, "0DEB0002", 2500), 201)
    swap = ok(api.post(f"{V1}/cards/0DEB0002/replace", json={"uid": "0DEB0003"}), 201)
    old = details(api, "0DEB0002")
    assert (old["status"], old["balance"], old["credit_limit"]) == ("blocked", 0, 0)
    assert (swap["new"]["balance"], details(api, "0DEB0003")["spendable"]) == (-2500, 500)
    assert ok(api.get(f"{V1}/cards/0DEB0003/statement"))["owed"] == 2500
    ok(api.post(f"{V1}/cards/0DEB0003/settle", json={}), 201)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(0, 1000), start=st.integers(0, 1000), amounts=st.lists(st.integers(1, 700), max_size=10)
)
def test_a_wallet_pays_down_to_minus_its_credit_limit_and_never_below(engine, limit, start, amounts):
    with engine.begin() as conn:
        wallet = create_account(conn, "CHF", "wallet", "w", credit_limit=limit)
        other = create_account(conn, "CHF", "cash", "c", allow_negative=True)
        book = Book(conn)
        if start:
            book.transfer(other, wallet, start, "topup", "start", key=new_id())
        balance = start
        for amount in amounts:
            try:
                book.transfer(wallet, other, amount, "sale", "sale", key=new_id())
                balance -= amount
            except InsufficientFunds:
                assert balance - amount < -limit  # refused only when it would go below the limit
            assert book.account(wallet).available == balance >= -limit
        book.flush()
        assert balance_from_log(conn, wallet) == balance


# -- employee cards ---------------------------------------------------------------------------------


def test_an_employee_card_consumes_at_100_percent_and_keeps_it_when_replaced(park):
    api = park
    card = rfid(api, "0E0E0001", kind="employee", holder_name="Dora")
    assert card["discount_group"] == "employee"
    group = {g["id"]: g for g in ok(api.get(f"{V1}/discount-groups"))}["employee"]
    assert [(r["scope"], float(r["percent"])) for r in group["rates"]] == [("general", 100.0)]
    paid = ok(buy(api, "0E0E0001", 1500), 201)
    assert (paid["total"], paid["amount_due"], paid["points_earned"]) == (0, 0, 0)
    swap = ok(api.post(f"{V1}/cards/0E0E0001/replace", json={"uid": "0E0E0002"}), 201)
    assert details(api, swap["new"]["uid"])["discount_group"] == "employee"
    assert ok(buy(api, "0E0E0002", 500), 201)["amount_due"] == 0
    # A customer card may join another group at issue; an unknown group issues nothing.
    ok(
        api.post(
            f"{V1}/discount-groups", json={"id": "staff10", "rates": [{"scope": "general", "percent": 10}]}
        ),
        201,
    )
    assert rfid(api, "0E0E0003", discount_group="staff10")["discount_group"] == "staff10"
    refused(api.post(f"{V1}/cards/rfid", json={"uid": "0E0E0004", "discount_group": "nope"}), 404)
    refused(api.get(f"{V1}/cards/0E0E0004/details"), 404)


# -- counters -----------------------------------------------------------------------------------------


def test_a_till_identifies_itself_as_a_counter_and_names_it_in_baskets(park):
    api = park
    till = ok(api.post(f"{V1}/outlets/bar/counters", json={"id": "bar-1", "name": "Bar till 1"}), 201)
    assert till == {
        "id": "bar-1",
        "outlet_id": "bar",
        "site_id": "park",
        "name": "Bar till 1",
        "kind": "till",
        "active": True,
    }
    ok(api.post(f"{V1}/outlets/shop/counters", json={"id": "shop-1", "kind": "terminal"}), 201)
    assert ok(api.get(f"{V1}/counters/bar-1")) == till
    assert [c["id"] for c in ok(api.get(f"{V1}/outlets/bar/counters"))] == ["bar-1"]
    refused(api.post(f"{V1}/outlets/bar/counters", json={"id": "bar-1"}))
    refused(api.post(f"{V1}/outlets/nowhere/counters", json={"id": "x-1"}), 404)
    refused(api.post(f"{V1}/outlets/bar/counters", json={"id": "x-2", "kind": "toaster"}), 422)

    rfid(api, "0C0C0001")
    top_up(api, "0C0C0001", 2000)
    paid = ok(buy(api, "0C0C0001", 500, counter_id="bar-1"), 201)
    assert paid["counter_id"] == "bar-1"
    assert ok(api.get(f"{V1}/baskets/{paid['id']}"))["counter_id"] == "bar-1"
    assert "belongs to outlet shop" in refused(buy(api, "0C0C0001", 500, counter_id="shop-1"))
    refused(buy(api, "0C0C0001", 500, counter_id="bar-9"), 404)
    ok(api.post(f"{V1}/counters/bar-1/deactivate"))
    assert "switched off" in refused(buy(api, "0C0C0001", 500, counter_id="bar-1"))
    assert details(api, "0C0C0001")["balance"] == 1500


def test_the_openapi_describes_the_card_routes(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {
        f"{V1}/cards/digital",
        f"{V1}/cards/rfid",
        f"{V1}/cards/{{uid}}/link",
        f"{V1}/cards/{{uid}}/qr.svg",
        f"{V1}/cards/{{uid}}/qr.png",
        f"{V1}/cards/{{uid}}/statement",
        f"{V1}/cards/{{uid}}/settle",
        f"{V1}/outlets/{{outlet_id}}/counters",
        f"{V1}/counters/{{counter_id}}",
    } <= set(paths)
    assert "image/png" in paths[f"{V1}/cards/{{uid}}/qr.png"]["get"]["responses"]["200"]["content"]


# -- taps through MQTT ------------------------------------------------------------------------------


async def tap(raw, request_id, uid, units=1):
    await raw.send(topics.TAP, {"id": request_id, "card": uid, "units": units})
    [reply] = await raw.replies(1)
    return raw.open(reply)


async def report(raw, request_id, hold, delivered):
    await raw.send(topics.REPORT, {"id": request_id, "hold": hold, "delivered": delivered})
    [reply] = await raw.replies(1)
    return raw.open(reply)


async def test_a_tap_with_a_linked_rfid_card_debits_the_digital_wallet(hub):
    with api_client(create_app(hub.engine)) as api:
        rfid(api, "04F00001")
        top_up(api, "04F00001", 400)
        wallet = digital(api)["uid"]
        top_up(api, wallet, 1000)
        ok(api.post(f"{V1}/cards/04F00001/link", json={"wallet_uid": wallet}))
        async with RawDevice(hub) as raw:
            grant = await tap(raw, "1-1", "04F00001", units=2)
            assert (grant["k"], grant["amount"]) == (messages.GRANT, 2 * PRICE)
            assert grant["balance"] == 1400 - 2 * PRICE
            assert (await report(raw, "1-2", grant["hold"], 2))["posted"] == 2 * PRICE
            grant = await tap(raw, "1-3", wallet)  # the QR code scanned at the machine
            assert grant["k"] == messages.GRANT
            await report(raw, "1-4", grant["hold"], 1)
        assert details(api, wallet)["balance"] == 1400 - 3 * PRICE
        assert details(api, "04F00001")["balance"] == 1400 - 3 * PRICE


async def test_a_debit_card_taps_below_zero_within_its_limit_and_is_denied_beyond(hub):
    with api_client(create_app(hub.engine)) as api:
        rfid(api, "0DEBF001", kind="debit", credit_limit=2 * PRICE + 100)
        async with RawDevice(hub) as raw:
            grant = await tap(raw, "2-1", "0DEBF001", units=2)
            assert (grant["k"], grant["balance"]) == (messages.GRANT, -2 * PRICE)
            await report(raw, "2-2", grant["hold"], 2)
            deny = await tap(raw, "2-3", "0DEBF001")
            assert (deny["k"], deny["code"], deny["balance"]) == (
                messages.DENY,
                messages.INSUFFICIENT_FUNDS,
                -2 * PRICE,
            )
        statement = ok(api.get(f"{V1}/cards/0DEBF001/statement"))
        assert (statement["owed"], statement["spendable"]) == (2 * PRICE, 100)
        ok(api.post(f"{V1}/cards/0DEBF001/settle", json={}), 201)
        assert details(api, "0DEBF001")["balance"] == 0
