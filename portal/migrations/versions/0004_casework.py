"""Casework: duplicates, assignees, attention, unread messages, idempotency keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("duplicate_of", sa.String(length=20), nullable=True))
    op.add_column("cases", sa.Column("assigned_to", sa.String(length=254), nullable=True))
    op.add_column(
        "cases",
        sa.Column("needs_attention", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("messages", sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
    # Messages written before this revision count as read.
    op.execute("UPDATE messages SET read_at = created_at")
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("case_reference", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_column("messages", "read_at")
    op.drop_column("cases", "needs_attention")
    op.drop_column("cases", "assigned_to")
    op.drop_column("cases", "duplicate_of")
