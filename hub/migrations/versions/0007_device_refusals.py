"""device refusals: refused MQTT messages counted per device and reason

Revision ID: 0007_device_refusals
Revises: 0006_holds_by_wallet
Create Date: 2026-11-30 05:27:40.072008

MQTT messages the hub refuses (forged, malformed, from an unknown device) are counted per
device and reason, so that operators see them (GET /api/v1/device-refusals), not only a log line.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_device_refusals"
down_revision = "0006_holds_by_wallet"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_refusals",
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site", "device_id", "reason"),
    )


def downgrade() -> None:
    op.drop_table("device_refusals")
