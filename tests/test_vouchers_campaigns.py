"""Bonus credits (seed 001's campaign use), on SQLite and PostgreSQL: one voucher for each card of
an audience chosen by list, card kind or recent visits, credited straight to the cards or bound to
them, and the campaign's cost and uptake as the vouchers are used."""

from __future__ import annotations

import pytest
from clients import api_client
from test_vouchers import V1, check_books, lines, make_app, ok

from hub.wallets import cards as wallets

VISITOR, QUIET, STAFF, BLOCKED = "A0000001", "A0000002", "A0000003", "A0000004"


@pytest.fixture
def api(engine):
    app = make_app(engine)
    with engine.begin() as conn:
        wallets.issue_card(conn, "CHF", VISITOR)
        wallets.issue_card(conn, "CHF", QUIET)
        wallets.issue_card(conn, "CHF", STAFF, kind="employee")
        wallets.issue_card(conn, "CHF", BLOCKED)
        wallets.set_status(conn, BLOCKED, "blocked")
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    ok(api.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park"}), 201)
    ok(api.post(f"{V1}/product-groups", json={"id": "drinks"}), 201)
    ok(api.post(f"{V1}/articles", json={"id": "beer", "product_group_id": "drinks", "price": 500}), 201)
    for uid in (VISITOR, STAFF, BLOCKED):  # they moved money lately; QUIET did not
        ok(api.post(f"{V1}/cards/{uid}/topups", json={"amount": 1000}), 201)
    yield api
    check_books(engine)


def test_a_credit_for_the_cards_that_visited_lately_lands_on_their_wallets(api):
    campaign = {
        "id": "thank-you",
        "name": "Thank you for coming",
        "voucher": {"kind": "money", "amount": 500},
        "audience": {"card_kind": "value", "visited_within_days": 30},
        "deliver": "card",
    }
    out = ok(api.post(f"{V1}/voucher-campaigns", json=campaign), 201)
    # the employee's card is not of the kind, the blocked one is left out, the quiet one did not visit
    assert out["vouchers"] == 1 and out["by_status"]["redeemed"] == 1
    assert (out["face_value"], out["value_paid"], out["uptake"], out["open"]) == (500, 500, 1.0, 0)
    assert ok(api.get(f"{V1}/cards/{VISITOR}"))["balance"] == 1500
    (voucher,) = ok(api.get(f"{V1}/vouchers?card_uid={VISITOR}"))
    assert voucher["campaign_id"] == "thank-you" and voucher["deliveries"][0]["channel"] == "card"
    assert [c["id"] for c in ok(api.get(f"{V1}/voucher-campaigns"))] == ["thank-you"]


def test_a_discount_for_a_list_of_cards_reports_its_uptake_as_they_use_it(api):
    campaign = {
        "id": "summer",
        "voucher": {
            "kind": "discount",
            "percent": "20",
            "transferable": False,
            "valid_to": "2026-09-01T00:00:00Z",
        },
        "audience": {"card_uids": [VISITOR.lower(), QUIET]},
    }
    out = ok(api.post(f"{V1}/voucher-campaigns", json=campaign), 201)
    assert out["vouchers"] == 2 and out["by_status"]["issued"] == 2 and out["uptake"] == 0.0
    codes = {
        v["card_uid"]: v["code"] for v in (ok(api.get(f"{V1}/vouchers/{i}")) for i in out["voucher_ids"])
    }
    assert set(codes) == {VISITOR, QUIET}
    refused = api.post(
        f"{V1}/vouchers/redeem", json={"code": codes[QUIET], "outlet_id": "bar", "lines": lines(("beer", 2))}
    )
    assert refused.status_code == 409  # bound to its card
    used = ok(
        api.post(
            f"{V1}/vouchers/redeem",
            json={"code": codes[QUIET], "outlet_id": "bar", "card_uid": QUIET, "lines": lines(("beer", 2))},
        ),
        201,
    )
    assert used["value"] == 200
    report = ok(api.get(f"{V1}/voucher-campaigns/summer"))
    assert (report["taken_up"], report["uptake"], report["value_paid"]) == (1, 0.5, 200)
    assert report["by_status"] == {**dict.fromkeys(report["by_status"], 0), "issued": 1, "redeemed": 1}


def test_a_campaign_is_refused_clearly_and_booked_once(api):
    base = {"id": "c1", "voucher": {"kind": "money", "amount": 100}}
    for body, status in (
        ({**base, "audience": {}}, 422),
        ({**base, "audience": {"card_uids": ["FFFFFFFF"]}}, 404),
        (
            {**base, "voucher": {**base["voucher"], "card_uid": VISITOR}, "audience": {"card_kind": "value"}},
            422,
        ),
        ({**base, "audience": {"card_kind": "debit"}}, 409),  # nobody
        ({**base, "audience": {"visited_within_days": 0}}, 422),
        ({**base, "audience": {"card_kind": "gold"}}, 422),
        ({**base, "id": "no spaces", "audience": {"card_kind": "value"}}, 422),
    ):
        r = api.post(f"{V1}/voucher-campaigns", json=body)
        assert r.status_code == status, (body, r.text)
    key = {"Idempotency-Key": "campaign-1"}
    body = {**base, "audience": {"card_uids": [VISITOR, QUIET]}}
    first = ok(api.post(f"{V1}/voucher-campaigns", json=body, headers=key), 201)
    again = ok(api.post(f"{V1}/voucher-campaigns", json=body, headers=key), 201)
    assert again["repeated"] is True and again["voucher_ids"] == first["voucher_ids"]
    assert api.post(f"{V1}/voucher-campaigns", json=body).status_code == 409  # the id is taken
    assert api.get(f"{V1}/voucher-campaigns/nope").status_code == 404
