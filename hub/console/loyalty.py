"""The Loyalty page: sites and outlets, the top-up bonus tiers (edited here, as PUT
/api/v1/topup-tiers: they concern every outlet, so only an operator bound to no outlet or site
changes them), and the bonus-point rules with their main fields.

The Money page: the ledgers (each sums to zero), the gift settlement between the outlets and
offline overspends, each with a CSV download; like the API's reports, for operators bound to no
outlet or site (reports.read)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from hub.api.deps import COALITION
from hub.console import i18n
from hub.console.web import Form, Needs, Page, same_origin
from hub.core.errors import DomainError
from hub.gifts import settlement
from hub.ledger import ledger_totals
from hub.loyalty import outlets, points
from hub.taps.offline_vends import overspends
from hub.wallets import topup_bonus

router = APIRouter()

LoyaltyPage = Annotated[Page, Needs("loyalty.read")]
LoyaltyWrite = Annotated[Page, Needs("loyalty.write")]
MoneyPage = Annotated[Page, Needs("reports.read")]
BLANK_TIERS = 2  # empty rows to add tiers in


def _loyalty(conn: Connection, currency: str) -> dict:
    return {
        "sites": outlets.list_sites(conn),
        "outlets": outlets.list_outlets(conn),
        "tiers": topup_bonus.get_tiers(conn, currency),
        "rules": points.list_rules(conn),
    }


def _show_loyalty(page: Page, status: int = 200, rows: list[dict] | None = None, errors: dict | None = None):
    data = page.db().read(_loyalty, page.currency)
    if rows is None:
        rows = [
            {"min_amount": i18n.plain_amount(t["min_amount"], page.currency), "percent": str(t["percent"])}
            for t in data["tiers"]
        ]
    rows = rows + [{"min_amount": "", "percent": ""}] * BLANK_TIERS
    return page.render(
        "loyalty.html",
        status,
        title=page._("Loyalty"),
        **data,
        rows=rows,
        errors=errors or {},
        may_edit=page.may("loyalty.write") and not page.caller.scoped,
    )


@router.get("/loyalty")
def loyalty(page: LoyaltyPage, saved: str | None = None):
    if saved:
        page.messages.append(("ok", page._("Top-up tiers saved.")))
    return _show_loyalty(page)


@router.post("/loyalty/tiers", name="set_topup_tiers", dependencies=[Depends(same_origin)])
def set_tiers(form: Form, page: LoyaltyWrite):
    """Replace the tiers with the rows filled in (an empty row is left out)."""
    rows, tiers, errors = [], [], {}
    for i in range(50):
        amount, percent = form.get(f"min_amount_{i}"), form.get(f"percent_{i}")
        if amount is None and percent is None:
            break
        amount, percent = (amount or "").strip(), (percent or "").strip().replace(",", ".")
        if not amount and not percent:
            continue
        rows.append({"min_amount": amount, "percent": percent})
        n = len(rows) - 1
        cents = i18n.parse_amount(amount, page.currency)
        if cents is None:
            errors[f"min_amount_{n}"] = page._("Enter an amount such as 50 or 50.00.")
        try:
            value = Decimal(percent)
            if not 0 <= value <= 100 or value.as_tuple().exponent < -2:
                raise InvalidOperation
        except InvalidOperation:
            errors[f"percent_{n}"] = page._("A percentage from 0 to 100, e.g. 5 or 2.5.")
            value = None
        if cents is not None and value is not None:
            tiers.append({"min_amount": cents, "percent": value})
    if len({t["min_amount"] for t in tiers}) != len(tiers):
        errors["tiers"] = page._("Two tiers start at the same amount.")
    if errors:
        return _show_loyalty(page, 422, rows, errors)
    body = [{"min_amount": t["min_amount"], "percent": str(t["percent"])} for t in tiers]
    try:
        page.db({"tiers": body}).write(
            topup_bonus.set_tiers,
            page.currency,
            tiers,
            before=lambda conn: topup_bonus.get_tiers(conn, page.currency),
            scope=COALITION,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=str(exc))))
        return _show_loyalty(page, exc.status, rows)
    return RedirectResponse("/loyalty?saved=1", status_code=303)


# --- money -------------------------------------------------------------------------------------


def _money(conn: Connection, currency: str) -> dict:
    return {
        "ledgers": ledger_totals(conn),
        "settlement": settlement(conn, currency),
        "overspends": overspends(conn, None, 200),
    }


def _money_data(page: Page) -> dict:
    return page.db().read(_money, page.currency, scope=COALITION)


@router.get("/money")
def money(page: MoneyPage):
    try:
        data = _money_data(page)
    except DomainError as exc:  # bound to an outlet or site: the reports are the coalition's
        return page.render("error.html", exc.status, title=page._("Not allowed"), detail=str(exc))
    return page.render("money.html", title=page._("Money"), **data)


def _csv(rows: list[dict], columns: list[str], name: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"},
    )


@router.get("/money/{table}.csv")
def money_csv(page: MoneyPage, table: str):
    """One table of the Money page as CSV (amounts in minor units, times in UTC)."""
    try:
        data = _money_data(page)
    except DomainError as exc:
        return Response(str(exc), status_code=exc.status)
    if table == "ledgers":
        rows = [{"ledger": k, **v} for k, v in sorted(data["ledgers"].items())]
        return _csv(rows, ["ledger", "posted", "pending"], "ledgers")
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
