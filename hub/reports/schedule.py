"""Reports e-mailed on a schedule: daily, weekly or monthly, to an outlet's contacts (and any
recipients the schedule names), as a PDF or CSV attachment, through the SMTP server vouchers are
mailed through (hub.vouchers.delivery).

A schedule's `next_run` is the end of the period it mails next (a local midnight; weekly: a
Monday; monthly: the 1st). The hub's mailer (`run_forever`) looks every minute for schedules due;
each is claimed by moving its next_run on with `UPDATE … WHERE id = ? AND next_run = <as read>`,
committed before the mail goes out, so of several hubs on one database exactly one sends it (and a
hub that dies after its claim sends nothing: at most once). A hub that was down mails the last
period ended, not each one it missed."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from email.message import EmailMessage

from sqlalchemy import Connection, Engine, delete, select, update

from hub.core.clock import utcnow
from hub.core.engine import reader
from hub.core.errors import Invalid, NotFound
from hub.reports import queries, render
from hub.reports.periods import zone
from hub.tables.reports import OutletContact, ReportSchedule
from hub.vouchers import delivery

log = logging.getLogger("tapgift.reports")

SCHEDULES = ReportSchedule.__table__
CONTACTS = OutletContact.__table__
PERIODS = ("daily", "weekly", "monthly")
FORMATS = ("pdf", "csv")
DEFAULT_BY = {"daily": "hour", "weekly": "day", "monthly": "day"}


# -- periods -----------------------------------------------------------------------------------------------


def _boundary_after(moment: dt.datetime, period: str, tz: str) -> dt.datetime:
    """The first local midnight (weekly: a Monday's; monthly: a 1st's) after `moment`."""
    local = moment.astimezone(zone(tz))
    day = local.date() + dt.timedelta(days=1)
    if period == "weekly":
        day += dt.timedelta(days=(7 - day.weekday()) % 7)
    elif period == "monthly":
        day = (local.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=zone(tz)).astimezone(dt.UTC)


def period_before(end: dt.datetime, period: str, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The local day, week or month that ends at `end` (a boundary)."""
    local = end.astimezone(zone(tz)).date()
    if period == "daily":
        start = local - dt.timedelta(days=1)
    elif period == "weekly":
        start = local - dt.timedelta(days=7)
    else:
        start = (local - dt.timedelta(days=1)).replace(day=1)
    return dt.datetime.combine(start, dt.time(), tzinfo=zone(tz)).astimezone(dt.UTC), end


def last_ended(engine: Engine, schedule: dict, now: dt.datetime) -> dt.datetime:
    """The end of the schedule's last period that has ended by now."""
    with engine.connect() as conn:
        tz = queries.report_tz(conn, schedule["outlet_id"])
    return period_before(_boundary_after(now, schedule["period"], tz), schedule["period"], tz)[0]


def _last_boundary(now: dt.datetime, next_run: dt.datetime, period: str, tz: str) -> dt.datetime:
    """The latest boundary at or before now (next_run, or a later one the hub missed)."""
    at = next_run
    while (following := _boundary_after(at, period, tz)) <= now:
        at = following
    return at


# -- schedules and contacts -------------------------------------------------------------------------------


def _view(row) -> dict:
    return dict(row)


def create(conn: Connection, body: dict, created_by: str, now: dt.datetime) -> dict:
    """A schedule of `report` for `outlet_id` (None: the coalition's report), `period` daily,
    weekly or monthly, bucketed `by`, as `format`, to the outlet's contacts and `recipients`."""
    queries.get_report(body["report"])
    if body["period"] not in PERIODS:
        raise Invalid(f"period is one of {', '.join(PERIODS)}")
    outlet = body.get("outlet_id")
    if outlet is None and not body.get("recipients"):
        raise Invalid("a coalition report (no outlet) needs recipients: it has no outlet's contacts")
    tz = queries.report_tz(conn, outlet)
    next_run = _boundary_after(now, body["period"], tz)
    values = {
        "report": body["report"],
        "outlet_id": outlet,
        "period": body["period"],
        "by": body.get("by") or DEFAULT_BY[body["period"]],
        "format": body.get("format") or "pdf",
        "recipients": list(body.get("recipients") or []),
        "active": True,
        "next_run": next_run,
        "created_by": created_by,
        "created_at": now,
    }
    new_id = conn.execute(SCHEDULES.insert().values(**values)).inserted_primary_key[0]
    return get(conn, new_id)


def get(conn: Connection, schedule_id: int) -> dict:
    row = conn.execute(select(SCHEDULES).where(SCHEDULES.c.id == schedule_id)).mappings().first()
    if row is None:
        raise NotFound(f"no report schedule {schedule_id}")
    return _view(row)


def listed(conn: Connection, outlet_id: str | None = None) -> list[dict]:
    query = select(SCHEDULES).order_by(SCHEDULES.c.id)
    if outlet_id is not None:
        query = query.where(SCHEDULES.c.outlet_id == outlet_id)
    return [_view(r) for r in conn.execute(query).mappings()]


def remove(conn: Connection, schedule_id: int) -> dict:
    found = get(conn, schedule_id)
    conn.execute(delete(SCHEDULES).where(SCHEDULES.c.id == schedule_id))
    return found


def contacts(conn: Connection, outlet_id: str) -> list[dict]:
    queries.report_tz(conn, outlet_id)  # 404 for an unknown outlet
    rows = conn.execute(
        select(CONTACTS.c.email, CONTACTS.c.name)
        .where(CONTACTS.c.outlet_id == outlet_id)
        .order_by(CONTACTS.c.email)
    ).mappings()
    return [dict(r) for r in rows]


def set_contacts(conn: Connection, outlet_id: str, people: list[dict], now: dt.datetime) -> list[dict]:
    """Replace the outlet's contacts (an e-mail once per outlet)."""
    queries.report_tz(conn, outlet_id)
    emails = [p["email"].lower() for p in people]
    if len(set(emails)) != len(emails):
        raise Invalid("an e-mail is listed twice")
    conn.execute(delete(CONTACTS).where(CONTACTS.c.outlet_id == outlet_id))
    for person, email in zip(people, emails, strict=True):
        conn.execute(
            CONTACTS.insert().values(
                outlet_id=outlet_id, email=email, name=person.get("name", ""), created_at=now
            )
        )
    return contacts(conn, outlet_id)


# -- sending -------------------------------------------------------------------------------------------------


def claim_due(engine: Engine, now: dt.datetime) -> list[tuple[dict, dt.datetime]]:
    """The schedules due now, each claimed by this hub: (schedule, end of the period to mail)."""
    claimed = []
    with engine.begin() as conn:
        due = conn.execute(
            select(SCHEDULES).where(SCHEDULES.c.active.is_(True), SCHEDULES.c.next_run <= now)
        ).mappings()
        for row in list(due):
            tz = queries.report_tz(conn, row["outlet_id"])
            end = _last_boundary(now, row["next_run"], row["period"], tz)
            moved = conn.execute(
                update(SCHEDULES)
                .where(SCHEDULES.c.id == row["id"], SCHEDULES.c.next_run == row["next_run"])
                .values(next_run=_boundary_after(end, row["period"], tz), last_run=now)
            )
            if moved.rowcount == 1:
                claimed.append((dict(row), end))
    return claimed


def recipients(conn: Connection, schedule: dict) -> list[str]:
    people = [c["email"] for c in contacts(conn, schedule["outlet_id"])] if schedule["outlet_id"] else []
    return sorted(set(people) | set(schedule["recipients"]))


def message(
    conn: Connection,
    schedule: dict,
    end: dt.datetime,
    currency: str,
    sender: str,
    keep: Engine | None = None,
) -> EmailMessage:
    """The report of the period ending at `end` as an e-mail with its PDF or CSV attached."""
    tz = queries.report_tz(conn, schedule["outlet_id"])
    start, end = period_before(end, schedule["period"], tz)
    result = queries.run(
        conn, schedule["report"], start, end, schedule["by"], schedule["outlet_id"], keep=keep
    )
    to = recipients(conn, schedule)
    if not to:
        raise Invalid(f"report schedule {schedule['id']} has no recipients (the outlet has no contacts)")
    local = start.astimezone(zone(tz)).date().isoformat()
    where = schedule["outlet_id"] or "all outlets"
    msg = EmailMessage()
    msg["Subject"] = f"{result['title']}: {where}, {schedule['period']} from {local}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content(
        f"{result['title']} for {where}, {schedule['period']} report from {_when(start, tz)} to {_when(end, tz)}"
        f" ({tz}), by {schedule['by']}: {len(result['rows'])} rows, attached as {schedule['format'].upper()}.\n"
    )
    name = f"{schedule['report']}-{schedule['outlet_id'] or 'all'}-{local}"
    if schedule["format"] == "csv":
        msg.add_attachment(
            render.csv_text(result).encode(), maintype="text", subtype="csv", filename=f"{name}.csv"
        )
    else:
        data = render.pdf_bytes(result, currency)
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=f"{name}.pdf")
    return msg


def _when(moment: dt.datetime, tz: str) -> str:
    return moment.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


def send(
    engine: Engine, schedule: dict, end: dt.datetime, mail: delivery.MailSettings, currency: str
) -> None:
    """Mail one schedule's report; a failure is kept on the schedule (last_error)."""
    error = None
    try:
        with reader(engine).connect() as conn:  # SQLite: no write lock, so the kept buckets can be written
            msg = message(conn, schedule, end, currency, mail.sender, keep=engine)
        delivery.send(msg, mail)
    except Exception as exc:  # kept for the operator; the next period is mailed anyway
        log.warning("report schedule %s not sent: %s", schedule["id"], exc)
        error = str(exc)[:500]
    with engine.begin() as conn:
        conn.execute(update(SCHEDULES).where(SCHEDULES.c.id == schedule["id"]).values(last_error=error))


def send_due(
    engine: Engine, mail: delivery.MailSettings, currency: str, now: dt.datetime | None = None
) -> int:
    """Claim and mail every schedule due; returns how many this hub claimed."""
    claimed = claim_due(engine, now or utcnow())
    for schedule, end in claimed:
        send(engine, schedule, end, mail, currency)
    return len(claimed)


async def run_forever(
    engine: Engine, mail: delivery.MailSettings, currency: str, interval_s: float = 60.0
) -> None:
    """The hub's mailer: schedules due are looked for every `interval_s` seconds."""
    while True:
        try:
            await asyncio.to_thread(send_due, engine, mail, currency)
        except Exception:
            log.exception("mailing scheduled reports failed")
        await asyncio.sleep(interval_s)
