"""device request fingerprints: a request id reused with another request is refused

Revision ID: 0004_device_request_fingerprints
Revises: 0003_request_keys
Create Date: 2026-11-30 05:30:00

Each stored answer to a device request gets a fingerprint of the request it answered (its kind
and body), so that the same (device, request id) with another request (a board replaced or its
flash erased, counting its ids from the start again) is refused instead of answered with the
stored answer (a stored grant would move the relay for free). Each refusal is kept in
device_request_conflicts. Answers stored before this revision have no fingerprint.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_device_request_fingerprints"
down_revision = "0003_request_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_requests") as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(), nullable=True))
    op.create_table(
        "device_request_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_device_request_conflicts_device_id"), "device_request_conflicts", ["device_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_device_request_conflicts_device_id"), table_name="device_request_conflicts")
    op.drop_table("device_request_conflicts")
    with op.batch_alter_table("device_requests") as batch_op:
        batch_op.drop_column("fingerprint")
