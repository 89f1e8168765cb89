"""Operators, keys, limits and the audit log, through the API as a console, a till and an
attacker would use it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from clients import api_client
from fastapi.testclient import TestClient

from hub.access import operators
from hub.access.limits import Ceilings
from hub.api.app import create_app
from hub.core.clock import utcnow

V1 = "/api/v1"
PASSWORD = "correct horse battery"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def app(engine):
    return create_app(
        engine, ceilings=Ceilings(topup_per_day=10_000, refund_per_day=None, refund_limit=2_000)
    )


@pytest.fixture
def admin(app):
    with api_client(app, "admin") as client:
        yield client


@pytest.fixture
def park(admin):
    """A site with outlets A and B, a till at each, an article, a card holding 50.00."""
    ok(admin.post(f"{V1}/sites", json={"id": "park"}), 201)
    for outlet in ("A", "B"):
        ok(admin.post(f"{V1}/outlets", json={"id": outlet, "site_id": "park", "kind": "bar"}), 201)
        ok(admin.post(f"{V1}/outlets/{outlet}/counters", json={"id": f"till-{outlet}"}), 201)
    ok(admin.post(f"{V1}/product-groups", json={"id": "drinks"}), 201)
    ok(admin.post(f"{V1}/articles", json={"id": "cola", "product_group_id": "drinks", "price": 400}), 201)
    ok(admin.post(f"{V1}/cards", json={"uid": "C0FFEE01"}), 201)
    ok(admin.post(f"{V1}/cards/C0FFEE01/topups", json={"amount": 5000}), 201)
    return admin


def basket(outlet: str) -> dict:
    return {
        "card_uid": "C0FFEE01",
        "outlet_id": outlet,
        "counter_id": f"till-{outlet}",
        "lines": [{"article_id": "cola"}],
    }


def add_user(admin, name="cashier1", role="cashier", **scope):
    return ok(
        admin.post(f"{V1}/users", json={"username": name, "password": PASSWORD, "role": role, **scope}), 201
    )


def login(app, name, password=PASSWORD, session="bearer"):
    return TestClient(app).post(
        f"{V1}/auth/login", json={"username": name, "password": password, "session": session}
    )


# -- operators ----------------------------------------------------------------------------------


def test_an_operator_logs_in_works_and_logs_out(app, admin, engine):
    add_user(admin, "anna", "cashier")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM operators WHERE username='anna'")).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    token = ok(login(app, "anna"))["token"]
    me = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert ok(me.get(f"{V1}/auth/me"))["role"] == "cashier"
    assert me.get(f"{V1}/ledgers").status_code == 403
    assert me.post(f"{V1}/auth/logout").status_code == 204
    assert me.get(f"{V1}/auth/me").status_code == 401


def test_the_console_session_is_an_httponly_secure_samesite_cookie(app, admin):
    add_user(admin, "otto", "manager")
    r = login(app, "otto", session="cookie")
    assert ok(r)["token"] is None
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    console = TestClient(app, base_url="https://hub")
    console.cookies.set("tapgift_session", r.cookies["tapgift_session"])
    assert ok(console.get(f"{V1}/auth/me"))["name"] == "otto"


def test_wrong_passwords_slow_down_then_lock_and_an_admin_unlocks(app, admin, engine):
    add_user(admin, "eve", "cashier")
    for _ in range(operators.THROTTLE_AFTER):
        assert login(app, "eve", "guess").status_code == 401
    waiting = login(app, "eve", PASSWORD)  # even the right password waits now
    assert waiting.status_code == 429 and int(waiting.headers["retry-after"]) >= 1
    with engine.begin() as conn:  # the waits have passed; the tenth wrong password locks
        conn.execute(
            sa.text("UPDATE operators SET next_try_at=NULL, failed_logins=:n WHERE username='eve'"),
            {"n": operators.LOCK_AFTER - 1},
        )
    assert login(app, "eve", "guess").status_code == 401
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE operators SET next_try_at=NULL WHERE username='eve'"))
    locked = login(app, "eve", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
    ok(admin.patch(f"{V1}/users/eve", json={"password": "a new long password"}))
    assert login(app, "eve", PASSWORD).status_code == 401
    assert ok(login(app, "eve", "a new long password"))["role"] == "cashier"


def test_an_unknown_user_and_a_wrong_password_answer_alike(app, admin):
    add_user(admin, "kim", "kiosk")
    unknown, wrong = login(app, "nobody"), login(app, "kim", "nope")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_a_disabled_user_is_out_at_once(app, admin):
    add_user(admin, "max", "cashier")
    token = ok(login(app, "max"))["token"]
    ok(admin.patch(f"{V1}/users/max", json={"disabled": True}))
    assert (
        TestClient(app, headers={"Authorization": f"Bearer {token}"}).get(f"{V1}/auth/me").status_code == 401
    )
    assert login(app, "max").status_code == 401


def test_a_manager_cannot_make_an_admin_nor_manage_another_outlets_users(app, park):
    manager = api_client(app, "manager", outlet_id="A")
    assert (
        manager.post(
            f"{V1}/users", json={"username": "boss", "password": PASSWORD, "role": "admin"}
        ).status_code
        == 403
    )
    r = manager.post(
        f"{V1}/users", json={"username": "b1", "password": PASSWORD, "role": "cashier", "outlet_id": "B"}
    )
    assert r.status_code == 403
    ok(
        manager.post(
            f"{V1}/users", json={"username": "a1", "password": PASSWORD, "role": "cashier", "outlet_id": "A"}
        ),
        201,
    )
    assert [u["username"] for u in ok(manager.get(f"{V1}/users"))] == ["a1"]


def test_a_short_password_is_refused(admin):
    r = admin.post(f"{V1}/users", json={"username": "x", "password": "short", "role": "cashier"})
    assert r.status_code == 422


# -- API keys -----------------------------------------------------------------------------------


def test_a_key_is_shown_once_kept_hashed_and_refused_at_once_when_revoked(app, admin, engine):
    made = ok(admin.post(f"{V1}/api-keys", json={"name": "till 1", "role": "cashier"}), 201)
    key_id, secret = made["key"].split(".")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_hash FROM api_keys WHERE id=:i"), {"i": key_id}).scalar()
    assert secret not in stored
    assert all("key" not in k for k in ok(admin.get(f"{V1}/api-keys")))
    till = TestClient(app, headers={"X-API-Key": made["key"]})
    assert till.get(f"{V1}/auth/me").json()["role"] == "cashier"
    ok(admin.post(f"{V1}/api-keys/{key_id}/revoke"))
    assert till.get(f"{V1}/auth/me").status_code == 401


def test_an_expired_key_is_refused(app, admin, engine):
    made = ok(admin.post(f"{V1}/api-keys", json={"name": "shop", "role": "kiosk"}), 201)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE api_keys SET expires_at=:t WHERE id=:i"),
            {"t": utcnow() - dt.timedelta(seconds=1), "i": made["id"]},
        )
    assert TestClient(app, headers={"X-API-Key": made["key"]}).get(f"{V1}/auth/me").status_code == 401


def test_a_key_cannot_hold_more_than_its_role_nor_its_maker(app, admin):
    r = admin.post(f"{V1}/api-keys", json={"name": "k", "role": "kiosk", "permissions": ["money.refund"]})
    assert r.status_code == 422
    assert admin.post(f"{V1}/api-keys", json={"name": "k", "role": "wizard"}).status_code == 422


def test_a_key_is_held_to_its_rate(app):
    client = api_client(app, "auditor", rate_per_minute=3)
    assert [client.get(f"{V1}/auth/me").status_code for _ in range(4)] == [200, 200, 200, 429]


# -- outlets, limits ----------------------------------------------------------------------------


def test_a_cashier_of_outlet_a_neither_sees_nor_books_for_outlet_b(app, park):
    cashier = api_client(app, "cashier", outlet_id="A")
    r = cashier.post(f"{V1}/baskets/pay", json=basket("B"))
    assert r.status_code == 403 and "B" in r.json()["detail"]
    assert ok(park.get(f"{V1}/cards/C0FFEE01"))["balance"] == 5000
    paid = ok(cashier.post(f"{V1}/baskets/pay", json=basket("A")), 201)
    assert ok(park.get(f"{V1}/cards/C0FFEE01"))["balance"] == 4600
    other_outlet = api_client(app, "cashier", outlet_id="B")
    assert other_outlet.get(f"{V1}/baskets/{paid['id']}").status_code == 403
    assert other_outlet.get(f"{V1}/outlets/A/counters").status_code == 403
    manager = api_client(app, "manager", outlet_id="B")
    assert [o["id"] for o in ok(manager.get(f"{V1}/outlets"))] == ["B"]
    assert manager.post(f"{V1}/outlets/A/counters", json={"id": "till-x"}).status_code == 403
    assert manager.post(f"{V1}/baskets/{paid['id']}/refund").status_code == 403
    assert manager.put(f"{V1}/topup-tiers", json=[]).status_code == 403  # every outlet's setting


def test_a_refund_over_the_cashiers_limit_needs_a_manager(app, park):
    cashier = api_client(app, "cashier", outlet_id="A")
    r = cashier.post(f"{V1}/cards/C0FFEE01/refund")
    assert r.status_code == 403 and "limit" in r.json()["detail"]
    assert ok(park.get(f"{V1}/cards/C0FFEE01"))["balance"] == 5000
    assert ok(api_client(app, "manager").post(f"{V1}/cards/C0FFEE01/refund"))["refunded"] == 5000


def test_a_kiosks_daily_top_ups_stop_at_the_ceiling(app, park):
    kiosk = api_client(app, "kiosk")
    ok(kiosk.post(f"{V1}/cards/C0FFEE01/topups", json={"amount": 6000}), 201)
    r = kiosk.post(f"{V1}/cards/C0FFEE01/topups", json={"amount": 5000})
    assert r.status_code == 403 and "ceiling" in r.json()["detail"]
    assert ok(park.get(f"{V1}/cards/C0FFEE01"))["balance"] == 11000
    again = kiosk.post(
        f"{V1}/cards/C0FFEE01/topups", json={"amount": 6000}, headers={"Idempotency-Key": "k-1"}
    )
    assert again.status_code == 403  # a retry of a refused top-up is refused the same
    ok(api_client(app, "kiosk").post(f"{V1}/cards/C0FFEE01/topups", json={"amount": 4000}), 201)


def test_a_money_write_without_an_idempotency_key_is_refused(app, park):
    plain = TestClient(app, headers={"X-API-Key": park.headers["X-API-Key"]})
    r = plain.post(f"{V1}/cards/C0FFEE01/topups", json={"amount": 100})
    assert r.status_code == 422 and "idempotency-key" in r.text.lower()
    assert ok(park.get(f"{V1}/cards/C0FFEE01"))["balance"] == 5000


# -- the audit log ------------------------------------------------------------------------------


def test_the_audit_log_holds_who_did_what_with_before_and_after(app, park, engine):
    kiosk = api_client(app, "kiosk", outlet_id="A")
    top = ok(kiosk.post(f"{V1}/cards/C0FFEE01/topups", json={"amount": 700}), 201)
    ok(park.put(f"{V1}/topup-tiers", json=[{"min_amount": 10000, "percent": "5"}]))
    ok(park.put(f"{V1}/topup-tiers", json=[{"min_amount": 20000, "percent": "10"}]))
    made = ok(park.post(f"{V1}/api-keys", json={"name": "shop", "role": "kiosk"}), 201)

    entries = ok(park.get(f"{V1}/audit"))
    topup = next(e for e in entries if e["action"] == "top_up" and e["role"] == "kiosk")
    assert topup["transfers"] == [top["transfer"]] and topup["amount"] == 700 and topup["outlet_id"] == "A"
    assert topup["target"] == {"uid": "C0FFEE01"} and topup["actor_kind"] == "key"
    tiers = [e for e in entries if e["action"] == "set_topup_tiers"]
    assert tiers[0]["before"] == [{"min_amount": 10000, "percent": "5"}]
    assert tiers[0]["after"] == [{"min_amount": 20000, "percent": "10"}]
    key_entry = next(e for e in entries if e["action"] == "create_key")
    assert made["key"].split(".")[1] not in str(key_entry) and key_entry["after"]["key"] == "***"

    only_kiosk = ok(park.get(f"{V1}/audit", params={"actor": topup["actor"]}))
    assert [e["action"] for e in only_kiosk] == ["top_up"]
    csv = park.get(f"{V1}/audit.csv", params={"action": "set_topup_tiers"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("id,at,actor_kind") and len(csv.text.splitlines()) == 3
    seen_at_b = ok(api_client(app, "manager", outlet_id="B").get(f"{V1}/audit"))
    assert seen_at_b and {e["outlet_id"] for e in seen_at_b} == {"B"}  # not the top-up at A

    with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))
    with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor='someone else'"))


def test_a_refused_booking_leaves_no_audit_entry(app, park):
    cashier = api_client(app, "cashier", outlet_id="A")
    assert cashier.post(f"{V1}/cards/C0FFEE01/refund").status_code == 403
    assert not [e for e in ok(park.get(f"{V1}/audit")) if e["action"] == "refund"]


def test_a_manager_of_outlet_a_changes_only_the_machines_selling_for_it(app, park):
    for device, outlet in (("tap-a", "A"), ("tap-b", "B")):
        ok(park.post(f"{V1}/devices", json={"id": device, "site": "park", "unit_price": 300}), 201)
        ok(park.put(f"{V1}/devices/{device}/loyalty", json={"outlet_id": outlet, "article_id": "cola"}))
    ok(park.post(f"{V1}/sites", json={"id": "lake"}), 201)
    ok(park.post(f"{V1}/devices", json={"id": "tap-lake", "site": "lake", "unit_price": 300}), 201)
    manager = api_client(app, "manager", outlet_id="A")
    assert [d["id"] for d in ok(manager.get(f"{V1}/devices"))] == ["tap-a"]
    at_the_park = api_client(app, "auditor", site_id="park")
    assert [d["id"] for d in ok(at_the_park.get(f"{V1}/devices"))] == ["tap-a", "tap-b"]
    assert manager.patch(f"{V1}/devices/tap-b", json={"unit_price": 1}).status_code == 403
    assert manager.post(f"{V1}/devices/tap-b/commands", json={"k": "reboot"}).status_code == 403
    assert (
        manager.post(f"{V1}/devices", json={"id": "x", "site": "elsewhere", "unit_price": 1}).status_code
        == 403
    )
    ok(manager.patch(f"{V1}/devices/tap-a", json={"unit_price": 350}))
    change = next(e for e in ok(park.get(f"{V1}/audit", params={"action": "change_device"})))
    assert change["before"]["unit_price"] == 300 and change["after"]["unit_price"] == 350
    assert "key_hex" not in change["before"]


def test_logins_and_failed_logins_are_in_the_audit_log_without_secrets(app, admin):
    add_user(admin, "lea", "cashier")
    assert login(app, "lea", "not her password").status_code == 401
    assert login(app, "mallory", "guess").status_code == 401
    token = ok(login(app, "lea"))["token"]
    entries = ok(admin.get(f"{V1}/audit", params={"action": "login_failed"}))
    assert sorted(e["actor"] for e in entries) == ["lea", "mallory"]
    [success] = ok(admin.get(f"{V1}/audit", params={"action": "login"}))
    assert (success["actor"], success["role"]) == ("lea", "cashier")
    assert token not in str(success) and PASSWORD not in str(entries + [success])


def test_a_desks_daily_ceiling_counts_the_day_of_its_own_site(engine):
    """A cashier in Auckland starts a new day at local midnight (12:00 UTC in June), not at
    midnight UTC: 90.00 at 23:30 there and 90.00 at 00:30 are two days, each under 100.00."""
    from hub.access import audit, limits
    from hub.access.callers import Caller
    from hub.access.roles import role_permissions
    from hub.core.errors import Forbidden
    from hub.loyalty.outlets import create_outlet, create_site

    ceilings = Ceilings(topup_per_day=10_000, refund_per_day=None)
    cashier = Caller("operator", "kiri", "cashier", role_permissions("cashier"), outlet_id="bar")

    def top_up(conn, at: dt.datetime) -> None:
        change = audit.Change(cashier, "top_up", "POST", "/api/v1/cards/C1/topups", request={"amount": 9_000})
        amount = audit.record(conn, change, {"amount": 9_000}, at)
        limits.check_money(conn, cashier, "top_up", amount, ceilings, at)

    with engine.begin() as conn:
        create_site(conn, "harbour", tz="Pacific/Auckland")
        create_outlet(conn, "NZD", "bar", "harbour")
        top_up(conn, dt.datetime(2026, 6, 1, 11, 30, tzinfo=dt.UTC))  # 23:30 on 1 June there
        top_up(conn, dt.datetime(2026, 6, 1, 12, 30, tzinfo=dt.UTC))  # 00:30 on 2 June
        with pytest.raises(Forbidden, match="ceiling"):
            top_up(conn, dt.datetime(2026, 6, 1, 20, 0, tzinfo=dt.UTC))  # 08:00 on 2 June
