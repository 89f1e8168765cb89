"""settlement by period: the outlet of a cash desk's transfer, closed periods and their transfers

Revision ID: 0013_settlement_periods
Revises: 0012_reports
Create Date: 2026-11-30 09:30:00.000000

Seed 004's money settlement (hub.settlement): which outlet took the cash of a top-up (or paid a
refund back), written with the booking; each closed period with its frozen statement; and the
transfers that count in each closed period, with the time they counted at.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_settlement_periods"
down_revision = "0012_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_cash_outlets",
        sa.Column("transfer_id", sa.String(), nullable=False),
        sa.Column("outlet_id", sa.String(), nullable=False),
        sa.Column("counter_id", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlets.id"]),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfers.id"]),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    with op.batch_alter_table("settlement_cash_outlets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_cash_outlets_outlet_id"), ["outlet_id"], unique=False)
    op.create_table(
        "settlement_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger", sa.String(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("settlement_periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_periods_ledger"), ["ledger"], unique=False)
    op.create_table(
        "settlement_period_transfers",
        sa.Column("transfer_id", sa.String(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["period_id"], ["settlement_periods.id"]),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfers.id"]),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    with op.batch_alter_table("settlement_period_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_period_transfers_period_id"), ["period_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("settlement_period_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_period_transfers_period_id"))
    op.drop_table("settlement_period_transfers")
    with op.batch_alter_table("settlement_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_periods_ledger"))
    op.drop_table("settlement_periods")
    with op.batch_alter_table("settlement_cash_outlets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_cash_outlets_outlet_id"))
    op.drop_table("settlement_cash_outlets")
