"""Reports (hub.reports) through the REST API on SQLite and PostgreSQL: a small day by hand —
top-ups at two outlets' tills, baskets, a refund, a machine's taps, a gift given at one outlet
and collected at another — and the figures a person computes from it, per outlet, till and
cashier, machine; as JSON, CSV and PDF read back; an outlet's manager refused another outlet's
report; bad input refused; a scheduled report e-mailed to the outlet's contacts over a real SMTP
server (aiosmtpd) and its PDF read back; days bucketed in the site's time zone across a change
of daylight-saving time."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io

import pytest
from aiosmtpd.controller import Controller
from clients import Slide, api_client
from pypdf import PdfReader
from sqlalchemy import select

from hub.api.app import create_app
from hub.api.routers.vouchers import VoucherSettings
from hub.core.clock import utcnow
from hub.core.engine import reader
from hub.ledger import TRANSFERS
from hub.reports import cache, queries, schedule
from hub.reports.periods import offset_spans
from hub.tables.reports import ReportSchedule
from hub.vouchers.delivery import MailSettings

V1 = "/api/v1"
A, B, C = "bar", "shop", "slide"  # C takes money only through its machine, slide-1
X, Y = "5E771E01", "5E771E02"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def pay(api, uid, outlet, *lines):
    basket = {
        "card_uid": uid,
        "outlet_id": outlet,
        "lines": [{"article_id": a, "quantity": q} for a, q in lines],
    }
    return ok(api.post(f"{V1}/baskets/pay", json=basket), 201)


class Inbox:
    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback: (its inbox, its smtp:// URL)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield inbox, f"smtp://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def app(engine):
    return create_app(engine)


@pytest.fixture
def day(app, engine):
    """The hand-made day; returns (admin client, start, end)."""
    api = api_client(app, "admin")
    ok(api.post(f"{V1}/sites", json={"id": "park"}), 201)
    for outlet in (A, B, C):
        ok(api.post(f"{V1}/outlets", json={"id": outlet, "site_id": "park", "kind": outlet}), 201)
    ok(api.post(f"{V1}/outlets/{B}/counters", json={"id": "shop-1"}), 201)
    ok(api.post(f"{V1}/product-groups", json={"id": "food"}), 201)
    for article, price in (("beer", 500), ("burger", 900), ("ride", 300)):
        ok(api.post(f"{V1}/articles", json={"id": article, "product_group_id": "food", "price": price}), 201)
    ok(api.post(f"{V1}/devices", json={"id": "slide-1", "site": "park", "unit_price": 300}), 201)
    ok(api.put(f"{V1}/devices/slide-1/loyalty", json={"outlet_id": C, "article_id": "ride"}))
    ok(api.post(f"{V1}/gift-items", json={"id": "DRINK", "value": 400}), 201)
    for uid in (X, Y):
        ok(api.post(f"{V1}/cards", json={"uid": uid}), 201)
    start = utcnow()
    till_a, till_b = api_client(app, "cashier", outlet_id=A), api_client(app, "cashier", outlet_id=B)
    ok(till_a.post(f"{V1}/cards/{X}/topups", json={"amount": 5000}), 201)
    ok(till_b.post(f"{V1}/cards/{Y}/topups", json={"amount": 3000}), 201)
    basket = {
        "card_uid": X,
        "outlet_id": B,
        "counter_id": "shop-1",
        "lines": [{"article_id": "beer", "quantity": 2}],
    }
    ok(till_b.post(f"{V1}/baskets/pay", json=basket), 201)  # 1000 at B's till shop-1
    burger = pay(till_a, X, A, ("burger", 1))  # 900 at A, refunded below
    ok(api.post(f"{V1}/baskets/{burger['id']}/refund"))
    slide = Slide(engine)
    assert slide.ride(Y, 2)["posted"] == 600
    assert slide.ride(X, 1)["posted"] == 300
    assert ok(till_b.post(f"{V1}/cards/{Y}/refund"))["refunded"] == 2400  # 3000 - 600
    ok(api.post(f"{V1}/cards/{X}/gifts/give", json={"item_id": "DRINK", "outlet_id": A}), 201)
    ok(api.post(f"{V1}/cards/{X}/gifts/redeem", json={"item_id": "DRINK", "outlet_id": C}))
    return api, start, utcnow() + dt.timedelta(seconds=1)


def get(api, name, start, end, **params):
    return api.get(
        f"{V1}/reports/{name}", params={"from": start.isoformat(), "to": end.isoformat(), **params}
    )


def per(rows, *dims, figures):
    """The figures summed per dimension over the buckets."""
    out: dict = {}
    for row in rows:
        key = tuple(row[d] for d in dims) if len(dims) > 1 else row[dims[0]]
        got = out.setdefault(key, dict.fromkeys(figures, 0))
        for f in figures:
            got[f] += row[f]
    return out


def test_a_day_by_hand_per_outlet_till_cashier_and_machine_as_json_csv_and_pdf(app, day):
    """One day's setup (it is the slow part) for every check of what the API answers."""
    api, start, end = day
    check_figures(api, start, end)
    check_csv_and_pdf(api, start, end)
    check_an_outlets_manager_sees_only_their_outlet(app, start, end)
    check_bad_input_is_refused_with_a_reason(api, start, end)


def check_figures(api, start, end):
    sales = ok(get(api, "sales", start, end, by="hour"))
    assert sales["tz"] == "Europe/Zurich" and sales["by"] == "hour"
    figures = ("baskets", "sales", "sale_refunds", "taps", "machine_debits", "debits", "topups", "refunds")
    assert per(sales["rows"], "outlet_id", figures=figures) == {
        A: dict(
            baskets=1, sales=900, sale_refunds=900, taps=0, machine_debits=0, debits=0, topups=5000, refunds=0
        ),
        B: dict(
            baskets=1,
            sales=1000,
            sale_refunds=0,
            taps=0,
            machine_debits=0,
            debits=1000,
            topups=3000,
            refunds=2400,
        ),
        C: dict(
            baskets=0, sales=0, sale_refunds=0, taps=2, machine_debits=900, debits=900, topups=0, refunds=0
        ),
    }
    assert sales["totals"]["debits"] == 1900 and sales["totals"]["topups_count"] == 2

    tills = ok(get(api, "tills", start, end))["rows"]
    cashier_b = {r["cashier"] for r in tills if r["outlet_id"] == B}
    assert len(cashier_b) == 1  # B's till key booked all of B's
    by_till = per(tills, "outlet_id", "counter_id", figures=("baskets", "basket_amount", "topups", "refunds"))
    assert by_till[(B, "shop-1")] == {"baskets": 1, "basket_amount": 1000, "topups": 0, "refunds": 0}
    assert by_till[(B, None)] == {"baskets": 0, "basket_amount": 0, "topups": 3000, "refunds": 2400}
    assert by_till[(A, None)] == {"baskets": 1, "basket_amount": 900, "topups": 5000, "refunds": 0}
    refunded = [r for r in tills if r["basket_refunds"]]
    assert [(r["outlet_id"], r["basket_refund_amount"]) for r in refunded] == [(None, 900)]  # the admin's

    machines = ok(get(api, "machines", start, end, by="month"))["rows"]
    assert per(machines, "device_id", figures=("taps", "posted", "voided", "expired")) == {
        "slide-1": {"taps": 2, "posted": 900, "voided": 0, "expired": 0}
    }
    assert {r["outlet_id"] for r in machines} == {C}

    cards = ok(get(api, "attendance", start, end, by="month"))["rows"]
    assert {r["outlet_id"]: r["cards"] for r in cards} == {A: 1, B: 1, C: 2, None: 2}

    loyalty = per(
        ok(get(api, "loyalty", start, end))["rows"],
        "outlet_id",
        figures=("gifts_granted", "gifts_redeemed_value"),
    )
    assert loyalty == {
        A: {"gifts_granted": 1, "gifts_redeemed_value": 0},
        C: {"gifts_granted": 0, "gifts_redeemed_value": 400},
    }

    activities = ok(get(api, "activities", start, end, by="month"))["rows"]
    collected = {r["outlet_id"]: (r["collections"], r["campaigns"]) for r in activities}
    assert collected[C] == (1, 1) and collected[None][0] == 1  # the location and the head office


def check_csv_and_pdf(api, start, end):
    got = get(api, "sales", start, end, by="month", format="csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert {r["outlet_id"]: (r["sales"], r["debits"], r["refunds"]) for r in rows} == {
        A: ("900", "0", "0"),
        B: ("1000", "1000", "2400"),
        C: ("0", "900", "0"),
    }
    assert all(r["bucket"].endswith("Z") and len(r["label"]) == len("2026-07") for r in rows)

    pdf = api.get(
        f"{V1}/reports/sales",
        params={"from": start.isoformat(), "to": end.isoformat(), "outlet_id": B},
        headers={"Accept": "application/pdf"},
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Sales, debits, top-ups and refunds per outlet" in text and "outlet shop" in text
    assert "10.00" in text and "30.00" in text and "24.00" in text  # B's sales, top-up, refund
    assert "9.00" not in text  # A's burger is not B's


def check_an_outlets_manager_sees_only_their_outlet(app, start, end):
    manager = api_client(app, "manager", outlet_id=B)
    refused = get(manager, "sales", start, end, outlet_id=A)
    assert refused.status_code == 403 and "not yours" in refused.json()["detail"]
    own = ok(get(manager, "sales", start, end))  # no outlet named: theirs
    assert own["outlet_id"] == B and {r["outlet_id"] for r in own["rows"]} == {B}
    assert get(api_client(app, "cashier", outlet_id=B), "sales", start, end).status_code == 403
    assert (
        manager.post(
            f"{V1}/report-schedules", json={"report": "sales", "outlet_id": A, "period": "daily"}
        ).status_code
        == 403
    )


def check_bad_input_is_refused_with_a_reason(api, start, end):
    backwards = get(api, "sales", end, start)
    assert backwards.status_code == 422 and "before" in backwards.text
    assert get(api, "nonsense", start, end).status_code == 422
    century = get(api, "sales", start - dt.timedelta(days=36500), end, by="hour")
    assert century.status_code == 422 and "too many" in century.text
    assert get(api, "sales", start, end, outlet_id="nowhere").status_code == 404
    assert get(api, "sales", start, end, by="week").status_code == 422
    assert api.post(f"{V1}/report-schedules", json={"report": "sales", "period": "daily"}).status_code == 422


def test_a_scheduled_report_is_mailed_to_the_outlets_contacts_once(app, engine, day, smtp):
    api, start, end = day
    inbox, url = smtp
    people = [{"email": "owner@shop.test", "name": "Owner"}, {"email": "books@shop.test"}]
    assert len(ok(api.put(f"{V1}/outlets/{B}/report-contacts", json=people))) == 2
    made = ok(
        api.post(f"{V1}/report-schedules", json={"report": "sales", "outlet_id": B, "period": "daily"}), 201
    )
    next_run = dt.datetime.fromisoformat(made["next_run"])
    assert made["by"] == "hour" and start < next_run <= start + dt.timedelta(days=1)
    mail = MailSettings(url, "reports@park.test")
    assert schedule.send_due(engine, mail, "CHF", now=next_run - dt.timedelta(seconds=1)) == 0
    assert schedule.send_due(engine, mail, "CHF", now=next_run + dt.timedelta(minutes=1)) == 1
    assert schedule.send_due(engine, mail, "CHF", now=next_run + dt.timedelta(minutes=2)) == 0  # claimed once

    [(to, raw)] = inbox.messages
    assert sorted(to) == ["books@shop.test", "owner@shop.test"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == "reports@park.test" and "shop" in msg["Subject"]
    [attachment] = [p for p in msg.iter_attachments()]
    assert attachment.get_content_type() == "application/pdf"
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert "outlet shop" in text and "10.00" in text and "24.00" in text
    [stored] = ok(api.get(f"{V1}/report-schedules", params={"outlet_id": B}))
    assert stored["last_error"] is None and dt.datetime.fromisoformat(
        stored["next_run"]
    ) == next_run + dt.timedelta(days=1)
    with engine.connect() as conn:
        assert conn.execute(select(ReportSchedule.__table__.c.last_run)).scalar() is not None
    app.state.voucher_settings = VoucherSettings(None, MailSettings(url, "reports@park.test"))
    sent = ok(api.post(f"{V1}/report-schedules/{made['id']}/send"))  # the day that ended last, now
    assert sent["last_error"] is None and len(inbox.messages) == 2 and sent["next_run"] == stored["next_run"]
    assert ok(api.delete(f"{V1}/report-schedules/{made['id']}"))["id"] == made["id"]
    assert api.post(f"{V1}/report-schedules/{made['id']}/send").status_code == 404


def test_days_follow_the_sites_time_zone_across_daylight_saving(engine):
    """Zurich's 25-hour day (2026-10-25): sales at 23:30 UTC the day before (local 01:30, the 25th)
    and at 22:30 UTC on the 25th (local 23:30 after the change, still the 25th) fall on one day."""
    from hub.loyalty import outlets

    with engine.begin() as conn:
        outlets.create_site(conn, "park", tz="Europe/Zurich")
        shop = outlets.create_outlet(conn, "CHF", B, "park")
        wallet = outlets.create_outlet(conn, "CHF", "w", "park")["revenue_account_id"]  # any account
        for n, at in enumerate(
            (
                dt.datetime(2026, 10, 24, 21, 30),
                dt.datetime(2026, 10, 24, 23, 30),
                dt.datetime(2026, 10, 25, 22, 30),
            )
        ):
            conn.execute(
                TRANSFERS.insert().values(
                    id=f"t{n}",
                    idempotency_key=f"k{n}",
                    ledger="CHF",
                    debit_account_id=wallet,
                    credit_account_id=shop["revenue_account_id"],
                    amount=100 * (n + 1),
                    flags="posted",
                    code="sale",
                    reason="",
                    created_at=at.replace(tzinfo=dt.UTC),
                )
            )
    start, end = dt.datetime(2026, 10, 24, tzinfo=dt.UTC), dt.datetime(2026, 10, 27, tzinfo=dt.UTC)
    assert len(offset_spans(start, end, "Europe/Zurich")) == 2
    with engine.connect() as conn:
        rows = queries.run(conn, "sales", start, end, "day", B)["rows"]
        assert [(r["label"], r["sales"]) for r in rows] == [("2026-10-24", 100), ("2026-10-25", 500)]
        assert rows[1]["bucket"] == dt.datetime(2026, 10, 24, 22, tzinfo=dt.UTC)
        hours = queries.run(conn, "sales", start, end, "hour", B)["rows"]
        assert [r["label"] for r in hours] == ["2026-10-24 23", "2026-10-25 01", "2026-10-25 23"]

    # Closed buckets are kept: the same answer, then read back instead of computed, an open one
    # (ended less than 15 minutes before now) computed each time.
    now = dt.datetime(2026, 10, 26, 0, 10, tzinfo=dt.UTC)  # the 26th (local) is still open
    with reader(engine).connect() as conn:
        first = queries.run(conn, "sales", start, end, "day", B, keep=engine, now=now)
        assert [(r["label"], r["sales"]) for r in first["rows"]] == [("2026-10-24", 100), ("2026-10-25", 500)]
    with engine.connect() as conn:
        kept = conn.execute(select(cache.BUCKETS.c.label)).scalars().all()
        assert kept == ["2026-10-25"]  # the 24th began before `from` (local midnight is 22:00 UTC)
    with engine.begin() as conn:  # a booking dated into a kept day, and one into the open day
        for n, at in ((7, dt.datetime(2026, 10, 25, 12)), (8, dt.datetime(2026, 10, 26, 0, 5))):
            conn.execute(
                TRANSFERS.insert().values(
                    id=f"t{n}",
                    idempotency_key=f"k{n}",
                    ledger="CHF",
                    debit_account_id=wallet,
                    credit_account_id=shop["revenue_account_id"],
                    amount=1000,
                    flags="posted",
                    code="sale",
                    reason="",
                    created_at=at.replace(tzinfo=dt.UTC),
                )
            )
    with reader(engine).connect() as conn:
        again = queries.run(conn, "sales", start, end, "day", B, keep=engine, now=now)["rows"]
        assert [(r["label"], r["sales"]) for r in again] == [
            ("2026-10-24", 100),
            ("2026-10-25", 500),
            ("2026-10-26", 1000),
        ]
        assert again[:2] == first["rows"]  # the kept day as it was (bucket time and all)
        fresh = queries.run(conn, "sales", start, end, "day", B)["rows"]  # nothing kept: all computed
        assert [r["sales"] for r in fresh] == [100, 1500, 1000]


def test_machine_uptime_and_faults_come_from_health_telemetry(engine):
    """Four health reports of one controller: up 10:00-10:30, a watchdog reset at ~10:49, up
    again until 11:10 — 2,460 s up in the 10 o'clock hour with a reboot that is a fault."""
    from hub.devices import management, registry

    with engine.begin() as conn:
        registry.add_device(conn, "slide-1", "park", 300, "CHF")

    def health(at, uptime, cause="power_on"):
        body = {"uptime_seconds": uptime, "reset_cause": cause, "reconnects": 0, "reader_resets": 0}
        body |= {"journal_depth": 0, "fw": "1"}
        management.store_reports(engine, {"slide-1": (dt.datetime(2026, 7, 1, *at, tzinfo=dt.UTC), body)}, [])

    health((10, 5), 300)
    health((10, 30), 2100)
    health((10, 50), 60, "watchdog")  # it was down from about 10:30 to 10:49
    health((11, 10), 1260)
    start = dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC)
    with engine.connect() as conn:
        rows = queries.run(conn, "machines", start, start + dt.timedelta(hours=2), "hour")["rows"]
    got = [
        (
            r["bucket"].hour,
            r["health_reports"],
            r["up_seconds"],
            r["uptime_percent"],
            r["reboots"],
            r["faults"],
        )
        for r in rows
    ]
    assert got == [(10, 3, 2460, 68.3, 1, 1), (11, 1, 600, 16.7, 0, 0)]


def test_the_season_bench_seeds_what_the_reports_count(tmp_path):
    """`tapgift bench-reports` at a tiny size: every report timed, and the taps it seeded counted."""
    from hil import bench_reports
    from hub.migrations import open_database

    engine = open_database(f"sqlite:///{tmp_path / 'season.db'}")
    counts = bench_reports.seed(
        engine, days=2, n_outlets=2, machines=2, taps=5, baskets=3, topups=2, cards=50
    )
    assert counts["holds"] == 2 * 2 * 2 * 5 and counts["baskets"] == 2 * 2 * 3
    timed = bench_reports.time_reports(engine, days=2)
    assert {t["report"] for t in timed} == set(queries.REPORTS)
    start = bench_reports.START
    with engine.connect() as conn:
        season = queries.run(conn, "machines", start, start + dt.timedelta(days=2), "month")
        sales = queries.run(conn, "sales", start, start + dt.timedelta(days=2), "day")
    assert season["totals"]["taps"] == 40 and season["totals"]["posted"] == 40 * 300
    assert sales["totals"]["baskets"] == 12 and sales["totals"]["topups_count"] == 8
    engine.dispose()


def test_schedules_mail_each_local_day_week_and_month_and_only_the_last_one_missed():
    zurich = "Europe/Zurich"
    now = dt.datetime(2026, 3, 28, 10, tzinfo=dt.UTC)  # a Saturday; summer time starts on the 29th
    daily = schedule._boundary_after(now, "daily", zurich)
    weekly = schedule._boundary_after(now, "weekly", zurich)
    monthly = schedule._boundary_after(now, "monthly", zurich)
    assert daily == dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC)  # local midnight, still UTC+1
    assert weekly == dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC)  # Monday 00:00, now UTC+2
    assert monthly == dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC)
    assert schedule.period_before(weekly, "weekly", zurich)[0] == dt.datetime(2026, 3, 22, 23, tzinfo=dt.UTC)
    assert schedule.period_before(monthly, "monthly", zurich)[0] == dt.datetime(
        2026, 2, 28, 23, tzinfo=dt.UTC
    )
    # A hub down for three days mails the last day that ended, not all three.
    later = daily + dt.timedelta(days=3, hours=5)
    assert schedule._last_boundary(later, daily, "daily", zurich) == daily + dt.timedelta(
        days=3
    ) - dt.timedelta(hours=1)


def test_two_hubs_claim_a_due_schedule_once(engine):
    """Two hubs' mailers looking at the same moment: one claims the schedule, the other finds it
    moved on (UPDATE … WHERE next_run = <as read>)."""
    import threading

    from hub.loyalty import outlets

    with engine.begin() as conn:
        outlets.create_site(conn, "park")
        outlets.create_outlet(conn, "CHF", B, "park")
        made = schedule.create(conn, {"report": "sales", "outlet_id": B, "period": "daily"}, "test", utcnow())
    due = made["next_run"] + dt.timedelta(minutes=1)
    barrier, claimed = threading.Barrier(2), []

    def hub():
        barrier.wait()
        claimed.append(len(schedule.claim_due(engine, due)))

    threads = [threading.Thread(target=hub) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == [0, 1]
