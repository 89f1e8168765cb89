"""device health: MicroPython's heap in use, why the board last started, its last crash

Revision ID: 0009_health_heap_crashes
Revises: 0008_vouchers
Create Date: 2026-11-30 05:50:00

Controllers report gc.mem_alloc() beside gc.mem_free(), their reset cause (power_on, hard,
watchdog, deep_sleep, soft) and the end of the traceback that last killed the app or kept it
from starting. Health stored before this revision has none of them (NULL).

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_health_heap_crashes"
down_revision = "0008_vouchers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_health") as batch_op:
        batch_op.add_column(sa.Column("heap_alloc_bytes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reset_cause", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("last_traceback", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_health") as batch_op:
        batch_op.drop_column("last_traceback")
        batch_op.drop_column("reset_cause")
        batch_op.drop_column("heap_alloc_bytes")
