"""What submitters wrote, sealed at rest (AES-256-GCM); the outbox address as text

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:00:00

The data key must be loaded first (`create_app` and `portal db upgrade` do). The outbox's
`to_addr` (VARCHAR(320)) becomes `to_address` (TEXT): a sealed address is longer than the
address. Rows already sealed are left as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.cases.sealed import seal_existing

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("to_address", sa.Text(), nullable=True))
    op.execute("UPDATE outbox SET to_address = to_addr")
    op.drop_column("outbox", "to_addr")
    seal_existing(op.get_bind())


def downgrade() -> None:
    seal_existing(op.get_bind(), undo=True)
    op.add_column("outbox", sa.Column("to_addr", sa.String(length=320), nullable=True))
    op.execute("UPDATE outbox SET to_addr = to_address")
    op.drop_column("outbox", "to_address")
