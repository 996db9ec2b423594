"""Incidents: several categories, the provider's awareness, what set each deadline

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("categories", sa.JSON(), nullable=True))
    op.add_column(
        "cases", sa.Column("provider_aware_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("cases", sa.Column("awareness_source", sa.String(length=32), nullable=True))
    op.add_column("deadlines", sa.Column("basis", sa.String(length=200), nullable=True))
    # Incidents filed before: one category, and the provider knew when the notice arrived.
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("submission", sa.JSON()),
        sa.column("received_at", sa.DateTime(timezone=True)),
        sa.column("categories", sa.JSON()),
        sa.column("provider_aware_at", sa.DateTime(timezone=True)),
        sa.column("awareness_source", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(cases.c.id, cases.c.submission, cases.c.received_at).where(
            cases.c.kind == "incident"
        )
    ).all()
    for row in rows:
        submission = (
            row.submission if isinstance(row.submission, dict) else json.loads(row.submission)
        )
        category = submission.get("category")
        connection.execute(
            sa.update(cases)
            .where(cases.c.id == row.id)
            .values(
                categories=[category] if category else [],
                provider_aware_at=row.received_at,
                awareness_source="customer-notice",
            )
        )


def downgrade() -> None:
    op.drop_column("deadlines", "basis")
    op.drop_column("cases", "awareness_source")
    op.drop_column("cases", "provider_aware_at")
    op.drop_column("cases", "categories")
