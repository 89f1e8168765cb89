"""Reports' own tables: e-mailed report schedules and the outlets' contacts they go to, the hourly
roll-up of controllers' health telemetry (uptime and faults per hour), and the indexes the reports
read other domains' tables by (a season of taps is millions of rows: every report is a range scan
on time, never a full scan)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.tables.access import AuditEntry
from hub.tables.gifts import Activity, GiftLotMove
from hub.tables.ledger import Transfer
from hub.tables.loyalty import LotMove, PointLot
from hub.tables.sales import Basket
from hub.tables.taps import Hold, OfflineVend
from hub.tables.types import UTCDateTime, created, json_list, moment


class OutletContact(SQLModel, table=True):
    """Who at an outlet receives its e-mailed reports."""

    __tablename__ = "outlet_contacts"
    __table_args__ = (UniqueConstraint("outlet_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    outlet_id: str = Field(foreign_key="outlets.id", index=True)
    email: str
    name: str = ""
    created_at: dt.datetime = created()


class ReportSchedule(SQLModel, table=True):
    """A report e-mailed every day, week or month to an outlet's contacts (or, with no outlet,
    the coalition's report to `recipients`). `next_run` is claimed by the hub that sends it."""

    __tablename__ = "report_schedules"
    id: int | None = Field(default=None, primary_key=True)
    report: str  # a name of hub.reports.queries.REPORTS
    outlet_id: str | None = Field(default=None, foreign_key="outlets.id", index=True)
    period: str  # daily, weekly, monthly: the period before next_run the report covers
    by: str = "hour"  # hour, day, month
    format: str = "pdf"  # pdf, csv
    recipients: list = json_list()  # besides the outlet's contacts
    active: bool = True
    next_run: dt.datetime = moment(nullable=False, index=True)
    last_run: dt.datetime | None = moment()
    last_error: str | None = None
    created_by: str = ""
    created_at: dt.datetime = created()


class DeviceHealthHour(SQLModel, table=True):
    """A controller's health telemetry rolled up per UTC hour: how many reports came, the seconds
    it was up (the time since the previous report, or since its boot if it rebooted between), its
    reboots (watchdog and crash ones counted apart as faults) and the reconnects and reader resets
    it counted in that hour."""

    __tablename__ = "device_health_hours"
    device_id: str = Field(primary_key=True)
    hour: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    samples: int = 0
    up_seconds: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    reboots: int = 0
    faults: int = 0  # reboots by the watchdog, or with a traceback: the app died
    reconnects: int = 0
    reader_resets: int = 0
    last_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ReportBucket(SQLModel, table=True):
    """A report's rows of one closed bucket (an hour, day or month that ended a while ago), kept
    so that a report over a season reads its past buckets instead of its millions of rows."""

    __tablename__ = "report_buckets"
    report: str = Field(primary_key=True)
    scope: str = Field(primary_key=True)  # the outlet, or "" for every outlet
    by: str = Field(primary_key=True)
    tz: str = Field(primary_key=True)
    label: str = Field(primary_key=True)  # the local bucket, e.g. "2026-07-01"
    version: str  # of the report's definition: rows of another version are computed again
    rows: list = json_list()
    computed_at: dt.datetime = created()


# What the reports scan by time. Declared here (the reports' need), on the other domains' tables.
Index("ix_transfers_code_created_at", Transfer.__table__.c.code, Transfer.__table__.c.created_at)
Index("ix_holds_resolved_at", Hold.__table__.c.resolved_at)
Index("ix_baskets_created_at", Basket.__table__.c.created_at)
Index("ix_offline_vends_booked_at", OfflineVend.__table__.c.booked_at)
Index("ix_audit_log_action_at", AuditEntry.__table__.c.action, AuditEntry.__table__.c.at)
Index("ix_point_lots_created_at", PointLot.__table__.c.created_at)
Index("ix_lot_moves_created_at", LotMove.__table__.c.created_at)
Index("ix_gift_lot_moves_created_at", GiftLotMove.__table__.c.created_at)
Index("ix_gift_activities_card_uid_at", Activity.__table__.c.card_uid, Activity.__table__.c.at)
