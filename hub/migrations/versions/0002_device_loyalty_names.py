"""device loyalty tables named for the device, the one word for the thing on the wall

Revision ID: 0002_device_loyalty_names
Revises: 0001_baseline
Create Date: 2026-11-30 03:40:00

machine_settings -> device_loyalty and machine_holds -> device_loyalty_holds: the hub calls a
controller a device everywhere else (the devices table, /devices, the MQTT topics). Rows, keys and
foreign keys stay as they are; only the names change.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

from alembic import op

revision = "0002_device_loyalty_names"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

RENAMED = {"machine_settings": "device_loyalty", "machine_holds": "device_loyalty_holds"}


def upgrade() -> None:
    for old, new in RENAMED.items():
        op.rename_table(old, new)


def downgrade() -> None:
    for old, new in RENAMED.items():
        op.rename_table(new, old)
