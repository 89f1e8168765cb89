"""vouchers: signed codes, redemptions, deliveries, signing secret

Revision ID: 0008_vouchers
Revises: 0007_device_refusals
Create Date: 2026-11-30 05:42:24.919323

Vouchers (seed 001): each with its signed code and its own account on the ledger, its
redemptions (where, when, by which till) and deliveries, and the secret the hub signs codes with
when none is configured. New tables only: nothing to move.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_vouchers"
down_revision = "0007_device_refusals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voucher_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "vouchers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("ledger", sa.String(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("face_value", sa.BigInteger(), nullable=False),
        sa.Column("percent", sa.String(), nullable=True),
        sa.Column("max_discount", sa.BigInteger(), nullable=True),
        sa.Column("article_ids", sa.JSON(), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("online_only", sa.Boolean(), nullable=False),
        sa.Column("transferable", sa.Boolean(), nullable=False),
        sa.Column("card_uid", sa.String(), nullable=True),
        sa.Column("issuer_outlet_id", sa.String(), nullable=True),
        sa.Column("recipient_name", sa.String(), nullable=False),
        sa.Column("recipient_email", sa.String(), nullable=False),
        sa.Column("conditions", sa.String(), nullable=False),
        sa.Column("issue_key", sa.String(), nullable=False),
        sa.Column("issued_by", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["issuer_outlet_id"],
            ["outlets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("issue_key"),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vouchers_card_uid"), ["card_uid"], unique=False)

    op.create_table(
        "voucher_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voucher_id", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("caller", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("voucher_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voucher_deliveries_voucher_id"), ["voucher_id"], unique=False)

    op.create_table(
        "voucher_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voucher_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("outlet_id", sa.String(), nullable=True),
        sa.Column("counter_id", sa.String(), nullable=True),
        sa.Column("card_uid", sa.String(), nullable=True),
        sa.Column("caller", sa.String(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outlet_id"],
            ["outlets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("voucher_redemptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voucher_redemptions_voucher_id"), ["voucher_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voucher_redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_redemptions_voucher_id"))

    op.drop_table("voucher_redemptions")
    with op.batch_alter_table("voucher_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_deliveries_voucher_id"))

    op.drop_table("voucher_deliveries")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_card_uid"))

    op.drop_table("vouchers")
    op.drop_table("voucher_secrets")
