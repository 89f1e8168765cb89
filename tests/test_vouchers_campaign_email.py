"""A campaign delivered by e-mail (seed 001: bonus credits "delivered as above"): each card
holder's voucher sent to a real SMTP server on loopback (aiosmtpd) with its code as an image and
the PDF, the cards without an address reported, a mail server that is down or refuses one address
leaving those to send again, and the campaign's report counting the deliveries and the uptake."""

from __future__ import annotations

import email
import email.policy

import pytest
from aiosmtpd.controller import Controller
from clients import api_client
from test_vouchers import V1, check_books, lines, make_app, ok
from test_vouchers_delivery import Inbox, decode_qr, free_port

from hub.wallets import cards as wallets

ANNA, BEN, NOBODY = "E0000001", "E0000002", "E0000003"
ADDRESS = {ANNA: "anna@example.test", BEN: "ben@example.test"}


class Picky(Inbox):
    """A mail server that refuses one address."""

    def __init__(self, refuse: str = ""):
        super().__init__()
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app(engine, port):
    app = make_app(engine, smtp=f"smtp://127.0.0.1:{port}")
    with engine.begin() as conn:
        wallets.issue_card(conn, "CHF", ANNA, holder_name="Anna Muster", holder_email=ADDRESS[ANNA])
        wallets.issue_card(conn, "CHF", BEN, holder_name="Ben", holder_email=ADDRESS[BEN])
        wallets.issue_card(conn, "CHF", NOBODY)  # anonymous: no address
    yield app
    check_books(engine)


@pytest.fixture
def api(app):
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    ok(api.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park"}), 201)
    ok(api.post(f"{V1}/product-groups", json={"id": "drinks"}), 201)
    ok(api.post(f"{V1}/articles", json={"id": "beer", "product_group_id": "drinks", "price": 500}), 201)
    return api


def mail_server(port, handler):
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    return server


CAMPAIGN = {
    "id": "autumn",
    "name": "Autumn thank-you",
    "voucher": {"kind": "discount", "percent": "20", "outlet_id": "bar", "transferable": False},
    "audience": {"card_uids": [ANNA, BEN, NOBODY]},
    "deliver": "email",
}


def test_each_holder_gets_their_voucher_by_mail_and_the_report_counts_it(api, port):
    inbox = Inbox()
    server = mail_server(port, inbox)
    try:
        key = {"Idempotency-Key": "autumn-1"}
        out = ok(api.post(f"{V1}/voucher-campaigns", json=CAMPAIGN, headers=key), 201)
        again = ok(api.post(f"{V1}/voucher-campaigns", json=CAMPAIGN, headers=key), 201)
    finally:
        server.stop()
    assert (out["vouchers"], out["deliver"], out["email_failures"]) == (3, "email", [])
    assert out["deliveries"] == {"card": 0, "email": 2, "print": 0}
    assert (out["without_email"], out["email_pending"]) == ([NOBODY], 0)
    assert out["by_status"]["delivered"] == 2 and out["by_status"]["issued"] == 1
    assert again["repeated"] is True and len(inbox.messages) == 2  # the retry sent nothing more

    vouchers = {v["card_uid"]: v for v in (ok(api.get(f"{V1}/vouchers/{i}")) for i in out["voucher_ids"])}
    for to, raw in inbox.messages:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        (uid,) = [u for u, a in ADDRESS.items() if [a] == to]
        code = vouchers[uid]["code"]
        assert "20 % off" in msg["Subject"] and code in msg.get_body(("plain",)).get_content()
        (image,) = [p for p in msg.walk() if p.get_content_type() == "image/png"]
        assert decode_qr(image.get_content()) == code
        assert [p.get_filename() for p in msg.walk() if p.get_content_type() == "application/pdf"] == [
            f"voucher-{vouchers[uid]['id']}.pdf"
        ]
    assert vouchers[ANNA]["recipient_name"] == "Anna Muster"
    assert [d["recipient"] for d in vouchers[BEN]["deliveries"]] == [ADDRESS[BEN]]
    assert vouchers[NOBODY]["status"] == "issued" and vouchers[NOBODY]["deliveries"] == []

    # Anna uses hers at the bar: the report shows the uptake and what it cost.
    redeem = {
        "code": vouchers[ANNA]["code"],
        "outlet_id": "bar",
        "card_uid": ANNA,
        "lines": lines(("beer", 2)),
    }
    assert ok(api.post(f"{V1}/vouchers/redeem", json=redeem), 201)["value"] == 200
    report = ok(api.get(f"{V1}/voucher-campaigns/autumn"))
    assert (report["taken_up"], report["uptake"], report["value_paid"]) == (1, round(1 / 3, 4), 200)
    assert report["deliveries"]["email"] == 2 and report["without_email"] == [NOBODY]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_mails_the_server_did_not_take_are_sent_again_later(api, port):
    out = ok(api.post(f"{V1}/voucher-campaigns", json=CAMPAIGN), 201)  # nobody listens on the port
    assert out["vouchers"] == 3 and out["email_pending"] == 2
    assert sorted(f["card_uid"] for f in out["email_failures"]) == [ANNA, BEN]
    assert all("mail server" in f["error"] for f in out["email_failures"])
    assert out["by_status"]["issued"] == 3

    picky = Picky(refuse=ADDRESS[BEN])
    server = mail_server(port, picky)
    try:
        first = ok(api.post(f"{V1}/voucher-campaigns/autumn/email"))
        assert [(f["card_uid"], f["email"]) for f in first["email_failures"]] == [(BEN, ADDRESS[BEN])]
        assert "550" in first["email_failures"][0]["error"]
        assert (first["deliveries"]["email"], first["email_pending"]) == (1, 1)
        picky.refuse = ""
        second = ok(api.post(f"{V1}/voucher-campaigns/autumn/email"))
        third = ok(api.post(f"{V1}/voucher-campaigns/autumn/email"))
    finally:
        server.stop()
    assert (second["email_failures"], second["deliveries"]["email"], second["email_pending"]) == ([], 2, 0)
    assert third["deliveries"]["email"] == 2
    assert sorted(to for to, _ in picky.messages) == [[ADDRESS[ANNA]], [ADDRESS[BEN]]]  # each once


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_e_mailed_campaign_is_refused_clearly(app, api, engine):
    with api_client(app, "cashier", outlet_id="bar") as cashier:
        assert cashier.post(f"{V1}/voucher-campaigns", json=CAMPAIGN).status_code == 403
    no_holders = [p for p in ("vouchers.issue", "vouchers.read", "cards.read")]
    with api_client(app, "manager", permissions=no_holders) as marketing:
        r = marketing.post(f"{V1}/voucher-campaigns", json=CAMPAIGN)
        assert r.status_code == 403 and "holders.read" in r.json()["detail"]
    with_address = {**CAMPAIGN, "voucher": {**CAMPAIGN["voucher"], "recipient_email": "x@example.test"}}
    assert api.post(f"{V1}/voucher-campaigns", json=with_address).status_code == 422
    plain = ok(api.post(f"{V1}/voucher-campaigns", json={**CAMPAIGN, "id": "plain", "deliver": "card"}), 201)
    assert plain["deliveries"]["card"] == 3 and plain["without_email"] == []
    r = api.post(f"{V1}/voucher-campaigns/plain/email")
    assert r.status_code == 409 and "not delivered by e-mail" in r.json()["detail"]
    assert api.post(f"{V1}/voucher-campaigns/nope/email").status_code == 404
    app.state.voucher_settings.mail = type(app.state.voucher_settings.mail)("")
    r = api.post(f"{V1}/voucher-campaigns", json=CAMPAIGN)
    assert r.status_code == 409 and "TAPGIFT_SMTP" in r.json()["detail"]
    assert api.get(f"{V1}/voucher-campaigns/autumn").status_code == 404  # nothing was issued
