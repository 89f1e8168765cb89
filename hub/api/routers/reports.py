"""Reports (/api/v1/reports): sales, tills, machines, loyalty, vouchers, attendance, overspends
and seed 000's activities per outlet, till/cashier or machine and per hour, day or month, as
JSON, CSV or PDF (hub.reports); the outlets' report contacts and the e-mailed schedules
(/api/v1/report-schedules)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from hub.access.callers import Caller
from hub.api.auth import Allowed
from hub.api.deps import COALITION, Currency, DbDep, EngineDep, Scope
from hub.api.fields import Moment, RowId, Slug
from hub.core.clock import utcnow
from hub.core.errors import Invalid
from hub.core.settings import Settings
from hub.reports import queries, render, schedule
from hub.vouchers.delivery import MailSettings

router = APIRouter(tags=["reports"])

ReportName = Literal[tuple(queries.REPORTS)]  # type: ignore[valid-type]
By = Literal["hour", "day", "month"]
Format = Literal["json", "csv", "pdf"]
Email = Annotated[str, Field(pattern=r"^[^@\s,;<>]{1,64}@[^@\s,;<>]{1,190}$", max_length=254)]
_MEDIA = {"csv": "text/csv", "pdf": "application/pdf"}


class ReportInfo(BaseModel):
    name: str
    title: str
    columns: list[str] = Field(description="label (the local bucket), the row's dimensions, its figures")
    money: list[str] = Field(description="the figures in minor units")


class ReportOut(BaseModel):
    report: str
    title: str
    from_: dt.datetime = Field(alias="from", description="the period's start, UTC")
    to: dt.datetime
    by: str
    tz: str = Field(description="the time zone hours, days and months are counted in (the outlet's site's)")
    outlet_id: str | None
    columns: list[str]
    money: list[str]
    rows: list[dict[str, Any]] = Field(
        description="per bucket (`bucket`: its UTC start; `label`: local) and dimension: the figures"
    )
    totals: dict[str, Any] | None = Field(description="sums over the rows; null for distinct counts")


def _scope(caller: Caller, outlet_id: str | None) -> tuple[str | None, Scope]:
    """An outlet-bound caller's reports are their outlet's unless they name one; every other
    report spans the coalition."""
    if outlet_id is None and caller.outlet_id is not None:
        outlet_id = caller.outlet_id
    return outlet_id, (Scope(outlet_id) if outlet_id is not None else COALITION)


def _format(fmt: Format | None, accept: str | None) -> str:
    if fmt is not None:
        return fmt
    for name, media in _MEDIA.items():
        if accept and media in accept:
            return name
    return "json"


@router.get("/reports", response_model=list[ReportInfo])
def list_reports(_caller: Allowed.reports_read):
    """The reports there are, with their columns."""
    return [
        {"name": r.name, "title": r.title, "columns": list(r.columns), "money": list(r.money)}
        for r in queries.REPORTS.values()
    ]


@router.get(
    "/reports/{name}",
    response_model=ReportOut,
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}},
)
def get_report(
    caller: Allowed.reports_read,
    name: ReportName,
    db: DbDep,
    engine: EngineDep,
    currency: Currency,
    from_: Annotated[Moment | None, Query(alias="from", description="default: 7 days before `to`")] = None,
    to: Annotated[Moment | None, Query(description="default: now")] = None,
    outlet_id: Annotated[
        Slug | None, Query(description="one outlet's report (an outlet's caller: theirs)")
    ] = None,
    by: By = "day",
    format: Annotated[
        Format | None, Query(description="default: as the Accept header asks, else json")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
):
    """A report over [from, to), bucketed by hour, day or month in the outlet's site's time zone,
    per outlet, till and cashier, or machine as the report is; as JSON, CSV (`format=csv` or
    Accept: text/csv) or PDF with its chart (`format=pdf` or Accept: application/pdf)."""
    end = to or utcnow()
    start = from_ or end - dt.timedelta(days=7)
    if start >= end:
        raise Invalid("from must be before to")
    outlet_id, scope = _scope(caller, outlet_id)
    result = db.read(queries.run, name, start, end, by, outlet_id, keep=engine, scope=scope)
    chosen = _format(format, accept)
    if chosen == "json":
        return result
    stem = f"{name}-{outlet_id or 'all'}-{start.date().isoformat()}"
    if chosen == "csv":
        body = render.csv_text(result).encode()
    else:
        body = render.pdf_bytes(result, currency)
    return Response(
        body,
        media_type=_MEDIA[chosen],
        headers={"Content-Disposition": f'attachment; filename="{stem}.{chosen}"'},
    )


# -- the outlets' contacts and the e-mailed schedules ----------------------------------------------------------


class Contact(BaseModel):
    email: Email
    name: str = Field("", max_length=200)


class ScheduleIn(BaseModel):
    report: ReportName
    outlet_id: Slug | None = Field(
        None, description="the outlet whose report (to its contacts); null: all outlets"
    )
    period: Literal["daily", "weekly", "monthly"] = Field(
        description="mailed after each local day, week (Monday) or month, covering it"
    )
    by: By | None = Field(None, description="default: hour for daily, day for weekly and monthly")
    format: Literal["pdf", "csv"] = "pdf"
    recipients: list[Email] = Field(
        default_factory=list, max_length=50, description="besides the outlet's contacts"
    )


class ScheduleOut(BaseModel):
    id: int
    report: str
    outlet_id: str | None
    period: str
    by: str
    format: str
    recipients: list[str]
    active: bool
    next_run: dt.datetime = Field(description="when it is mailed next: the end of the period it covers")
    last_run: dt.datetime | None
    last_error: str | None
    created_by: str
    created_at: dt.datetime


@router.get("/outlets/{outlet_id}/report-contacts", response_model=list[Contact])
def get_contacts(_caller: Allowed.reports_schedule, outlet_id: Slug, db: DbDep):
    """Who receives the outlet's e-mailed reports."""
    return db.read(schedule.contacts, outlet_id, scope=Scope(outlet_id))


@router.put("/outlets/{outlet_id}/report-contacts", response_model=list[Contact])
def put_contacts(
    _caller: Allowed.reports_schedule,
    outlet_id: Slug,
    body: Annotated[list[Contact], Field(max_length=50)],
    db: DbDep,
):
    """Replace who receives the outlet's e-mailed reports."""
    people = [c.model_dump() for c in body]
    return db.write(
        schedule.set_contacts,
        outlet_id,
        people,
        utcnow(),
        scope=Scope(outlet_id),
        before=lambda conn: schedule.contacts(conn, outlet_id),
    )


@router.post("/report-schedules", response_model=ScheduleOut, status_code=201)
def create_schedule(caller: Allowed.reports_schedule, body: ScheduleIn, db: DbDep):
    """E-mail a report after every local day, week or month to the outlet's contacts (and the
    recipients named)."""
    outlet_id, scope = _scope(caller, body.outlet_id)
    data = {**body.model_dump(), "outlet_id": outlet_id}
    return db.write(schedule.create, data, caller.name, utcnow(), scope=scope)


@router.get("/report-schedules", response_model=list[ScheduleOut])
def list_schedules(
    caller: Allowed.reports_schedule, db: DbDep, outlet_id: Annotated[Slug | None, Query()] = None
):
    """The schedules (an outlet's caller: their outlet's)."""
    outlet_id, scope = _scope(caller, outlet_id)
    return db.read(schedule.listed, outlet_id, scope=scope)


@router.delete("/report-schedules/{schedule_id}", response_model=ScheduleOut)
def delete_schedule(caller: Allowed.reports_schedule, schedule_id: RowId, db: DbDep):
    """Stop mailing a report."""
    found = db.read(schedule.get, schedule_id)
    scope = Scope(found["outlet_id"]) if found["outlet_id"] else COALITION
    return db.write(schedule.remove, schedule_id, scope=scope)


def _mail(request: Request) -> MailSettings:
    """The mail server vouchers are sent through (tests set app.state.voucher_settings)."""
    found = getattr(request.app.state, "voucher_settings", None)
    if found is not None:
        return found.mail
    s = Settings()
    return MailSettings(s.smtp, s.mail_from)


@router.post("/report-schedules/{schedule_id}/send", response_model=ScheduleOut)
def send_schedule(
    _caller: Allowed.reports_schedule,
    schedule_id: RowId,
    db: DbDep,
    engine: EngineDep,
    currency: Currency,
    request: Request,
):
    """Mail the report of the last period that ended now (its next run stays as it is); a
    failure is in `last_error`."""
    found = db.read(schedule.get, schedule_id)
    scope = Scope(found["outlet_id"]) if found["outlet_id"] else COALITION
    found = db.write(schedule.get, schedule_id, scope=scope)  # checked and audited
    schedule.send(engine, found, schedule.last_ended(engine, found, utcnow()), _mail(request), currency)
    return db.read(schedule.get, schedule_id)
