"""top-up tiers per site; a voucher redemption names its basket

Revision ID: 0011_topup_tiers_per_site
Revises: 0010_voucher_campaigns
Create Date: 2026-11-30 09:20:00

Top-up bonus tiers were one global list per ledger; now each site may have its own list
(`topup_tiers.site_id`, and a row in `topup_tier_sites` saying the site has its own list, which
may be empty). The tiers a database had stay as they are, with site_id null: they become the
default list, which every site without a list of its own applies — so an upgraded hub gives the
same bonus everywhere until a site sets its own.

`voucher_redemptions.basket_id`: the paid basket a voucher was used in, or a discount voucher
credited on (a credit on a past purchase); null for the redemptions before it.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_topup_tiers_per_site"
down_revision = "0010_voucher_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topup_tier_sites",
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("ledger", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("site_id", "ledger"),
    )
    with op.batch_alter_table("topup_tiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_topup_tiers_site_id"), ["site_id"], unique=False)
        batch_op.create_foreign_key("fk_topup_tiers_site_id_sites", "sites", ["site_id"], ["id"])
    with op.batch_alter_table("voucher_redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("basket_id", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_voucher_redemptions_basket_id"), ["basket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voucher_redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_redemptions_basket_id"))
        batch_op.drop_column("basket_id")
    op.execute("DELETE FROM topup_tiers WHERE site_id IS NOT NULL")
    with op.batch_alter_table("topup_tiers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_topup_tiers_site_id_sites", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_topup_tiers_site_id"))
        batch_op.drop_column("site_id")
    op.drop_table("topup_tier_sites")
