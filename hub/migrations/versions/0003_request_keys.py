"""request keys: the request each Idempotency-Key first came with

Revision ID: 0003_request_keys
Revises: 0002_device_loyalty_names
Create Date: 2026-11-30 03:49:59.660665

The Idempotency-Key of each REST money write with a fingerprint of its request, so that the
same key with another request is refused (409) instead of answered with the first result.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_request_keys"
down_revision = "0002_device_loyalty_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_keys",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("request_keys")
