"""The list of debit cards that owe money names a digital card without its token (issue 10):
a digital card's uid is its credential, and its QR code is served to whoever knows it."""

from __future__ import annotations

import pytest
from clients import api_client

from hub.api.app import create_app

V1 = "/api/v1"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def api(engine):
    with api_client(create_app(engine)) as client:
        yield client


def test_the_owed_list_never_shows_a_digital_cards_token(api):
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    ok(api.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park"}), 201)
    ok(api.post(f"{V1}/articles", json={"id": "beer", "revenue_group": "drinks", "price": 500}), 201)
    card = ok(
        api.post(
            f"{V1}/cards/digital",
            json={"kind": "debit", "credit_limit": 2000, "holder_name": "Cleo", "label": "Cleo's phone"},
        ),
        201,
    )
    token = card["uid"]
    basket = {"card_uid": token, "outlet_id": "bar", "lines": [{"article_id": "beer", "quantity": 3}]}
    ok(api.post(f"{V1}/baskets/pay", json=basket), 201)

    listed = api.get(f"{V1}/debit-cards/owed")
    assert token not in listed.text
    assert ok(listed) == [
        {
            "masked_token": "…" + token[-4:],
            "label": "Cleo's phone",
            "holder_name": "Cleo",
            "holder_email": "",
            "credit_limit": 2000,
            "owed": 1500,
        }
    ]
    # The holder shows the card at the cash desk to settle: the token still does that.
    assert ok(api.post(f"{V1}/cards/{token}/settle", json={}), 201)["settled"] == 1500
