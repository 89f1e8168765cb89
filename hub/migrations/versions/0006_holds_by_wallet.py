"""holds by wallet: a card's history finds every tap of its wallet, zero-amount ones too

Revision ID: 0006_holds_by_wallet
Revises: 0005_operators_sessions_api_keys
Create Date: 2026-11-30 05:20:00

A tap at no charge (a free machine, an employee's 100 % discount, a gift held instead of money)
books no money transfer, so only its hold says it happened; a card's history reads the holds of
its wallet (hub/wallets/history.py), which this index finds without reading every hold.

A migration runs as long as the project lives: it imports Alembic and SQLAlchemy only, never the
hub (the hub's tables and types change; this file must keep meaning what it meant).
"""

from __future__ import annotations

from alembic import op

revision = "0006_holds_by_wallet"
down_revision = "0005_operators_sessions_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_holds_wallet_account_id"), "holds", ["wallet_account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_holds_wallet_account_id"), table_name="holds")
