"""voucher campaigns: bonus credits for a group of cards

Revision ID: 0010_voucher_campaigns
Revises: 0009_health_heap_crashes
Create Date: 2026-11-30 06:09:17.708313

Bonus credits (seed 001's campaign use): a campaign issues one voucher of the same terms to each
card of an audience; each voucher names its campaign. The new column is nullable: vouchers issued
before it belong to no campaign.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_voucher_campaigns"
down_revision = "0009_health_heap_crashes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voucher_campaigns",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("deliver", sa.String(), nullable=False),
        sa.Column("issue_key", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issue_key"),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_vouchers_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_vouchers_campaign_id_voucher_campaigns", "voucher_campaigns", ["campaign_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_vouchers_campaign_id_voucher_campaigns", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_vouchers_campaign_id"))
        batch_op.drop_column("campaign_id")

    op.drop_table("voucher_campaigns")
