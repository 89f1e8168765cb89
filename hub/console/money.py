"""The Money page: charts of what people would rather look at than read — sales per outlet, the
attendance (distinct cards) and seed 000's activities and campaigns, per hour or day of a chosen
period, each with its table and CSV (from hub.reports, the same queries as GET /api/v1/reports) —
then what each outlet and machine took so far, the ledgers (each sums to zero), the gift
settlement between the outlets and offline overspends, each with a CSV download; and who owes
whom for the cards' money in the chosen period (hub.settlement, as GET /api/v1/settlement). Like the API's
reports, for operators bound to no outlet or site (reports.read)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from hub import settlement as cash_settlement
from hub.api.deps import COALITION
from hub.console import charts
from hub.console.web import Needs, Page
from hub.core.errors import DomainError
from hub.gifts import activity_report, settlement
from hub.ledger import ACCOUNTS, ledger_totals
from hub.reports import queries, render
from hub.reports.periods import zone
from hub.taps.offline_vends import overspends

router = APIRouter()

MoneyPage = Annotated[Page, Needs("reports.read")]
MAX_DAYS = 62  # a period longer than this is charted by day
NO_OUTLET = "-"  # the series of rows no outlet owns (a machine outside the loyalty engine)

# chart id → (report, the figure charted, is it money)
CHARTS = {
    "sales": ("sales", "debits", True),
    "attendance": ("attendance", "cards", False),
    "activities": ("activities", "activities", False),
}


# --- the period ------------------------------------------------------------------------------


def _period(request: Request, page: Page) -> dict:
    """The charts' period from the query (?from=&to= local days, ?by=hour|day), else today by
    hour; with the mistakes found."""
    q = request.query_params
    today = dt.datetime.now(page.tz).date()
    errors, days = {}, {}
    for name in ("from", "to"):
        text = q.get(name, "").strip()
        try:
            days[name] = dt.date.fromisoformat(text) if text else today
        except ValueError:
            errors[name] = page._("A date such as 2026-12-31.")
            days[name] = today
    if days["to"] < days["from"]:
        errors["to"] = page._("The end comes before the start.")
        days["to"] = days["from"]
    if (days["to"] - days["from"]).days >= MAX_DAYS:
        errors["to"] = page._("At most {days} days.", days=MAX_DAYS)
        days["to"] = days["from"] + dt.timedelta(days=MAX_DAYS - 1)
    by = q.get("by", "hour" if days["from"] == days["to"] else "day")
    if by not in ("hour", "day"):
        by = "day"
    return {"from": days["from"], "to": days["to"], "by": by, "errors": errors}


def _bounds(conn: Connection, period: dict) -> tuple[dt.datetime, dt.datetime, str]:
    """The period's [start, end) in UTC, from local midnights in the reports' time zone."""
    tz = queries.report_tz(conn, None)

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone(tz)).astimezone(dt.UTC)

    return midnight(period["from"]), midnight(period["to"] + dt.timedelta(days=1)), tz


def _buckets(start: dt.datetime, end: dt.datetime, by: str, tz: str) -> list[tuple[str, str]]:
    """Every bucket of the period, as hub.reports labels it and as the chart shows it."""
    out, seen, moment = [], set(), start
    while moment < end:
        local = moment.astimezone(zone(tz))
        label = local.strftime("%Y-%m-%d %H" if by == "hour" else "%Y-%m-%d")
        if label not in seen:
            seen.add(label)
            out.append((label, local.strftime("%H") if by == "hour" else local.strftime("%d.%m.")))
        moment += dt.timedelta(hours=1)
    return out


def _reports(conn: Connection, period: dict, currency: str) -> dict:
    start, end, tz = _bounds(conn, period)
    found = {
        name: queries.run(conn, report, start, end, period["by"]) for name, (report, *_rest) in CHARTS.items()
    }
    found["_owing"] = cash_settlement.report(conn, currency, start, end)
    found["_buckets"] = _buckets(start, end, period["by"], tz)
    found["_tz"] = tz
    return found


# --- the charts ------------------------------------------------------------------------------


def _chart(
    page: Page, chart_id: str, result: dict, buckets: list[tuple[str, str]], outlet_names: dict
) -> dict:
    """One chart with its legend and table. Sales stack by outlet; attendance and activities
    show the coalition's own rows (outlet null: a card at two outlets counts once)."""
    _report, figure, is_money = CHARTS[chart_id]
    fmt = page.money if is_money else str
    rows = result["rows"]
    if chart_id == "sales":
        series = sorted({r["outlet_id"] or NO_OUTLET for r in rows if r[figure]})
        values = {(r["label"], r["outlet_id"] or NO_OUTLET): r[figure] for r in rows}
        names = {**outlet_names, NO_OUTLET: page._("no outlet")}
    else:
        series = ["all"]
        values = {(r["label"], "all"): r[figure] for r in rows if r["outlet_id"] is None}
        names = {"all": page._("all outlets")}
    title = {
        "sales": page._("Sales per outlet"),
        "attendance": page._("Attendance: distinct cards"),
        "activities": page._("Activities and campaigns"),
    }[chart_id]
    shown = dict(buckets)
    table = [
        {
            **r,
            "shown": shown.get(r["label"], r["label"]),
            "outlet": outlet_names.get(r["outlet_id"], r["outlet_id"]),
        }
        for r in rows
        if r[figure] or (chart_id == "activities" and r["campaigns"])
    ]
    column = {"sales": page._("Taken"), "attendance": page._("Cards"), "activities": page._("Activities")}
    return {
        "id": chart_id,
        "title": title,
        "column": column[chart_id],
        "svg": charts.stacked_bars(f"{chart_id}-chart", title, buckets, series, values, fmt, names),
        "legend": charts.legend(series, names) if len(series) > 1 else [],
        "table": table,
        "figure": figure,
        "money": is_money,
        "total": sum(v for v in values.values()) if chart_id == "sales" else None,
    }


# --- takings so far, ledgers, settlement, overspends -------------------------------------------


def _revenue(conn: Connection, currency: str) -> list[dict]:
    """What each outlet and machine took in (its revenue or machine account's balance), largest
    first: read off the accounts, not the transfer log, so it costs one query however long
    the park has run."""
    rows = conn.execute(
        select(ACCOUNTS.c.kind, ACCOUNTS.c.name, ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted).where(
            ACCOUNTS.c.ledger == currency, ACCOUNTS.c.kind.in_(("revenue", "machine"))
        )
    )
    taken = [{"kind": k, "name": n.split(" ", 1)[-1], "amount": int(a)} for k, n, a in rows if a]
    return sorted(taken, key=lambda r: (-r["amount"], r["name"]))


def _bars(rows: list[dict]) -> dict:
    """Bars for an SVG chart: each row's share of the largest, in percent of the width."""
    top = max((r["amount"] for r in rows), default=0)
    return {"rows": [{**r, "width": round(100 * r["amount"] / top, 1) if top > 0 else 0} for r in rows]}


def _money(conn: Connection, currency: str) -> dict:
    return {
        "revenue": _bars(_revenue(conn, currency)),
        "activities": activity_report(conn),
        "ledgers": ledger_totals(conn),
        "settlement": settlement(conn, currency),
        "overspends": overspends(conn, None, 200),
        "outlet_names": {o["id"]: o["name"] or o["id"] for o in queries.outlet_directory(conn).values()},
    }


def _money_data(page: Page) -> dict:
    return page.db().read(_money, page.currency, scope=COALITION)


@router.get("/money")
def money(page: MoneyPage, request: Request):
    period = _period(request, page)
    try:
        data = _money_data(page)
        found = page.db().read(_reports, period, page.currency, scope=COALITION)
    except DomainError as exc:  # bound to an outlet or site: the reports are the coalition's
        return page.render("error.html", exc.status, title=page._("Not allowed"), detail=page.error(exc))
    buckets = found["_buckets"]
    shown = [_chart(page, name, found[name], buckets, data["outlet_names"]) for name in CHARTS]
    query = f"from={period['from']}&to={period['to']}&by={period['by']}"
    return page.render(
        "money.html",
        status_code=422 if period["errors"] else 200,
        title=page._("Money"),
        period=period,
        charts=shown,
        query=query,
        report_tz=found["_tz"],
        owing=found["_owing"],
        **data,
    )


def _csv(rows: list[dict], columns: list[str], name: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return _csv_response(out.getvalue(), name)


def _csv_response(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"},
    )


@router.get("/money/{table}.csv")
def money_csv(page: MoneyPage, request: Request, table: str):
    """One table of the Money page as CSV (amounts in minor units, times in UTC; a chart's
    table as hub.reports writes it, local buckets labelled)."""
    try:
        if table in CHARTS or table == "owing":
            found = page.db().read(_reports, _period(request, page), page.currency, scope=COALITION)
            if table == "owing":
                return _csv_response(cash_settlement.to_csv(found["_owing"]), "owing")
            return _csv_response(render.csv_text(found[table]), table)
        data = _money_data(page)
    except DomainError as exc:
        return Response(page.error(exc), status_code=exc.status)
    if table == "ledgers":
        rows = [{"ledger": k, **v} for k, v in sorted(data["ledgers"].items())]
        return _csv(rows, ["ledger", "posted", "pending"], "ledgers")
    if table == "revenue":
        return _csv(data["revenue"]["rows"], ["kind", "name", "amount"], "revenue")
    if table == "settlement":
        return _csv(
            data["settlement"]["outlets"],
            ["outlet_id", "owed_to_outlet", "owed_by_outlet", "net"],
            "settlement",
        )
    if table == "overspends":
        columns = [
            "booked_at",
            "site",
            "device_id",
            "event_id",
            "card_uid",
            "amount",
            "posted",
            "short",
            "overspend",
        ]
        return _csv(data["overspends"], columns, "overspends")
    return Response("no such table", status_code=404)
