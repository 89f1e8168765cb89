"""The console in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright
for Python) against the hub's app served by uvicorn on a free port, on a SQLite file.

One browser and one server for the module; each test gets a fresh browser context (its own
cookies). Screenshots of the pages go to $TAPGIFT_ARTIFACTS/console (default: pytest's
temporary directory)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from console_site import PASSWORD, make_site
from playwright.sync_api import expect
from sqlalchemy import func, select

from hub.ledger import TRANSFERS

CHROMIUM = os.environ.get("TAPGIFT_CHROMIUM", "/usr/bin/chromium")

# Outside CI a machine without Debian's chromium skips these; in CI (tests/bootstrap.sh
# installs it) they run, and fail if it is missing.
pytestmark = pytest.mark.skipif(
    not (os.environ.get("CI") or Path(CHROMIUM).exists() or shutil.which("chromium")),
    reason="Debian's chromium is not installed (bash tests/bootstrap.sh installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app, served on 127.0.0.1 (a secure context to the browser, so the Secure cookie holds)."""
    app = make_site(f"sqlite:///{tmp_path_factory.mktemp('console') / 'hub.db'}")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    base = os.environ.get("TAPGIFT_ARTIFACTS")
    folder = Path(base) / "console" if base else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, site):
    _app, base = site
    context = browser.new_context(base_url=base, locale="en-GB")
    context.set_default_timeout(5000)
    pg = context.new_page()
    yield pg
    context.close()


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_wrong_password_says_so_then_logs_in(page, shots):
    page.goto("/cards")
    assert "/login" in page.url  # no session: to the login, then on to the page asked for
    log_in(page, "cashier", "not the password")
    assert page.locator("#problem").inner_text() == "Wrong user name or password."
    page.screenshot(path=shots / "login-error.png")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/cards")
    assert page.get_by_role("heading", name="Look up a card").is_visible()


def test_cashier_tops_up_a_card_and_sees_the_balance(page, shots):
    log_in(page, "cashier")
    page.get_by_label("Card UID").fill("04a1b2c3d4")
    page.get_by_role("button", name="Look up").click()
    page.wait_for_url("**/cards/04A1B2C3D4")
    page.get_by_label("Top up (CHF)").fill("50")
    # the tier's bonus shows while typing (htmx), and again on the confirmation
    page.locator("#bonus-hint").get_by_text("Bonus for this amount: CHF 2.50").wait_for()
    page.screenshot(path=shots / "card.png")
    page.get_by_role("button", name="Continue").click()
    assert page.locator("#confirm-bonus").inner_text() == "CHF 2.50"
    assert page.locator("#confirm-new-balance").inner_text() == "CHF 52.50"
    page.screenshot(path=shots / "topup-confirm.png")
    page.get_by_role("button", name="Top up CHF 50.00").click()
    page.wait_for_url("**/cards/04A1B2C3D4?topup=*")
    assert page.locator("#balance").inner_text() == "CHF 52.50"
    assert page.get_by_role("status").first.inner_text() == "Topped up CHF 50.00, bonus CHF 2.50."
    assert (
        "top-up" in page.locator("#history").inner_text().lower() or page.locator("#history tr").count() == 3
    )


def test_a_double_click_on_top_up_books_once(page, site):
    app, _ = site
    log_in(page, "cashier")
    page.goto("/cards/04A1B2C3D5/topup?amount=20")
    page.get_by_role("button", name="Top up CHF 20.00").dblclick()
    # the second click's request may abort the first's navigation: wait for the address, not
    # for one navigation
    expect(page).to_have_url(re.compile(r"/cards/04A1B2C3D5\?topup="))
    assert page.locator("#balance").inner_text() == "CHF 20.00"
    with app.state.engine.connect() as conn:
        topups = conn.execute(
            select(func.count()).where(TRANSFERS.c.code == "topup", TRANSFERS.c.amount == 2000)
        ).scalar()
    assert topups == 1


def test_a_cashier_sees_no_admin_page(page, shots):
    log_in(page, "cashier")
    page.wait_for_url("**/cards")
    nav = page.get_by_role("navigation").first
    assert nav.get_by_role("link", name="Cards").is_visible()
    assert nav.get_by_role("link", name="Admin").count() == 0
    response = page.goto("/admin/users")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    page.screenshot(path=shots / "cashier-admin-403.png")
    # nor the forms that make rules, gifts or provisioning files
    assert nav.get_by_role("link", name="Loyalty").count() == 0
    assert nav.get_by_role("link", name="Machines").count() == 0
    for path in ("/loyalty/point-rules/new", "/loyalty/gift-items/new", "/machines/disp-1"):
        assert page.goto(path).status == 403, path
        assert page.locator("form#rule-form, form#loyalty-form, form#provision-form").count() == 0


# Accessibility basics: every field has a label, every button a name, one h1, a language.
A11Y = """() => {
  const unlabelled = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const label = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label')
      || el.getAttribute('aria-label');
    if (!label) unlabelled.push(el.name || el.id);
  }
  const nameless = [...document.querySelectorAll('button')].filter(b => !b.textContent.trim() && !b.getAttribute('aria-label')).length;
  return {unlabelled, nameless, h1: document.querySelectorAll('h1').length, lang: document.documentElement.lang};
}"""


def test_an_admin_sees_every_page_and_each_has_labels_and_a_heading(page, shots):
    page.goto("/login")
    assert page.evaluate(A11Y) == {"unlabelled": [], "nameless": 0, "h1": 1, "lang": "en"}
    log_in(page, "admin")
    for path, heading in (
        ("/cards", "Look up a card"),
        ("/cards/04A1B2C3D4", "Card 04A1B2C3D4"),
        ("/cards/04A1B2C3D4/topup?amount=5", "Confirm the top-up"),
        ("/cards/04A1B2C3D4/refund", "Confirm the refund"),
        ("/live", "Controllers"),
        ("/machines", "Machines"),
        ("/machines/disp-1", "Machine disp-1"),
        ("/loyalty", "Loyalty"),
        ("/loyalty/point-rules/new", "New bonus-point rule"),
        ("/loyalty/discount-groups/new", "New discount group"),
        ("/loyalty/gift-items/new", "New gift item"),
        ("/loyalty/chain-rules/new", "New gift chain rule"),
        ("/money", "Money"),
        ("/admin/users", "Users"),
        ("/admin/keys", "API keys"),
        ("/admin/audit", "Audit log"),
    ):
        page.goto(path)
        assert page.get_by_role("heading", name=heading, exact=True).is_visible()
        assert page.evaluate(A11Y) == {"unlabelled": [], "nameless": 0, "h1": 1, "lang": "en"}, path
        name = path.strip("/").split("?")[0].replace("/", "-")
        page.screenshot(path=shots / f"{name}.png", full_page=True)


def test_the_console_in_german(page, shots):
    log_in(page, "kassierer")
    page.wait_for_url("**/cards")
    assert page.get_by_role("heading", name="Karte suchen").is_visible()
    page.get_by_label("Karten-UID").fill("04A1B2C3D6")
    page.get_by_role("button", name="Suchen").click()
    page.get_by_label("Aufladen (CHF)").fill("12,50")
    page.get_by_role("button", name="Weiter").click()
    page.get_by_role("button", name="12,50 CHF aufladen").click()
    page.wait_for_url("**/cards/04A1B2C3D6?topup=*")
    assert page.locator("#balance").inner_text() == "12,50 CHF"
    assert page.locator("html").get_attribute("lang") == "de"
    page.screenshot(path=shots / "card-de.png")


def test_docs_render_without_internet(page, site, shots):
    _app, base = site
    asked_outside = []

    def only_local(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            asked_outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.set_default_timeout(20_000)  # Swagger UI parses 1.5 MB of script and the whole API on a busy machine
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 50
    page.screenshot(path=shots / "docs.png")
    page.goto("/redoc")
    page.get_by_role("heading", name="tapgift hub").first.wait_for()
    page.screenshot(path=shots / "redoc.png")
    assert asked_outside == []


def test_switching_a_rule_off_changes_the_basket_preview(page, site, shots):
    from clients import api_client

    app, _ = site
    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "ices"})
    api.post("/api/v1/articles", json={"id": "ice", "product_group_id": "ices", "price": 300})
    settings = {
        "hours_until_available": 0,
        "default_validity_days": None,
        "enabled_stores": ["bar"],
        "point_value": 10,
    }
    api.put("/api/v1/bonus-settings", json=settings)
    rule = {
        "kind": "article",
        "name": "ice bonus",
        "stores": ["bar"],
        "targets": [{"id": "ice", "points": 4}],
    }
    rule_id = api.post("/api/v1/bonus-rules", json=rule).json()["id"]
    log_in(page, "tech")
    page.goto("/loyalty")
    page.get_by_label("Card UID").fill("04A1B2C3D6")
    page.get_by_label("Article 1").fill("ice")
    page.get_by_label("Quantity 1").fill("2")
    page.get_by_role("button", name="Preview").click()
    assert page.locator("#quote-points").inner_text() == "8"
    preview = page.url
    page.screenshot(path=shots / "loyalty-preview.png", full_page=True)
    with page.expect_navigation():  # the form's answer, before the next address is asked for
        page.locator(f"#points-rule-{rule_id}").get_by_role("button", name="Switch off").click()
    page.goto(preview)  # the preview's address again, under the rules as they are now
    assert page.locator("#quote-points").inner_text() == "0"


def _preview_points(page, card: str, article: str, quantity: int) -> str:
    page.goto("/loyalty")
    page.get_by_label("Card UID").fill(card)
    page.get_by_label("Article 1").fill(article)
    page.get_by_label("Quantity 1").fill(str(quantity))
    page.get_by_role("button", name="Preview").click()
    return page.locator("#quote-points").inner_text()


def test_a_rule_made_and_edited_in_the_browser_changes_the_preview(page, site, shots):
    from clients import api_client

    app, _ = site
    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "cones"})
    api.post("/api/v1/articles", json={"id": "cone", "product_group_id": "cones", "price": 250})
    settings = {"hours_until_available": 0, "default_validity_days": None, "enabled_stores": ["bar"]}
    api.put("/api/v1/bonus-settings", json=settings | {"point_value": 10})
    log_in(page, "tech")
    page.wait_for_url("**/cards")
    assert _preview_points(page, "04A1B2C3D6", "cone", 2) == "0"
    page.get_by_role("link", name="Add a bonus-point rule").click()
    # the form shows the fields of the kind chosen
    assert (
        page.get_by_label("Target 1").is_visible()
        and not page.get_by_label("Amount per point (CHF)").is_visible()
    )
    page.get_by_label("Kind").select_option("basket_value")
    assert (
        page.get_by_label("Amount per point (CHF)").is_visible()
        and not page.get_by_label("Target 1").is_visible()
    )
    page.get_by_label("Kind").select_option("article")
    page.get_by_label("Name").fill("cone bonus")
    page.get_by_label("Bar Lagune").check()
    page.get_by_label("Target 1").fill("cornet")  # no such article: said next to the field
    page.get_by_label("Points 1").fill("3")
    page.get_by_role("button", name="Add the rule").click()
    target = page.get_by_label("Target 1")
    assert target.get_attribute("aria-invalid") == "true"
    assert (
        page.locator("#target_id_0-error").inner_text()
        == "Choose an article, product group or topping group."
    )
    assert page.get_by_label("Name").input_value() == "cone bonus"  # what was typed stays
    page.screenshot(path=shots / "point-rule-error.png", full_page=True)
    target.fill("cone")
    page.get_by_role("button", name="Add the rule").click()
    page.wait_for_url("**/loyalty?rule=*")
    assert _preview_points(page, "04A1B2C3D6", "cone", 2) == "6"
    page.get_by_role("link", name="cone bonus").click()
    page.get_by_label("Points 1").fill("5")
    page.get_by_role("button", name="Save the rule").click()
    page.wait_for_url("**/loyalty?rule=*")
    assert _preview_points(page, "04A1B2C3D6", "cone", 2) == "10"
    page.screenshot(path=shots / "loyalty-preview-after-edit.png", full_page=True)


def test_a_controllers_provisioning_file_is_downloaded_from_its_page(page, shots):
    import json

    log_in(page, "tech")
    page.wait_for_url("**/cards")
    page.goto("/machines/disp-1")
    page.get_by_label("Broker as the controllers reach it").fill("mqtt://10.0.0.2:1883")
    page.get_by_label("Wi-Fi name (SSID)").fill("park")
    page.get_by_label("Wi-Fi password").fill("pw")
    assert page.locator("#flash-command").inner_text() == (
        "tapgift fw flash --port /dev/ttyUSB0 --provision disp-1.json"
    )
    page.screenshot(path=shots / "machine-provisioning.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the provisioning file").click()
    assert download.value.suggested_filename == "disp-1.json"
    data = json.loads(Path(download.value.path()).read_text())
    assert (data["device"], data["site"]) == ("disp-1", "park")
    assert data["broker"].startswith("mqtt://disp-1:") and data["broker"].endswith("@10.0.0.2:1883")
    assert data["wifi"] == {"ssid": "park", "password": "pw"}


def test_the_money_chart_shows_a_basket_paid_now(page, site, shots):
    from clients import api_client

    app, _ = site
    api = api_client(app, "admin")
    api.post("/api/v1/product-groups", json={"id": "snacks"})
    api.post("/api/v1/articles", json={"id": "crisps", "product_group_id": "snacks", "price": 250})
    api.post("/api/v1/cards/04A1B2C3D4/topups", json={"amount": 1000})
    paid = api.post(
        "/api/v1/baskets/pay",
        json={
            "card_uid": "04A1B2C3D4",
            "outlet_id": "shop",
            "lines": [{"article_id": "crisps", "quantity": 3}],
        },
    )
    assert paid.status_code == 201, paid.text
    log_in(page, "admin")
    page.wait_for_url("**/cards")
    page.goto("/money")
    bar = page.locator('#sales-chart rect[data-series="shop"]')
    # 7.50 on a scale up to 10.00: three quarters of the 214 px plot
    assert (bar.get_attribute("data-value"), bar.get_attribute("height")) == ("750", "160.5")
    assert bar.is_visible()
    assert page.locator("#sales-table").get_by_role("cell", name="CHF 7.50").is_visible()
    page.locator("#sales-chart").screenshot(path=shots / "money-sales-chart.png")
    page.screenshot(path=shots / "money.png", full_page=True)
