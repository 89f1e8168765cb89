"""reports: e-mailed schedules, outlets' contacts, hourly health, the indexes reports read by

Revision ID: 0012_reports
Revises: 0011_topup_tiers_per_site
Create Date: 2026-11-30 09:30:00

`outlet_contacts` (who at an outlet receives its reports), `report_schedules` (which report goes
to them daily, weekly or monthly; `next_run` is claimed by one hub), `device_health_hours` (a
controller's health telemetry rolled up per hour: uptime, reboots, faults). The indexes let a
report over a day or a season range-scan by time the tables a season fills with millions of rows
(transfers by code and time, holds by resolution, baskets, offline vends, the audit log by action,
point and gift moves, activities by card).

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_reports"
down_revision = "0011_topup_tiers_per_site"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_transfers_code_created_at", "transfers", ["code", "created_at"]),
    ("ix_holds_resolved_at", "holds", ["resolved_at"]),
    ("ix_baskets_created_at", "baskets", ["created_at"]),
    ("ix_offline_vends_booked_at", "offline_vends", ["booked_at"]),
    ("ix_audit_log_action_at", "audit_log", ["action", "at"]),
    ("ix_point_lots_created_at", "point_lots", ["created_at"]),
    ("ix_lot_moves_created_at", "lot_moves", ["created_at"]),
    ("ix_gift_lot_moves_created_at", "gift_lot_moves", ["created_at"]),
    ("ix_gift_activities_card_uid_at", "gift_activities", ["card_uid", "at"]),
)


def upgrade() -> None:
    op.create_table(
        "outlet_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outlet_id", "email"),
    )
    op.create_index("ix_outlet_contacts_outlet_id", "outlet_contacts", ["outlet_id"], unique=False)
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report", sa.String(), nullable=False),
        sa.Column("outlet_id", sa.String(), nullable=True),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_run", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_schedules_outlet_id", "report_schedules", ["outlet_id"], unique=False)
    op.create_index("ix_report_schedules_next_run", "report_schedules", ["next_run"], unique=False)
    op.create_table(
        "device_health_hours",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("up_seconds", sa.BigInteger(), nullable=False),
        sa.Column("reboots", sa.Integer(), nullable=False),
        sa.Column("faults", sa.Integer(), nullable=False),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("reader_resets", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "hour"),
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("device_health_hours")
    op.drop_index("ix_report_schedules_next_run", table_name="report_schedules")
    op.drop_index("ix_report_schedules_outlet_id", table_name="report_schedules")
    op.drop_table("report_schedules")
    op.drop_index("ix_outlet_contacts_outlet_id", table_name="outlet_contacts")
    op.drop_table("outlet_contacts")
