"""The operator console over HTTP (no browser; tests/test_console_browser.py drives Chromium):
the login and its cookie, pages by permission, forms that say what is wrong, top-ups once per
form, the same-origin check, the audit log and the money limits as on the REST API, German,
and the API's own docs pages without a CDN."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from console_site import PASSWORD, copy_site, login_session, make_site
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hub.access.audit import AUDIT
from hub.access.limits import Ceilings
from hub.console import i18n
from hub.ledger import TRANSFERS
from hub.tables.settlement import CashOutlet
from hub.wallets import topup_bonus

CASH_OUTLETS = CashOutlet.__table__

BASE = "https://hub.test"
SAME = {"origin": BASE}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("site") / "hub.db"
    make_site(f"sqlite:///{path}").state.engine.dispose()
    return path


@pytest.fixture
def app(template, tmp_path):
    app = copy_site(template, tmp_path)
    yield app
    app.state.engine.dispose()


def client(app, username: str | None = None) -> TestClient:
    c = TestClient(app, base_url=BASE, follow_redirects=False)
    if username:
        c.cookies.set("tapgift_session", login_session(app, username))
    return c


def messages(html: str) -> list[str]:
    return re.findall(r'class="msg [a-z]+"[^>]*>([^<]*)<', html)


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="([a-z0-9_-]+)-error">([^<]*)<', html))


def unescaped(errors: dict[str, str]) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in errors.items()}


def form_key(html: str) -> str:
    return re.search(r'name="key" value="([0-9a-f]{32})"', html).group(1)


def balance(html: str) -> str:
    return re.search(r'id="balance">([^<]*)<', html).group(1)


def test_without_a_session_a_page_sends_to_the_login(app):
    c = client(app)
    answer = c.get("/cards/04A1B2C3D4?before=x")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/cards/04A1B2C3D4%3Fbefore%3Dx"
    htmx = c.get("/live/table", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith("/login?next=/live/table")
    # an API key or a bearer token is not a console session
    assert (
        c.get("/cards", headers={"Authorization": "Bearer " + login_session(app, "admin")}).status_code == 303
    )


def test_login_sets_the_api_session_cookie_and_logout_ends_it(app):
    c = client(app)
    assert c.get("/login").status_code == 200
    answer = c.post(
        "/login",
        data={"username": "cashier", "password": PASSWORD, "next": "/cards/04A1B2C3D4"},
        headers=SAME,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/cards/04A1B2C3D4"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("tapgift_session=ts_")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict"):
        assert attribute.lower() in cookie.lower()
    assert c.get("/cards/04A1B2C3D4").status_code == 200
    # the same session answers the REST API (hub.api.auth): one login, not two systems
    assert c.get("/api/v1/auth/me").json()["name"] == "cashier"
    out = c.post("/logout", headers=SAME)
    assert out.headers["location"] == "/login?bye=1"
    c.cookies.set("tapgift_session", cookie.split(";")[0].split("=", 1)[1])
    assert c.get("/cards").status_code == 303  # the ended session opens nothing


def test_login_errors_are_shown_next_to_the_fields(app):
    c = client(app)
    empty = c.post("/login", data={"username": "", "password": ""}, headers=SAME)
    assert empty.status_code == 422
    assert field_errors(empty.text) == {
        "username": "Enter your user name.",
        "password": "Enter your password.",
    }
    wrong = c.post("/login", data={"username": "cashier", "password": "wrong password"}, headers=SAME)
    assert wrong.status_code == 401
    assert "Wrong user name or password." in wrong.text
    assert "tapgift_session" not in wrong.headers.get("set-cookie", "")
    # a login only leads on within the hub
    evil = c.post(
        "/login", data={"username": "cashier", "password": PASSWORD, "next": "//evil.example/"}, headers=SAME
    )
    assert evil.headers["location"] == "/"


def test_a_cross_origin_form_is_refused_and_books_nothing(app):
    c = client(app, "admin")
    for headers in ({"origin": "https://evil.example"}, {"referer": "https://evil.example/x"}, {}):
        assert c.post("/cards/04A1B2C3D4/block", headers=headers).status_code == 403
    assert "active" in c.get("/cards/04A1B2C3D4").text
    assert (
        c.post("/cards/04A1B2C3D4/block", headers={"referer": BASE + "/cards/04A1B2C3D4"}).status_code == 303
    )
    assert "blocked" in c.get("/cards/04A1B2C3D4").text
    # the login form too
    assert c.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 403


def test_top_up_shows_the_bonus_before_it_books_and_books_once_per_form(app):
    c = client(app, "cashier")
    confirm = c.get("/cards/04a1b2c3d4/topup", params={"amount": "50"})
    assert confirm.status_code == 200
    assert re.search(r'id="confirm-bonus">CHF 2.50<', confirm.text)
    assert re.search(r'id="confirm-new-balance">CHF 52.50<', confirm.text)
    key = form_key(confirm.text)
    assert form_key(c.get("/cards/04A1B2C3D4/topup", params={"amount": "50"}).text) != key
    for _ in range(3):  # a double click, a reload
        done = c.post("/cards/04A1B2C3D4/topup", data={"amount": "5000", "key": key}, headers=SAME)
        assert done.status_code == 303
        assert done.headers["location"] == f"/cards/04A1B2C3D4?topup={key}"
    page = c.get(done.headers["location"]).text
    assert balance(page) == "CHF 52.50"
    assert messages(page) == ["Topped up CHF 50.00, bonus CHF 2.50."]
    with app.state.engine.connect() as conn:
        assert conn.execute(select(func.count()).where(TRANSFERS.c.code == "topup")).scalar() == 1
    # the same form key with another amount is not a new booking
    other = c.post("/cards/04A1B2C3D4/topup", data={"amount": "6000", "key": key}, headers=SAME)
    assert other.status_code == 409
    assert "different request" in messages(other.text)[0]
    hint = c.get("/cards/04A1B2C3D4/topup/bonus", params={"amount": "100"})
    assert hint.text.strip() == "Bonus for this amount: CHF 5.00"
    assert c.get("/cards/04A1B2C3D4/topup/bonus", params={"amount": "10"}).text.strip() == (
        "No bonus for this amount."
    )


def test_a_desk_top_up_takes_its_sites_tiers_and_is_its_outlets_cash(app):
    """The bar's cashier tops up with the park's own tiers (not the coalition's default), and
    the cash counts as the bar's in the settlement; the refund is paid out by the bar too."""
    with app.state.engine.begin() as conn:
        topup_bonus.set_site_tiers(conn, "CHF", "park", [{"min_amount": 1000, "percent": "10"}])
    c = client(app, "cashier")
    confirm = c.get("/cards/04A1B2C3D4/topup", params={"amount": "20"})
    assert re.search(r'id="confirm-bonus">CHF 2.00<', confirm.text)
    done = c.post(
        "/cards/04A1B2C3D4/topup", data={"amount": "2000", "key": form_key(confirm.text)}, headers=SAME
    )
    assert balance(c.get(done.headers["location"]).text) == "CHF 22.00"
    c.post(
        "/cards/04A1B2C3D4/refund",
        data={"key": form_key(c.get("/cards/04A1B2C3D4/refund").text)},
        headers=SAME,
    )
    with app.state.engine.connect() as conn:
        cash = conn.execute(
            select(TRANSFERS.c.code, CASH_OUTLETS.c.outlet_id).join(
                CASH_OUTLETS, CASH_OUTLETS.c.transfer_id == TRANSFERS.c.id
            )
        ).all()
    assert sorted(cash) == [("refund", "bar"), ("topup", "bar")]


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("", "Enter an amount such as 50 or 50.00."),
        ("fifty", "Enter an amount such as 50 or 50.00."),
        ("5.001", "Enter an amount such as 50 or 50.00."),
        ("0", "The amount must be above 0."),
        ("99999999", "The amount is too large."),
    ],
)
def test_a_wrong_amount_is_named_next_to_the_field(app, amount, error):
    answer = client(app, "cashier").get("/cards/04A1B2C3D4/topup", params={"amount": amount})
    assert answer.status_code == 422
    assert field_errors(answer.text) == {"amount": error}
    assert 'aria-invalid="true"' in answer.text


def test_look_up_says_what_is_wrong(app):
    c = client(app, "cashier")
    assert c.get("/cards", params={"uid": "04a1b2c3d4"}).headers["location"] == "/cards/04A1B2C3D4"
    assert field_errors(c.get("/cards", params={"uid": "x"}).text) == {
        "uid": "Enter a card UID (4-64 letters, digits, _ : . -)."
    }
    assert field_errors(c.get("/cards", params={"uid": "FFFFFFFF"}).text) == {"uid": "No card FFFFFFFF."}


def test_console_writes_are_audited_and_held_to_the_operators_limits(app):
    app.state.ceilings = Ceilings(topup_per_day=6000)
    c = client(app, "cashier")
    key = form_key(c.get("/cards/04A1B2C3D4/topup", params={"amount": "50"}).text)
    assert (
        c.post("/cards/04A1B2C3D4/topup", data={"amount": "5000", "key": key}, headers=SAME).status_code
        == 303
    )
    key = form_key(c.get("/cards/04A1B2C3D5/topup", params={"amount": "20"}).text)
    over = c.post("/cards/04A1B2C3D5/topup", data={"amount": "2000", "key": key}, headers=SAME)
    assert over.status_code == 403
    assert "daily ceiling" in messages(over.text)[0]
    assert balance(over.text) == "CHF 0.00"
    with app.state.engine.connect() as conn:
        entries = conn.execute(select(AUDIT.c.actor, AUDIT.c.action, AUDIT.c.amount, AUDIT.c.path)).all()
    assert entries == [("cashier", "top_up", 5000, "/cards/04A1B2C3D4/topup")]


def test_pages_follow_the_permissions(app):
    cashier = client(app, "cashier")
    page = cashier.get("/cards").text
    assert 'href="/cards"' in page
    for path in ("/live", "/machines", "/admin"):
        assert f'href="{path}"' not in page
    for path in ("/admin", "/admin/users", "/admin/keys", "/admin/audit", "/live", "/machines"):
        assert cashier.get(path).status_code == 403, path
    assert cashier.post("/machines/disp-1/price", data={"unit_price": "1"}, headers=SAME).status_code == 403
    auditor = client(app, "auditor")
    assert auditor.get("/admin").headers["location"] == "/admin/audit"
    assert auditor.get("/admin/keys").status_code == 403
    assert "Top up" not in auditor.get("/cards/04A1B2C3D4").text  # reads, books nothing
    admin = client(app, "admin")
    for path in ("/live", "/live/table", "/machines", "/admin/users", "/admin/keys", "/admin/audit"):
        assert admin.get(path).status_code == 200, path


def test_block_refund_and_history(app):
    c = client(app, "cashier")
    key = form_key(c.get("/cards/04A1B2C3D4/topup", params={"amount": "50"}).text)
    c.post("/cards/04A1B2C3D4/topup", data={"amount": "5000", "key": key}, headers=SAME)
    blocked = c.post("/cards/04A1B2C3D4/block", headers=SAME)
    assert messages(c.get(blocked.headers["location"]).text) == ["Card blocked: every tap with it is denied."]
    confirm = c.get("/cards/04A1B2C3D4/refund")
    assert re.search(r'id="refund-amount">CHF 50.00<', confirm.text)  # the bonus lapses
    key = form_key(confirm.text)
    done = c.post("/cards/04A1B2C3D4/refund", data={"key": key}, headers=SAME)
    page = c.get(done.headers["location"]).text
    assert messages(page) == ["Refunded CHF 50.00."]
    assert balance(page) == "CHF 0.00"
    history = re.search(r'<table id="history">.*?</table>', page, re.S).group(0)
    for kind in ("topup", "topup_bonus", "refund", "bonus_forfeit"):
        assert f"<td>{kind}</td>" in history


def test_machines_price_change(app):
    c = client(app, "tech")
    changed = c.post("/machines/disp-1/price", data={"unit_price": "3,20"}, headers=SAME)
    assert changed.headers["location"] == "/machines?changed=disp-1"
    assert messages(c.get(changed.headers["location"]).text) == ["Price of disp-1 is now CHF 3.20."]
    wrong = c.post("/machines/disp-1/price", data={"unit_price": "three"}, headers=SAME)
    assert field_errors(wrong.text) == {"price-disp-1": "Enter a price such as 2.50."}
    free = c.post("/machines/disp-1/price", data={"unit_price": "0"}, headers=SAME)
    assert field_errors(free.text) == {"price-disp-1": "The price may be 0 only for a turnstile."}
    assert c.post("/machines/gate-1/price", data={"unit_price": "0"}, headers=SAME).status_code == 303


def test_admin_users_and_keys(app):
    c = client(app, "admin")
    short = c.post(
        "/admin/users", data={"username": "new", "password": "short", "role": "cashier"}, headers=SAME
    )
    assert field_errors(short.text) == {"user-password": "A password has at least 10 characters."}
    added = c.post(
        "/admin/users",
        data={
            "username": "anna",
            "password": PASSWORD,
            "role": "cashier",
            "outlet_id": "bar",
            "locale": "de",
        },
        headers=SAME,
    )
    assert added.headers["location"] == "/admin/users?done=added&name=anna"
    assert c.post("/admin/users/anna", data={"action": "disable"}, headers=SAME).status_code == 303
    assert ">anna</td><td>cashier</td>" in c.get("/admin/users").text.replace("\n", "").replace("  ", "")
    made = c.post(
        "/admin/keys",
        data={"name": "till 3", "role": "cashier", "outlet_id": "bar", "rate_per_minute": "60"},
        headers=SAME,
    )
    assert made.status_code == 201
    key = re.search(r'id="new-key">([^<]+)<', made.text).group(1)
    assert made.headers["cache-control"] == "no-store"
    till = TestClient(app, base_url=BASE, headers={"X-API-Key": key})
    assert till.get("/api/v1/cards/04A1B2C3D4").status_code == 200
    key_id = key.split(".")[0]
    assert key not in c.get("/admin/keys").text  # shown once
    assert c.post(f"/admin/keys/{key_id}/revoke", headers=SAME).status_code == 303
    assert till.get("/api/v1/cards/04A1B2C3D4").status_code == 401
    audit = c.get("/admin/audit").text
    for action in ("add_user", "change_user", "create_key", "revoke_key"):
        assert f"<td>{action}</td>" in audit
    assert key.split(".")[1] not in audit
    csv = c.get("/api/v1/audit.csv", params={"action": "create_key"})
    assert csv.status_code == 200 and "create_key" in csv.text and key.split(".")[1] not in csv.text


def test_the_console_speaks_german_per_operator(app):
    c = client(app, "kassierer")
    key = form_key(c.get("/cards/04A1B2C3D4/topup", params={"amount": "1234,5"}).text)
    c.post("/cards/04A1B2C3D4/topup", data={"amount": "123450", "key": key}, headers=SAME)
    page = c.get("/cards/04A1B2C3D4").text
    assert '<html lang="de">' in page
    assert "Karte 04A1B2C3D4" in page
    assert balance(page) == "1.296,22 CHF"  # 1,234.50 and its 5 % bonus
    wrong = c.get("/cards/04A1B2C3D4/topup", params={"amount": "x"})
    assert field_errors(wrong.text) == {"amount": "Betrag wie 50 oder 50.00 eingeben."}
    # an operator changes their language; the next page follows
    c.post("/settings/language", data={"locale": "en", "next": "/cards"}, headers=SAME)
    assert '<html lang="en">' in c.get("/cards").text
    # before the login: the browser's language
    assert "Anmelden" in client(app).get("/login", headers={"accept-language": "de-CH,de;q=0.9"}).text


def test_times_are_in_the_sites_time_zone():
    import datetime as dt
    from zoneinfo import ZoneInfo

    moment = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert i18n.local_time(moment, ZoneInfo("Europe/Zurich"), "de") == "01.07.2026 14:00"
    assert i18n.local_time(moment, ZoneInfo("UTC"), "en") == "2026-07-01 12:00"


def test_amounts_are_read_and_written_in_the_currency():
    assert i18n.parse_amount("50", "CHF") == 5000
    assert i18n.parse_amount("50,5", "EUR") == 5050
    assert i18n.parse_amount("1'000.25", "CHF") == 100025
    assert i18n.parse_amount("1.234", "CHF") is None
    assert i18n.parse_amount("500", "JPY") == 500
    assert i18n.parse_amount("5.5", "JPY") is None
    assert i18n.money(123456, "CHF", "en") == "CHF 1,234.56"
    assert i18n.money(-5, "EUR", "de") == "-0,05 EUR"
    assert i18n.money(500, "JPY", "en") == "JPY 500"


def test_every_text_of_the_console_has_its_german():
    folder = Path(i18n.__file__).parent
    sources = [p.read_text() for p in (folder / "templates").glob("*.html")]
    sources += [p.read_text() for p in folder.glob("*.py")]
    texts = set()
    for source in sources:
        texts |= set(re.findall(r'_\(\s*"((?:[^"\\]|\\.)+)"', source))
        texts |= set(re.findall(r"_\(\s*'((?:[^'\\]|\\.)+)'", source))
    from hub.console.admin import ADMIN_PAGES
    from hub.console.web import MENU

    texts |= {text for text, *_ in MENU} | {text for text, *_ in ADMIN_PAGES}
    missing = sorted(t for t in texts if t not in i18n.GERMAN)
    assert missing == []


def test_docs_pages_load_their_assets_from_the_hub(app):
    c = client(app)
    for path, assets in (
        ("/docs", ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css")),
        ("/redoc", ("/docs-assets/redoc.standalone.js",)),
    ):
        page = c.get(path)
        assert page.status_code == 200
        assert "cdn." not in page.text and "fonts.googleapis" not in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for asset in assets:
            assert asset in page.text
            assert c.get(asset).status_code == 200


def test_console_routes_are_not_in_the_openapi_document(app):
    paths = client(app).get("/openapi.json").json()["paths"]
    assert all(p.startswith("/api/v1/") for p in paths)


def test_live_shows_each_controller_its_health_taps_and_refusals(app):
    import asyncio
    import datetime as dt
    from collections import Counter
    from types import SimpleNamespace

    from hub.core.clock import utcnow
    from hub.devices import management, refusals
    from hub.tables.taps import DeviceRequest

    now = utcnow()
    health = {
        "uptime_seconds": 3600,
        "free_heap_bytes": 41000,
        "rssi": -61,
        "reconnects": 2,
        "reader_resets": 1,
        "journal_depth": 3,
        "fw": "1.4.0",
    }
    management.store_reports(app.state.engine, {"disp-1": (now, health)}, [])
    tally = refusals.Tally()
    tally.add("park", "disp-1", "bad_signature", "tag mismatch", now)
    refusals.store(app.state.engine, tally.take())
    old = now - dt.timedelta(minutes=5)
    replies = [
        ('{"k": "grant", "re": "1.a-1"}', now),
        ('{"k": "deny", "re": "1.a-2", "code": "insufficient_funds"}', now),
        ('{"k": "ack", "re": "1.a-3"}', now),  # a report's answer: not a tap
        ('{"k": "grant", "re": "1.a-0"}', old),  # not in the last minute
    ]
    with app.state.engine.begin() as conn:
        conn.execute(
            DeviceRequest.__table__.insert(),
            [
                {"device_id": "disp-1", "request_id": f"r{i}", "reply": body.encode(), "created_at": at}
                for i, (body, at) in enumerate(replies)
            ],
        )
    c = client(app, "tech")
    page = c.get("/live").text
    assert 'hx-get="/live/table"' in page  # the table reloads itself
    assert "no MQTT" in page
    row = re.search(r'<tr id="device-disp-1">.*?</tr>', page, re.S).group(0)
    cells = [re.sub(r"<[^>]+>", " ", cell).split() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1] == ["unknown"]  # nothing heard on its status topic yet
    assert cells[3] == ["2"] and cells[4] == ["1", "insufficient", "funds:", "1"]
    assert cells[5:10] == [["41000"], ["-61"], ["1"], ["3"], ["1.4.0"]]
    assert "bad_signature" in page and "tag mismatch" in page
    # online/offline as the controllers last said on their status topic, stored by whichever
    # hub's bridge heard it: shown by this process, which has no bridge, as by any other
    management.store_reports(
        app.state.engine, {}, [], {"disp-1": (now, "online", False), "gate-1": (now, "offline", False)}
    )
    table = c.get("/live/table").text
    assert re.search(r'<tr id="device-disp-1">\s*<td>disp-1.*?status-online', table, re.S)
    assert re.search(r'<tr id="device-gate-1">\s*<td>gate-1.*?status-offline', table, re.S)
    assert "no MQTT" in table
    # when a hub heard it, as the cell's tooltip
    assert re.search(r'class="status-online" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"', table)
    # with a bridge: its own counters beside the stored states
    connected = asyncio.Event()
    connected.set()
    app.state.bridge = SimpleNamespace(stats=Counter(received=7, refused=1), connected=connected)
    table = c.get("/live/table").text
    assert re.search(r'<tr id="device-disp-1">\s*<td>disp-1.*?status-online', table, re.S)
    assert "Hub: 7 messages, 1 refused; broker connected." in table


def test_issue_replace_and_link_cards(app):
    c = client(app, "cashier")
    wrong = c.post("/cards", data={"medium": "rfid", "new_uid": "zz", "kind": "debit"}, headers=SAME)
    assert field_errors(wrong.text) == {
        "new_uid": "An RFID UID is 8-20 hex digits (or empty: the hub makes one).",
        "credit_limit": "A debit card needs a credit limit above 0.",
    }
    made = c.post("/cards", data={"medium": "rfid", "new_uid": "04beef0001", "kind": "value"}, headers=SAME)
    assert made.headers["location"] == "/cards/04BEEF0001?done=issued"
    assert messages(c.get(made.headers["location"]).text) == ["Card 04BEEF0001 issued."]
    # a lost card: blocked, its balance on a new one
    key = form_key(c.get("/cards/04BEEF0001/topup", params={"amount": "10"}).text)
    c.post("/cards/04BEEF0001/topup", data={"amount": "1000", "key": key}, headers=SAME)
    replaced = c.post("/cards/04BEEF0001/replace", data={"new_uid": "04beef0002"}, headers=SAME)
    assert replaced.headers["location"] == "/cards/04BEEF0002?done=replaced&old=04BEEF0001"
    page = c.get(replaced.headers["location"]).text
    assert messages(page) == ["Card 04BEEF0001 is blocked; its balance is on 04BEEF0002."]
    assert balance(page) == "CHF 10.00"
    assert "blocked" in c.get("/cards/04BEEF0001").text
    # a digital card, and its QR code for those who may read holders' data
    digital = c.post(
        "/cards", data={"medium": "digital", "kind": "value", "holder_name": "Eva"}, headers=SAME
    )
    wallet = re.match(r"/cards/(QR-[A-Z2-7]+)\?done=issued", digital.headers["location"]).group(1)
    assert "/qr.svg" not in c.get(f"/cards/{wallet}").text
    admin = client(app, "admin")
    assert 'id="qr"' in admin.get(f"/cards/{wallet}").text
    assert admin.get(f"/api/v1/cards/{wallet}/qr.svg").status_code == 200
    # the RFID card joins the digital card's wallet
    bad = c.post("/cards/04BEEF0002/link", data={"wallet_uid": "?"}, headers=SAME)
    assert field_errors(bad.text) == {"wallet_uid": "Enter a card UID (4-64 letters, digits, _ : . -)."}
    linked = c.post("/cards/04BEEF0002/link", data={"wallet_uid": wallet}, headers=SAME)
    assert linked.headers["location"] == "/cards/04BEEF0002?done=linked"
    assert balance(c.get(f"/cards/{wallet}").text) == "CHF 10.00"
    assert f"Linked to the digital card {wallet}." in c.get("/cards/04BEEF0002").text
    # what the domain refuses is said at the top (a digital card links to nothing)
    refused = c.post(f"/cards/{wallet}/link", data={"wallet_uid": wallet}, headers=SAME)
    assert refused.status_code == 409 and messages(refused.text)[0].startswith("Not done:")


def test_register_a_controller(app):
    c = client(app, "tech")
    page = c.get("/machines").text
    assert 'action="/machines"' in page
    wrong = c.post(
        "/machines", data={"id": "a b", "site": "park", "kind": "dispenser", "unit_price": "0"}, headers=SAME
    )
    assert field_errors(wrong.text) == {
        "new-id": "A device id is 1-40 letters, digits or _ . -.",
        "new-unit_price": "The price may be 0 only for a turnstile.",
    }
    made = c.post(
        "/machines",
        data={"id": "disp-9", "site": "park", "kind": "dispenser", "unit_price": "2.5"},
        headers=SAME,
    )
    assert made.status_code == 201
    key = re.search(r'id="device-key">([0-9a-f]{64})<', made.text).group(1)
    assert "--device-id disp-9 --site park --kind dispenser" in made.text
    assert key not in c.get("/machines").text
    assert '<tr id="machine-disp-9">' in c.get("/machines").text
    again = c.post(
        "/machines",
        data={"id": "disp-9", "site": "park", "kind": "dispenser", "unit_price": "2.5"},
        headers=SAME,
    )
    assert again.status_code == 409 and messages(again.text)[0].startswith("Not done:")
    with app.state.engine.connect() as conn:
        after = conn.execute(select(AUDIT.c.after).where(AUDIT.c.action == "register_device")).scalar()
    assert after["key"] == "***"
    assert "Register a controller" not in client(app, "auditor").get("/machines").text


def test_loyalty_tiers_are_edited_and_the_bonus_follows(app):
    c = client(app, "tech")
    page = c.get("/loyalty").text
    assert 'value="50.00"' in page and 'value="5"' in page  # the site's tier: 5 % from 50.00
    wrong = c.post(
        "/loyalty/tiers",
        data={"min_amount_0": "50", "percent_0": "five", "min_amount_1": "x", "percent_1": "3"},
        headers=SAME,
    )
    assert wrong.status_code == 422
    assert field_errors(wrong.text) == {
        "percent_0": "A percentage from 0 to 100, e.g. 5 or 2.5.",
        "min_amount_1": "Enter an amount such as 50 or 50.00.",
    }
    same = c.post(
        "/loyalty/tiers",
        data={"min_amount_0": "50", "percent_0": "5", "min_amount_1": "50.00", "percent_1": "7"},
        headers=SAME,
    )
    assert "Two tiers start at the same amount." in same.text
    saved = c.post(
        "/loyalty/tiers",
        data={
            "min_amount_0": "20",
            "percent_0": "2,5",
            "min_amount_1": "100",
            "percent_1": "10",
            "min_amount_2": "",
        },
        headers=SAME,
    )
    assert saved.headers["location"] == "/loyalty?saved=1"
    assert messages(c.get("/loyalty?saved=1").text) == ["Top-up tiers saved."]
    hint = client(app, "cashier").get("/cards/04A1B2C3D4/topup/bonus", params={"amount": "40"})
    assert hint.text.strip() == "Bonus for this amount: CHF 1.00"
    assert client(app, "cashier").get("/loyalty").status_code == 403
    assert "Save the tiers" not in client(app, "auditor").get("/loyalty").text


def test_money_shows_the_ledgers_summing_to_zero_with_csv(app):
    c = client(app, "admin")
    key = form_key(c.get("/cards/04A1B2C3D4/topup", params={"amount": "60"}).text)
    c.post("/cards/04A1B2C3D4/topup", data={"amount": "6000", "key": key}, headers=SAME)
    page = c.get("/money").text
    row = re.search(r"<tr><td>CHF</td>.*?</tr>", page).group(0)
    assert row.endswith("<td>yes</td></tr>")
    csv = c.get("/money/ledgers.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[:2] == ["ledger,posted,pending", "CHF,0,0"]
    assert c.get("/money/settlement.csv").text.startswith("outlet_id,owed_to_outlet")
    assert c.get("/money/nothing.csv").status_code == 404
    assert client(app, "cashier").get("/money").status_code == 403


def test_the_origin_is_compared_by_host_so_a_tls_proxy_may_front_the_hub(app):
    c = client(app, "admin")
    # the proxy speaks https to the browser and http to the hub; the host is the same
    behind = TestClient(app, base_url="http://hub.test", follow_redirects=False, cookies=c.cookies)
    assert behind.post("/cards/04A1B2C3D4/block", headers={"origin": "https://hub.test"}).status_code == 303
    assert (
        behind.post("/cards/04A1B2C3D4/unblock", headers={"origin": "https://hub.test:8443"}).status_code
        == 403
    )
    assert behind.post("/cards/04A1B2C3D4/unblock", headers={"origin": "null"}).status_code == 403


def test_look_up_by_holder_or_a_scanned_qr_code(app):
    admin = client(app, "admin")
    made = admin.post(
        "/cards", data={"medium": "digital", "kind": "value", "holder_name": "Eva Muster"}, headers=SAME
    )
    uid = made.headers["location"].split("/")[2].split("?")[0]
    admin.post("/cards", data={"medium": "rfid", "kind": "value", "holder_name": "Evan 100%_x"}, headers=SAME)
    found = admin.get("/cards", params={"holder": "eva"}).text
    assert re.findall(r"<td>(Eva[^<]*)</td>", found) == ["Eva Muster", "Evan 100%_x"]
    assert re.findall(r"<td>(Eva[^<]*)</td>", admin.get("/cards", params={"holder": "100%_"}).text) == [
        "Evan 100%_x"
    ]
    assert "No card of a holder named so." in admin.get("/cards", params={"holder": "%%"}).text
    assert field_errors(admin.get("/cards", params={"holder": "e"}).text) == {
        "holder": "Enter 2-100 letters of the name."
    }
    # a QR scanner types the digital card's token into the UID field
    assert admin.get("/cards", params={"uid": uid.lower()}).headers["location"] == f"/cards/{uid}"
    # a cashier may not search people by name
    cashier = client(app, "cashier").get("/cards", params={"holder": "eva"}).text
    assert 'id="holder"' not in cashier and "Eva Muster" not in cashier


def test_reboot_a_controller_from_the_machines_page(app):
    c = client(app, "tech")
    sent = c.post("/machines/disp-1/reboot", headers=SAME)
    assert sent.headers["location"] == "/machines?rebooted=disp-1"
    page = c.get(sent.headers["location"]).text
    assert messages(page) == ["Reboot sent to disp-1."]
    row = re.search(r'<tr id="machine-disp-1">.*?</tr>', page, re.S).group(0)
    assert "reboot #1: pending" in re.sub(r"\s+", " ", row)  # no MQTT here: sent when it comes online
    assert c.post("/machines/nothing/reboot", headers=SAME).status_code == 404
    with app.state.engine.connect() as conn:
        entry = conn.execute(
            select(AUDIT.c.action, AUDIT.c.request).where(AUDIT.c.action == "send_command")
        ).one()
    assert entry.request == {"k": "reboot"}


def test_a_basket_preview_shows_the_points_the_rules_give(app):
    from clients import api_client

    api = api_client(app, "admin")
    assert api.post("/api/v1/product-groups", json={"id": "drinks"}).status_code == 201
    article = {"id": "beer", "product_group_id": "drinks", "revenue_group": "bar_drinks", "price": 500}
    assert api.post("/api/v1/articles", json=article).status_code == 201
    settings = {
        "hours_until_available": 0,
        "default_validity_days": None,
        "enabled_stores": ["bar"],
        "point_value": 10,
    }
    assert api.put("/api/v1/bonus-settings", json=settings).status_code == 200
    rule = {
        "kind": "article",
        "name": "beer bonus",
        "stores": ["bar"],
        "targets": [{"id": "beer", "points": 2}],
    }
    assert api.post("/api/v1/bonus-rules", json=rule).status_code == 201
    c = client(app, "auditor")
    page = c.get(
        "/loyalty/preview",
        params={"card_uid": "04a1b2c3d4", "outlet_id": "bar", "article_0": "beer", "quantity_0": "3"},
    ).text
    assert re.search(r'id="quote-total">CHF 15.00<', page)
    assert re.search(r'id="quote-points">6<', page)
    assert "beer bonus" in page
    wrong = c.get("/loyalty/preview", params={"card_uid": "x", "outlet_id": "bar", "quantity_0": "2"})
    assert field_errors(wrong.text) == {
        "card_uid": "Enter a card UID (4-64 letters, digits, _ : . -).",
        "article_0": "Choose an article.",
    }
    unknown = c.get(
        "/loyalty/preview", params={"card_uid": "04A1B2C3D4", "outlet_id": "bar", "article_0": "wine"}
    )
    assert unknown.status_code == 404 and messages(unknown.text)[0].startswith("Not done:")
    with app.state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AUDIT)).scalar() == 4  # the API's setup only


def test_money_charts_what_each_outlet_took(app):
    from clients import api_client

    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "drinks"})
    api.post("/api/v1/articles", json={"id": "beer", "product_group_id": "drinks", "price": 500})
    api.post("/api/v1/cards/04A1B2C3D4/topups", json={"amount": 5000})
    paid = api.post(
        "/api/v1/baskets/pay",
        json={"card_uid": "04A1B2C3D4", "outlet_id": "bar", "lines": [{"article_id": "beer", "quantity": 2}]},
    )
    assert paid.status_code == 201, paid.text
    page = client(app, "admin").get("/money").text
    chart = re.search(r'<svg id="revenue-chart".*?</svg>', page, re.S).group(0)
    assert "<text" in chart and ">bar<" in chart and "CHF 10.00" in chart
    assert 'id="activities"' in page
    csv = client(app, "admin").get("/money/revenue.csv").text.splitlines()
    assert csv == ["kind,name,amount", "revenue,bar,1000"]


def test_money_shows_who_owes_whom_for_the_periods_card_money(app):
    """30.00 topped up at the bar's desk, 12.00 of it spent at the shop: the bar owes the shop
    12.00, in today's statement on the Money page and in its CSV."""
    from clients import api_client

    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "toys"})
    api.post("/api/v1/articles", json={"id": "ball", "product_group_id": "toys", "price": 600})
    desk = client(app, "cashier")
    confirm = desk.get("/cards/04A1B2C3D5/topup", params={"amount": "30"})
    desk.post("/cards/04A1B2C3D5/topup", data={"amount": "3000", "key": form_key(confirm.text)}, headers=SAME)
    paid = api.post(
        "/api/v1/baskets/pay",
        json={
            "card_uid": "04A1B2C3D5",
            "outlet_id": "shop",
            "lines": [{"article_id": "ball", "quantity": 2}],
        },
    )
    assert paid.status_code == 201, paid.text
    page = client(app, "admin").get("/money").text
    table = re.search(r'<table id="owing">.*?</table>', page, re.S).group(0)
    rows = {
        cells[0]: cells[1:]
        for cells in (re.findall(r"<td[^>]*>([^<]*)<", row) for row in table.split("<tr>")[2:])
    }
    assert rows["Bar Lagune"] == ["CHF 30.00", "CHF 0.00", "CHF 0.00", "CHF -12.00"]
    assert rows["Shop"] == ["CHF 0.00", "CHF 12.00", "CHF 0.00", "CHF 12.00"]
    assert re.findall(r'<ul id="owing-payments"><li>([^<]*)<', page) == ["bar pays shop CHF 12.00"]
    csv = client(app, "admin").get("/money/owing.csv").text.splitlines()
    assert "payment,bar,pays,shop,1200," in csv
    assert client(app, "cashier").get("/money/owing.csv").status_code == 403


def test_a_machines_page_its_deny_list_and_loyalty_settings(app):
    from clients import api_client

    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "drinks"})
    api.post("/api/v1/articles", json={"id": "cola", "product_group_id": "drinks", "price": 250})
    c = client(app, "tech")
    c.post("/cards/04A1B2C3D6/block", headers=SAME)
    page = c.get("/machines/disp-1").text
    assert "Machine disp-1" in page
    assert re.search(r'id="deny-status">0 / 1<', page) and "Not yet: 04A1B2C3D6" in page
    assert "Not in the loyalty engine: taps cost the unit price." in page
    wrong = c.post("/machines/disp-1/loyalty", data={"outlet_id": "bar", "article_id": ""}, headers=SAME)
    assert field_errors(wrong.text) == {"article_id": "Choose an article."}
    unknown = c.post(
        "/machines/disp-1/loyalty", data={"outlet_id": "bar", "article_id": "nope"}, headers=SAME
    )
    assert unknown.status_code == 404 and messages(unknown.text)[0].startswith("Not done:")
    saved = c.post("/machines/disp-1/loyalty", data={"outlet_id": "bar", "article_id": "cola"}, headers=SAME)
    assert saved.headers["location"] == "/machines/disp-1?saved=loyalty"
    page = c.get(saved.headers["location"]).text
    assert messages(page) == ["Loyalty settings saved."]
    assert "Sells cola for bar" in page
    assert api.get("/api/v1/devices/disp-1/loyalty").json()["article_id"] == "cola"
    cleared = c.post("/machines/disp-1/loyalty/clear", headers=SAME)
    assert "The machine charges its unit price only." in c.get(cleared.headers["location"]).text
    assert api.get("/api/v1/devices/disp-1/loyalty").status_code == 404
    assert c.get("/machines/nothing").status_code == 404
    # a cashier bound to the bar may not change a machine's settings
    assert client(app, "cashier").post("/machines/disp-1/loyalty", data={}, headers=SAME).status_code == 403


def test_every_page_on_both_databases(db_url):
    """The pages' own queries (holder search, the last minute's taps, revenue, deny lists) on
    SQLite and PostgreSQL."""
    from hub.core.clock import utcnow
    from hub.tables.taps import DeviceRequest

    app = make_site(db_url)
    try:
        with app.state.engine.begin() as conn:
            conn.execute(
                DeviceRequest.__table__.insert(),
                [
                    {
                        "device_id": "disp-1",
                        "request_id": "r1",
                        "reply": b'{"k": "deny", "code": "blocked_card"}',
                        "created_at": utcnow(),
                    }
                ],
            )
        c = client(app, "admin")
        key = form_key(c.get("/cards/04A1B2C3D4/topup", params={"amount": "50"}).text)
        done = c.post("/cards/04A1B2C3D4/topup", data={"amount": "5000", "key": key}, headers=SAME)
        assert balance(c.get(done.headers["location"]).text) == "CHF 52.50"
        c.post("/cards", data={"medium": "rfid", "kind": "value", "holder_name": "Anna 50%"}, headers=SAME)
        assert "Anna 50%" in c.get("/cards", params={"holder": "NA 50%"}).text
        live = c.get("/live/table").text
        assert "card blocked: 1" in live
        for path in (
            "/machines",
            "/machines/disp-1",
            "/loyalty",
            "/loyalty/point-rules/new",
            "/loyalty/chain-rules/new",
            "/money",
            "/money?from=2026-11-01&to=2026-11-30",
            "/money/attendance.csv",
            "/admin/users",
            "/admin/keys",
            "/admin/audit",
        ):
            assert c.get(path).status_code == 200, path
        welcome = _rule_form(name="welcome", kind="registration", points="25", store_bar="on")
        made = c.post("/loyalty/point-rules", data=welcome, headers=SAME)
        rule_path = made.headers["location"].split("?rule=")[1].split("#")[0]
        edited = c.post(
            f"/loyalty/point-rules/{rule_path}", data=welcome | {"store_shop": "on"}, headers=SAME
        )
        assert edited.status_code == 303, edited.text
        assert 'name="store_shop" checked' in c.get(f"/loyalty/point-rules/{rule_path}").text
    finally:
        app.state.engine.dispose()


def test_what_people_type_is_shown_as_text(app):
    c = client(app, "admin")
    c.post(
        "/cards",
        data={"medium": "rfid", "kind": "value", "holder_name": "<script>alert(1)</script>"},
        headers=SAME,
    )
    page = c.get("/cards", params={"holder": "<script>"}).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in c.get("/cards", params={"uid": '"><img src=x>'}).text


def test_rules_are_switched_on_and_off_from_the_loyalty_page(app):
    from clients import api_client

    api = api_client(app, "admin")
    rule = api.post(
        "/api/v1/bonus-rules",
        json={"kind": "registration", "name": "welcome", "points": 25, "stores": ["bar"]},
    ).json()
    api.post("/api/v1/gift-items", json={"id": "drink", "name": "A drink", "value": 400})
    chain = api.post(
        "/api/v1/gift-rules",
        json={"name": "third slide", "site_id": "park", "activities": 3, "item_id": "drink"},
    )
    assert chain.status_code == 201, chain.text
    c = client(app, "tech")
    page = c.get("/loyalty").text
    assert "A drink" in page and "3 activities → 1 × drink" in page
    off = c.post(f"/loyalty/point-rules/{rule['id']}/deactivate", headers=SAME)
    assert off.headers["location"] == f"/loyalty#points-rule-{rule['id']}"
    assert api.get(f"/api/v1/bonus-rules/{rule['id']}").json()["active"] is False
    chain_id = chain.json()["id"]
    c.post(f"/loyalty/chain-rules/{chain_id}/deactivate", headers=SAME)
    assert api.get("/api/v1/gift-rules").json()[0]["active"] is False
    c.post(f"/loyalty/chain-rules/{chain_id}/activate", headers=SAME)
    assert api.get("/api/v1/gift-rules").json()[0]["active"] is True
    assert c.post("/loyalty/point-rules/999/activate", headers=SAME).status_code == 404
    assert (
        client(app, "auditor").post(f"/loyalty/point-rules/{rule['id']}/activate", headers=SAME).status_code
        == 403
    )


def test_a_form_sent_after_the_session_ended_leads_back_to_its_page(app):
    c = client(app)
    sent = c.post("/cards/04A1B2C3D4/block", headers={"referer": BASE + "/cards/04A1B2C3D4"})
    assert sent.status_code == 303
    assert sent.headers["location"] == "/login?next=/cards/04A1B2C3D4"
    assert "active" in client(app, "admin").get("/cards/04A1B2C3D4").text  # nothing was done


def test_an_admin_adds_an_outlet(app):
    c = client(app, "admin")
    wrong = c.post("/loyalty/outlets", data={"id": "a b", "site_id": "park", "kind": "Bar"}, headers=SAME)
    assert field_errors(wrong.text) == {
        "outlet-id": "An id is 1-40 letters, digits or _ . -.",
        "outlet-kind": "A kind is 1-20 small letters or _, e.g. bar, shop, slide.",
    }
    added = c.post(
        "/loyalty/outlets",
        data={"id": "slide", "site_id": "park", "name": "Slide", "kind": "slide"},
        headers=SAME,
    )
    assert added.headers["location"] == "/loyalty?outlet=slide#outlets"
    page = c.get("/loyalty?outlet=slide").text
    assert messages(page) == ["Outlet slide added."]
    assert "<td>slide</td><td>Slide</td>" in page
    again = c.post("/loyalty/outlets", data={"id": "slide", "site_id": "park", "kind": "slide"}, headers=SAME)
    assert again.status_code == 409
    assert (
        'action="/loyalty/outlets"' not in client(app, "tech").get("/loyalty").text
    )  # a manager: no sites.write


def _rule_form(**fields) -> dict:
    """A point-rule form as the browser sends it: checked boxes only."""
    form = {"name": "ice bonus", "kind": "article", "active": "on", "on_holidays": "on", "expiry": "standard"}
    form |= {f"in_{c}": "on" for c in ("webshop", "app", "till", "machine")}
    form |= {f"out_{c}": "on" for c in ("pickup", "delivery", "counter")}
    form |= {f"day_{d}": "on" for d in range(7)}
    return form | fields


def test_point_rules_are_made_edited_and_deleted_in_the_console(app):
    from clients import api_client

    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "ices"})
    api.post("/api/v1/articles", json={"id": "ice", "product_group_id": "ices", "price": 300})
    settings = {"hours_until_available": 0, "default_validity_days": None, "enabled_stores": ["bar"]}
    api.put("/api/v1/bonus-settings", json=settings | {"point_value": 10})
    c = client(app, "tech")
    assert 'href="/loyalty/point-rules/new"' in c.get("/loyalty").text
    assert 'id="rule-form"' in c.get("/loyalty/point-rules/new").text
    wrong = c.post(
        "/loyalty/point-rules",
        data=_rule_form(
            name="",
            store_bar="on",
            valid_from="2026-07-01T10:00",
            valid_to="yesterday",
            target_id_0="nothing",
            target_points_0="-3",
            target_id_1="ice",
            target_points_1="2",
            target_id_2="ice",
            target_points_2="1",
        ),
        headers=SAME,
    )
    assert wrong.status_code == 422
    assert field_errors(wrong.text) == {
        "name": "Enter a name of at most 100 characters.",
        "valid_to": "A date and time such as 2026-07-01 10:00.",
        "target_id_0": "Choose an article, product group or topping group.",
        "target_points_0": "Whole points from 0 to 1000000.",
        "target_id_2": "This target is named twice.",
    }
    assert 'id="target_id_0" name="target_id_0" list="target-ids" value="nothing"' in wrong.text  # kept
    made = c.post(
        "/loyalty/point-rules",
        data=_rule_form(
            store_bar="on",
            valid_from="2027-07-01T10:00",
            target_id_0="ice",
            target_points_0="4",
            target_vouchers_0="goods, points",
        ),
        headers=SAME,
    )
    assert made.status_code == 303, made.text
    rule_id = int(re.search(r"rule=(\d+)", made.headers["location"]).group(1))
    rule = api.get(f"/api/v1/bonus-rules/{rule_id}").json()
    assert rule["stores"] == ["bar"] and rule["weekdays"] == list(range(7))
    assert rule["valid_from"].startswith("2027-07-01T08:00")  # 10:00 in Zurich's summer time
    assert rule["targets"] == [
        {
            "id": "ice",
            "points": 4,
            "exclusive_voucher_types": ["goods", "points"],
            "exclude_menu_contents": False,
        }
    ]
    assert messages(c.get(made.headers["location"]).text) == [f"Bonus-point rule {rule_id} saved."]
    preview = {"card_uid": "04A1B2C3D4", "outlet_id": "bar", "article_0": "ice", "quantity_0": "2"}
    assert re.search(r'id="quote-points">0<', c.get("/loyalty/preview", params=preview).text)  # not yet valid
    form = c.get(f"/loyalty/point-rules/{rule_id}").text
    assert 'value="2027-07-01T10:00"' in form and 'value="goods, points"' in form
    edited = c.post(
        f"/loyalty/point-rules/{rule_id}",
        data=_rule_form(store_bar="on", target_id_0="ice", target_points_0="5"),
        headers=SAME,
    )
    assert edited.status_code == 303, edited.text
    assert re.search(r'id="quote-points">10<', c.get("/loyalty/preview", params=preview).text)
    with app.state.engine.connect() as conn:
        entry = conn.execute(
            select(AUDIT.c.request, AUDIT.c.before).where(AUDIT.c.action == "update_rule")
        ).one()
    assert entry.before["targets"][0]["points"] == 4 and entry.request["targets"][0]["points"] == 5
    # a basket-value rule wants its amount; the kind's fields are checked for the kind chosen
    basket = c.post(
        "/loyalty/point-rules", data=_rule_form(kind="basket_value", store_bar="on"), headers=SAME
    )
    assert field_errors(basket.text) == {
        "amount_per_point": "Enter the amount that earns one point, e.g. 10.00."
    }
    # an auditor reads the rules but gets no form; a cashier not even the page
    assert 'href="/loyalty/point-rules/new"' not in client(app, "auditor").get("/loyalty").text
    assert client(app, "auditor").get("/loyalty/point-rules/new").status_code == 403
    assert client(app, "cashier").get(f"/loyalty/point-rules/{rule_id}").status_code == 403
    assert (
        client(app, "cashier").post(f"/loyalty/point-rules/{rule_id}/delete", headers=SAME).status_code == 403
    )
    # a manager of one outlet changes no rule: rules concern every outlet
    from hub.access import operators

    with app.state.engine.begin() as conn:
        operators.add_operator(conn, "barchef", PASSWORD, "manager", outlet_id="bar")
    barchef = client(app, "barchef")
    assert 'href="/loyalty/point-rules/new"' not in barchef.get("/loyalty").text
    assert barchef.get(f"/loyalty/point-rules/{rule_id}").status_code == 403
    assert barchef.post(f"/loyalty/point-rules/{rule_id}/delete", headers=SAME).status_code == 403
    assert barchef.get("/loyalty/gift-items/new").status_code == 403
    deleted = c.post(f"/loyalty/point-rules/{rule_id}/delete", headers=SAME)
    assert deleted.headers["location"] == f"/loyalty?deleted={rule_id}#rules"
    assert api.get(f"/api/v1/bonus-rules/{rule_id}").status_code == 404
    assert re.search(r'id="quote-points">0<', c.get("/loyalty/preview", params=preview).text)
    assert c.get(f"/loyalty/point-rules/{rule_id}").status_code == 404


def test_the_domains_messages_are_german_on_german_pages(app):
    from hub.core.errors import Conflict, Forbidden, InsufficientFunds, NotFound

    assert (
        i18n.domain_message(InsufficientFunds("account 7 has 300, needs 500"), "de")
        == "Guthaben reicht nicht"
    )
    assert i18n.domain_message(InsufficientFunds("account 7 has 300, needs 500"), "en") == (
        "insufficient funds (account 7 has 300, needs 500)"
    )
    assert i18n.domain_message(NotFound("no device d9"), "de") == "Nicht vorhanden: Gerät d9."
    assert i18n.domain_message(Conflict("something new"), "de") == "something new"  # no wording known
    assert i18n.domain_message(Forbidden("top_up would take you over your daily ceiling of 50000"), "de") == (
        "Die Aufladung würde Ihr Tageslimit von 50000 überschreiten."
    )
    c = client(app, "kassierer")
    c.post("/cards/04A1B2C3D4/block", headers=SAME)
    refused = c.post("/cards/04A1B2C3D4/replace", data={"new_uid": "04A1B2C3FF"}, headers=SAME)
    assert refused.status_code == 409
    assert messages(refused.text) == ["Nicht ausgeführt: Karte 04A1B2C3D4 ist gesperrt."]
    assert messages(client(app, "admin").post("/cards/04A1B2C3D4/replace", data={}, headers=SAME).text) == [
        "Not done: card 04A1B2C3D4 is blocked"
    ]


def test_a_controllers_provisioning_file_is_downloaded_by_devices_write_only_and_audited(app):
    from firmware import config as fwconfig
    from hub.devices.registry import DEVICES, mqtt_credentials

    c = client(app, "tech")
    page = c.get("/machines/disp-1").text
    assert 'id="provision-form"' in page
    assert "tapgift fw flash --port /dev/ttyUSB0 --provision disp-1.json" in page
    wrong = c.post(
        "/machines/gate-1/provision",
        data={"broker": "mqtt://u:p@10.0.0.2", "wifi_ssid": "", "wifi_password": "secret", "pins": "[1]"},
        headers=SAME,
    )
    assert wrong.status_code == 422
    assert unescaped(field_errors(wrong.text)) == {
        "prov-broker": "The broker as the controllers reach it, e.g. mqtt://10.0.0.2:1883.",
        "prov-wifi_ssid": "The Wi-Fi's name (SSID), 1-32 characters.",
        "prov-pins": 'A JSON object such as {"units": 2}, or empty.',
    }
    assert "secret" not in wrong.text  # the password is not sent back
    sensorless = c.post(
        "/machines/gate-1/provision",
        data={"broker": "mqtt://10.0.0.2:1883", "wifi_ssid": "park", "wifi_password": "pw"},
        headers=SAME,
    )
    assert unescaped(field_errors(sensorless.text)) == {
        "prov-pins": 'A turnstile needs its sensor\'s pin, e.g. {"sensor": 4}.'
    }
    got = c.post(
        "/machines/disp-1/provision",
        data={
            "broker": "mqtt://10.0.0.2:1883",
            "wifi_ssid": "park",
            "wifi_password": "pw",
            "profile": '{"units": 2}',
        },
        headers=SAME,
    )
    assert got.status_code == 200, got.text
    assert got.headers["content-disposition"] == 'attachment; filename="disp-1.json"'
    assert got.headers["cache-control"] == "no-store"
    with app.state.engine.connect() as conn:
        key = conn.execute(select(DEVICES.c.key_hex).where(DEVICES.c.id == "disp-1")).scalar_one()
        entry = conn.execute(select(AUDIT).where(AUDIT.c.action == "download_provisioning")).mappings().one()
    cfg = fwconfig.from_dict(got.json())  # the board's own parser takes it
    user, password = mqtt_credentials("disp-1", key)
    assert (cfg.device, cfg.site, cfg.key) == ("disp-1", "park", key)
    assert cfg.broker == {"host": "10.0.0.2", "port": 1883, "user": user, "password": password, "tls": False}
    assert cfg.profile["units"] == 2 and cfg.wifi == {"ssid": "park", "password": "pw"}
    # the file `tapgift device add --out` writes for the same device is this one with the
    # firmware's defaults written out
    from hil import provisioning as cli_provisioning

    written = cli_provisioning.build(
        "disp-1", "park", key, "mqtt://10.0.0.2:1883", "park", "pw", profile={"units": 2}
    )
    assert written == {**got.json(), "profile": cfg.profile, "pins": cfg.pins}
    assert (entry["actor"], entry["target"]) == ("tech", {"device_id": "disp-1"})
    assert key not in str(dict(entry)) and "pw" not in str(entry["request"])
    # devices.read alone sees the page but not the form, and may not download
    auditor = client(app, "auditor")
    assert 'id="provision-form"' not in auditor.get("/machines/disp-1").text
    assert auditor.post("/machines/disp-1/provision", data={}, headers=SAME).status_code == 403
    assert c.post("/machines/nothing/provision", data={}, headers=SAME).status_code == 404


def test_discount_groups_gift_items_and_chain_rules_are_made_in_the_console(app):
    from clients import api_client

    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "drinks"})
    api.post("/api/v1/articles", json={"id": "cola", "product_group_id": "drinks", "price": 250})
    c = client(app, "tech")
    loyalty = c.get("/loyalty").text
    for path in ("/loyalty/discount-groups/new", "/loyalty/gift-items/new", "/loyalty/chain-rules/new"):
        assert f'href="{path}"' in loyalty
        assert 'id="loyalty-form"' in c.get(path).text
        assert client(app, "auditor").get(path).status_code == 403
    wrong = c.post(
        "/loyalty/discount-groups",
        data={
            "id": "staff",
            "scope_0": "general",
            "target_0": "cola",
            "percent_0": "100",
            "percent_1": "120",
        },
        headers=SAME,
    )
    assert field_errors(wrong.text) == {
        "target_0": "A general rate has no target.",
        "percent_1": "A percentage from 0 to 100, e.g. 5 or 2.5.",
    }
    made = c.post(
        "/loyalty/discount-groups",
        data={
            "id": "staff",
            "name": "Staff",
            "scope_0": "general",
            "percent_0": "100",
            "scope_1": "article",
            "target_1": "cola",
            "percent_1": "50",
        },
        headers=SAME,
    )
    assert made.headers["location"] == "/loyalty?made=discount-group#discount-groups"
    assert api.get("/api/v1/discount-groups").json() == [
        {
            "id": "staff",
            "name": "Staff",
            "rates": [
                {"scope": "article", "target": "cola", "percent": "50"},
                {"scope": "general", "target": "", "percent": "100"},
            ],
        }
    ]
    again = c.post("/loyalty/discount-groups", data={"id": "staff"}, headers=SAME)
    assert again.status_code == 409 and messages(again.text) == ["Not done: discount group staff exists"]
    form = c.get("/loyalty/discount-groups/staff/edit").text
    assert 'name="id" value="staff" readonly' in form and 'name="target_0" value="cola"' in form
    edited = c.post(
        "/loyalty/discount-groups/staff/edit",
        data={"name": "Staff and family", "scope_0": "general", "percent_0": "30"},
        headers=SAME,
    )
    assert edited.headers["location"] == "/loyalty?made=discount-group-saved#discount-groups"
    assert api.get("/api/v1/discount-groups").json() == [
        {
            "id": "staff",
            "name": "Staff and family",
            "rates": [{"scope": "general", "target": "", "percent": "30"}],
        }
    ]
    api.put("/api/v1/cards/04A1B2C3D4/discounts", json={"group": "staff"})
    held = c.post("/loyalty/discount-groups/staff/delete", headers=SAME)
    assert held.status_code == 409 and "holds 1 cards" in held.text
    api.put("/api/v1/cards/04A1B2C3D4/discounts", json={"group": None})
    gone = c.post("/loyalty/discount-groups/staff/delete", headers=SAME)
    assert gone.headers["location"] == "/loyalty?made=discount-group-deleted#discount-groups"
    assert api.get("/api/v1/discount-groups").json() == []
    wrong = c.post(
        "/loyalty/gift-items",
        data={"id": "a drink", "value": "4.001", "redeem_kinds": "Bar", "points_level": "5"},
        headers=SAME,
    )
    assert field_errors(wrong.text) == {
        "id": "1-32 letters, digits, _ or -.",
        "value": "Enter an amount such as 4.00.",
        "redeem_kinds": "Outlet kinds are small letters or _, separated by commas.",
        "points_price": "A points level needs a points price.",
    }
    item = {
        "id": "DRINK",
        "name": "A drink",
        "value": "4",
        "voucher_type": "goods",
        "redeem_outlets_bar": "on",
    }
    assert c.post("/loyalty/gift-items", data=item | {"valid_days": "30"}, headers=SAME).status_code == 303
    got = api.get("/api/v1/gift-items/DRINK").json()
    assert (got["value"], got["redeem_outlets"], got["valid_days"]) == (400, ["bar"], 30)
    form = c.get("/loyalty/gift-items/DRINK/edit").text
    assert 'name="value" value="4.00" readonly' in form and 'name="redeem_outlets_bar" checked' in form
    edited = c.post(
        "/loyalty/gift-items/DRINK/edit",
        data=item | {"value": "9", "name": "A cold drink", "redeem_outlets_shop": "on", "valid_days": ""},
        headers=SAME,
    )
    assert edited.headers["location"] == "/loyalty?made=gift-item-saved#gift-items"
    got = api.get("/api/v1/gift-items/DRINK").json()
    assert (got["name"], got["value"], got["redeem_outlets"], got["valid_days"]) == (
        "A cold drink",
        400,  # the value stays: the units granted are owed at it
        ["bar", "shop"],
        None,
    )
    wrong = c.post(
        "/loyalty/chain-rules",
        data={"name": "slides", "site_id": "park", "item_id": "DRINK", "activities": "0"},
        headers=SAME,
    )
    assert field_errors(wrong.text) == {"activities": "A whole number from 1 to 1000."}
    rule = {
        "name": "third slide",
        "site_id": "park",
        "item_id": "DRINK",
        "activities": "3",
        "active": "on",
        "outlet_ids_shop": "on",
    }
    assert c.post("/loyalty/chain-rules", data=rule, headers=SAME).status_code == 303
    (chain,) = api.get("/api/v1/gift-rules").json()
    assert (chain["activities"], chain["units"], chain["outlet_ids"], chain["active"]) == (
        3,
        1,
        ["shop"],
        True,
    )
    assert messages(c.get("/loyalty?made=chain-rule").text) == ["Chain rule added."]
    form = c.get(f"/loyalty/chain-rules/{chain['id']}").text
    assert 'name="outlet_ids_shop" checked' in form and 'value="third slide"' in form
    edited = c.post(
        f"/loyalty/chain-rules/{chain['id']}", data=rule | {"activities": "4", "repeat": "on"}, headers=SAME
    )
    assert edited.headers["location"] == "/loyalty?made=chain-rule-saved#chain-rules"
    (chain,) = api.get("/api/v1/gift-rules").json()
    assert (chain["activities"], chain["repeat"], chain["outlet_ids"]) == (4, True, ["shop"])
    deleted = c.post(f"/loyalty/chain-rules/{chain['id']}/delete", headers=SAME)
    assert deleted.headers["location"] == "/loyalty?made=chain-rule-deleted#chain-rules"
    assert api.get("/api/v1/gift-rules").json() == []
    assert c.get(f"/loyalty/chain-rules/{chain['id']}").status_code == 404
    with app.state.engine.connect() as conn:
        actions = set(conn.execute(select(AUDIT.c.action).where(AUDIT.c.actor == "tech")).scalars())
    assert actions == {
        "create_discount_group",
        "update_discount_group",
        "delete_discount_group",
        "create_item",  # as the REST routes name them
        "update_gift_item",
        "create_rule",
        "update_chain_rule",
        "delete_chain_rule",
    }
    assert client(app, "cashier").post("/loyalty/gift-items", data=item, headers=SAME).status_code == 403


def test_money_charts_sales_attendance_and_campaigns_per_hour_with_tables_and_csv(app):
    from clients import api_client

    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "drinks"})
    api.post("/api/v1/articles", json={"id": "beer", "product_group_id": "drinks", "price": 500})
    for uid in ("04A1B2C3D4", "04A1B2C3D5"):
        api.post(f"/api/v1/cards/{uid}/topups", json={"amount": 5000})
    for uid, outlet, quantity in (
        ("04A1B2C3D4", "bar", 2),
        ("04A1B2C3D5", "shop", 1),
        ("04A1B2C3D4", "shop", 1),
    ):
        paid = api.post(
            "/api/v1/baskets/pay",
            json={
                "card_uid": uid,
                "outlet_id": outlet,
                "lines": [{"article_id": "beer", "quantity": quantity}],
            },
        )
        assert paid.status_code == 201, paid.text
    c = client(app, "admin")
    page = c.get("/money").text  # today, by hour
    sales = re.search(r'<svg id="sales-chart".*?</svg>', page, re.S).group(0)
    # stacked: bar 10.00 under shop 10.00, on a scale up to 20.00: each half of the 214 px plot
    assert sales.count("<rect") == 2 and 'data-top="2000"' in sales
    bar = re.search(r'<rect [^>]*data-series="bar" data-value="1000">', sales).group(0)
    shop = re.search(r'<rect [^>]*data-series="shop" data-value="1000">', sales).group(0)
    assert 'y="117.0"' in bar and 'height="107.0"' in bar and 'y="10.0"' in shop and 'height="107.0"' in shop
    assert re.search(r"<title>\d\d · Bar Lagune: CHF 10.00</title>", sales)
    assert '<p class="legend">' in page and "Bar Lagune" in page
    assert sales.count("<text") == 5 + 12  # the scale's five steps, every second of 24 hours
    table = re.search(r'<table id="sales-table">.*?</table>', page, re.S).group(0)
    assert re.findall(r"<td>Bar Lagune</td><td class=\"num\">([^<]*)<", table) == ["CHF 10.00"]
    attendance = re.search(r'<svg id="attendance-chart".*?</svg>', page, re.S).group(0)
    assert re.findall(r'data-value="(\d+)"', attendance) == ["2"]  # two cards, one at both outlets
    assert 'id="activities-chart"' in page
    csv = c.get("/money/sales.csv").text.splitlines()
    assert csv[0].startswith("bucket,label,outlet_id,baskets,sales")
    assert sorted(line.split(",")[2] for line in csv[1:]) == ["", "bar", "shop"]  # "": the top-ups
    assert c.get("/money/attendance.csv").status_code == 200
    wrong = c.get("/money", params={"from": "yesterday"})
    assert wrong.status_code == 422 and field_errors(wrong.text) == {
        "period-from": "A date such as 2026-12-31."
    }
    month = c.get("/money", params={"from": "2026-11-01", "to": "2026-11-30"}).text  # by day
    assert re.search(r'<svg id="sales-chart".*?font-size="11">01.11.</text>', month, re.S)
    assert client(app, "cashier").get("/money").status_code == 403
