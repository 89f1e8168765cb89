"""firmware updates over the air: bundles, their files, rollouts, each device's update

Revision ID: 0014_firmware_updates
Revises: 0013_settlement_periods
Create Date: 2026-11-30 09:10:00

Published firmware bundles with their files (kept in the database, so that every hub process
of a coalition can hand them out), rollouts to groups of controllers, and each controller's
update to a version (hub/devices/firmware_updates.py). New tables only.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_firmware_updates"
down_revision = "0013_settlement_periods"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "firmware_bundles",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.String(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "firmware_files",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["firmware_bundles.version"]),
        sa.PrimaryKeyConstraint("version", "path"),
    )
    op.create_table(
        "firmware_rollouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["firmware_bundles.version"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("firmware_rollouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_firmware_rollouts_version"), ["version"], unique=False)
    op.create_table(
        "firmware_updates",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.ForeignKeyConstraint(["rollout_id"], ["firmware_rollouts.id"]),
        sa.ForeignKeyConstraint(["version"], ["firmware_bundles.version"]),
        sa.PrimaryKeyConstraint("device_id", "version"),
    )
    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_firmware_updates_rollout_id"), ["rollout_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firmware_updates_rollout_id"))
    op.drop_table("firmware_updates")
    with op.batch_alter_table("firmware_rollouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firmware_rollouts_version"))
    op.drop_table("firmware_rollouts")
    op.drop_table("firmware_files")
    op.drop_table("firmware_bundles")
