"""API key rates: each hub's count of a key's requests in the last minute

Revision ID: 0018_api_key_rates
Revises: 0017_command_sent_at
Create Date: 2026-11-30 16:00:00

An API key's rate per minute was counted in the memory of each hub process, so behind a load
balancer spreading requests over N hubs a key could make N times its rate. Each hub now writes its
counts here every second and adds the other hubs' counts to its own.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_api_key_rates"
down_revision = "0017_command_sent_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key_rates",
        sa.Column("hub", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hub", "key_id"),
    )


def downgrade() -> None:
    op.drop_table("api_key_rates")
