"""device commands: when a hub last sent each one

Revision ID: 0017_command_sent_at
Revises: 0016_device_status
Create Date: 2026-11-30 15:40:00

A pending command is published again when its device comes online. With several hubs, each one
that hears the device's online (Mosquitto hands its retained copy to every hub of the share group
as it subscribes) used to send it again. `sent_at` lets one hub claim the resend: a command is sent
again only if it was last sent before the device's stored online. Existing commands have none and
count as not yet sent.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_command_sent_at"
down_revision = "0016_device_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_commands") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_commands") as batch:
        batch.drop_column("sent_at")
