"""report buckets: a report's rows of a closed hour, day or month, kept

Revision ID: 0015_report_buckets
Revises: 0014_firmware_updates
Create Date: 2026-11-30 09:40:00

`report_buckets` keeps the rows a report computed for one bucket (an hour, day or month of a
report, an outlet or all of them, a time zone) once the bucket has ended a while ago, so that a
report over a season reads its past buckets instead of the season's millions of transfers. Rows
of another version of the report's definition are computed again.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_report_buckets"
down_revision = "0014_firmware_updates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_buckets",
        sa.Column("report", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("tz", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("report", "scope", "by", "tz", "label"),
    )


def downgrade() -> None:
    op.drop_table("report_buckets")
