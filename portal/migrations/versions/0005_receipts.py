"""Signed receipts on cases and messages; an attachment on outbox mail

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Cases received before have no receipt: one cannot be signed for them after the fact
    # without claiming more than we know, so they keep none.
    op.add_column("cases", sa.Column("receipt", sa.JSON(), nullable=True))
    op.add_column("messages", sa.Column("receipt", sa.JSON(), nullable=True))
    op.add_column("outbox", sa.Column("attachment_name", sa.String(length=100), nullable=True))
    op.add_column("outbox", sa.Column("attachment", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "attachment")
    op.drop_column("outbox", "attachment_name")
    op.drop_column("messages", "receipt")
    op.drop_column("cases", "receipt")
