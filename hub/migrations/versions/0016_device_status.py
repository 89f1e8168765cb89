"""device status: each controller's online/offline as the hub that heard it stored it

Revision ID: 0016_device_status
Revises: 0015_report_buckets
Create Date: 2026-11-30 12:50:00

Until now a controller's status messages (online when it connects, its MQTT will's offline when its
connection drops) were kept in the memory of the hub process that received them. With several hubs
sharing the devices' topics each message reaches one of them, so the state is stored where every
hub reads it: `device_status` keeps the latest state of each device and when a hub heard it.
Devices have no row until they say something again.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_device_status"
down_revision = "0015_report_buckets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_status",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id"),
    )


def downgrade() -> None:
    op.drop_table("device_status")
