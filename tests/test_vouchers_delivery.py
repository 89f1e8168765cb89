"""Vouchers handed over through their real parts: the printed PDF read back with pypdf (the value,
the validity, the conditions, the code, and the QR image in it decoded), the QR image decoded, and
an e-mail sent over SMTP to a real server on loopback (aiosmtpd), read back with its QR image and
PDF. The status follows: issued → delivered → partly redeemed."""

from __future__ import annotations

import email
import email.policy
import io
import socket

import cv2
import numpy as np
import pytest
from aiosmtpd.controller import Controller
from clients import api_client
from pypdf import PdfReader
from test_vouchers import NOW, V1, check_books, make_app, ok

from hub.api.routers.vouchers import VoucherSettings
from hub.vouchers import delivery


def decode_qr(data: bytes) -> str:
    """The text of the QR code in a PNG. OpenCV's classic detector misses about 1 code in 70 of
    ours (measured over random codes); its ArUco-based one reads those too."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return (
        cv2.QRCodeDetector().detectAndDecode(image)[0] or cv2.QRCodeDetectorAruco().detectAndDecode(image)[0]
    )


class Inbox:
    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox, port = Inbox(), free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield inbox, f"smtp://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def api(engine, smtp):
    app = make_app(engine, smtp=smtp[1])
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    ok(api.post(f"{V1}/outlets", json={"id": "bar", "site_id": "park"}), 201)
    ok(api.post(f"{V1}/product-groups", json={"id": "drinks"}), 201)
    ok(api.post(f"{V1}/articles", json={"id": "beer", "product_group_id": "drinks", "price": 500}), 201)
    yield api
    check_books(engine)


def voucher(api, **extra):
    return ok(
        api.post(
            f"{V1}/vouchers",
            json={
                "kind": "money",
                "amount": 2500,
                "valid_to": "2026-12-31T23:00:00Z",
                "recipient_name": "Anna Muster",
                "recipient_email": "anna@example.test",
                "conditions": "Not exchangeable for cash. Gültig in allen Filialen.",
                **extra,
            },
        ),
        201,
    )


def test_the_printed_voucher_carries_value_validity_conditions_and_the_code_as_qr(api):
    v = voucher(api)
    r = api.get(f"{V1}/vouchers/{v['id']}/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(r.content))
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    for expected in (
        "CHF 25.00",
        "for Anna Muster",
        "Valid until 2026-12-31 23:00 UTC",
        "Not exchangeable for cash.",
        "Gültig in allen Filialen.",
        "May be redeemed in parts",
        v["code"],
    ):
        assert expected in text.replace("\n", " "), (expected, text)
    (image,) = pdf.pages[0].images
    assert decode_qr(_png(image.image)) == v["code"]
    qr = api.get(f"{V1}/vouchers/{v['id']}/qr")
    assert qr.headers["content-type"] == "image/png" and decode_qr(qr.content) == v["code"]
    # printed and handed over: delivered
    out = ok(api.post(f"{V1}/vouchers/{v['id']}/deliver", json={"channel": "print"}))
    assert out["status"] == "delivered" and out["deliveries"][0]["channel"] == "print"


def _png(pil_image) -> bytes:
    out = io.BytesIO()
    pil_image.save(out, format="PNG")
    return out.getvalue()


def test_each_kind_prints_what_it_is_worth(api):
    cases = [
        ({"kind": "points", "amount": 300}, "300 points"),
        ({"kind": "goods", "amount": None, "units": 2, "article_ids": ["beer"]}, "2 x beer"),
        (
            {
                "kind": "discount",
                "amount": None,
                "percent": "15",
                "max_discount": 500,
                "group_ids": ["drinks"],
            },
            "15 % off (at most CHF 5.00) on group drinks",
        ),
        ({"kind": "discount", "amount": 1000, "online_only": True}, "CHF 10.00 off"),
    ]
    for extra, expected in cases:
        v = voucher(api, **extra)
        text = PdfReader(io.BytesIO(api.get(f"{V1}/vouchers/{v['id']}/pdf").content)).pages[0].extract_text()
        assert expected in text.replace("\n", " "), (expected, text)
    assert "Redeemable online only." in text.replace("\n", " ")


def test_a_voucher_is_e_mailed_with_its_code_as_an_image_and_the_pdf(api, smtp):
    inbox, _ = smtp
    v = voucher(api)
    out = ok(api.post(f"{V1}/vouchers/{v['id']}/deliver", json={"channel": "email"}))
    assert out["status"] == "delivered"
    assert [(d["channel"], d["recipient"]) for d in out["deliveries"]] == [("email", "anna@example.test")]
    ((to, raw),) = inbox.messages
    assert to == ["anna@example.test"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == "vouchers@park.test" and "CHF 25.00" in msg["Subject"]
    assert v["code"] in msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and f"cid:{images[0]['Content-ID'][1:-1]}" in html
    assert decode_qr(images[0].get_content()) == v["code"]
    (pdf,) = [p for p in msg.walk() if p.get_content_type() == "application/pdf"]
    assert v["code"] in PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text().replace("\n", " ")

    # the same request again sends nothing more; a new one to another address does
    key = {"Idempotency-Key": "mail-1"}
    ok(
        api.post(
            f"{V1}/vouchers/{v['id']}/deliver",
            json={"channel": "email", "email": "b@example.test"},
            headers=key,
        )
    )
    again = ok(
        api.post(
            f"{V1}/vouchers/{v['id']}/deliver",
            json={"channel": "email", "email": "b@example.test"},
            headers=key,
        )
    )
    assert again["repeated"] is True and len(inbox.messages) == 2
    part = ok(
        api.post(f"{V1}/vouchers/redeem", json={"code": v["code"], "outlet_id": "bar", "amount": 500}), 201
    )
    assert part["status"] == "partly_redeemed"


def test_a_mail_server_that_does_not_answer_is_a_502_and_records_nothing(engine):
    app = make_app(engine, smtp=f"smtp://127.0.0.1:{free_port()}")
    api = api_client(app, "admin")
    v = ok(
        api.post(f"{V1}/vouchers", json={"kind": "money", "amount": 100, "recipient_email": "a@b.test"}), 201
    )
    r = api.post(f"{V1}/vouchers/{v['id']}/deliver", json={"channel": "email"})
    assert r.status_code == 502 and "mail server" in r.json()["detail"]
    assert ok(api.get(f"{V1}/vouchers/{v['id']}"))["status"] == "issued"
    for wrong in ("smtp://127.0.0.1:port", "http://127.0.0.1"):
        app.state.voucher_settings = VoucherSettings(None, delivery.MailSettings(wrong))
        r = api.post(f"{V1}/vouchers/{v['id']}/deliver", json={"channel": "email"})
        assert r.status_code == 409 and "TAPGIFT_SMTP" in r.json()["detail"]
    assert delivery.describe({**v, "ledger": "CHF"}, "CHF") == "CHF 1.00"
    assert NOW.year == 2026
    check_books(engine)
