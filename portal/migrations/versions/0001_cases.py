"""Cases, deadlines, messages, audit log and outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26 21:57:49.898924
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.cases.models import POSTGRESQL_AUDIT_TRIGGERS, SQLITE_AUDIT_TRIGGERS

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("case_reference", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index(
        op.f("ix_audit_events_case_reference"), "audit_events", ["case_reference"], unique=False
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("submission", sa.JSON(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_cases_kind_received", "cases", ["kind", "received_at"], unique=False)
    op.create_index(
        "ix_cases_open_next_due",
        "cases",
        ["next_due_at"],
        unique=False,
        sqlite_where=sa.text("status NOT IN ('resolved', 'closed')"),
        postgresql_where=sa.text("status NOT IN ('resolved', 'closed')"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_reference", sa.String(length=20), nullable=True),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["next_attempt_at"],
        unique=False,
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "reference_counters",
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "year"),
    )
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("trigger_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("holidays", sa.String(length=8), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "name", name="uq_deadlines_case_name"),
    )
    op.create_index(
        "ix_deadlines_open_due",
        "deadlines",
        ["due_at"],
        unique=False,
        sqlite_where=sa.text("met_at IS NULL"),
        postgresql_where=sa.text("met_at IS NULL"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_messages_case_id"), "messages", ["case_id"], unique=False)
    dialect = op.get_bind().dialect.name
    triggers = {"sqlite": SQLITE_AUDIT_TRIGGERS, "postgresql": POSTGRESQL_AUDIT_TRIGGERS}
    for statement in triggers.get(dialect, ()):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_index(op.f("ix_messages_case_id"), table_name="messages")
    op.drop_table("messages")
    op.drop_index(
        "ix_deadlines_open_due",
        table_name="deadlines",
        sqlite_where=sa.text("met_at IS NULL"),
        postgresql_where=sa.text("met_at IS NULL"),
    )
    op.drop_table("deadlines")
    op.drop_table("reference_counters")
    op.drop_index(
        "ix_outbox_pending",
        table_name="outbox",
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_index(
        "ix_cases_open_next_due",
        table_name="cases",
        sqlite_where=sa.text("status NOT IN ('resolved', 'closed')"),
        postgresql_where=sa.text("status NOT IN ('resolved', 'closed')"),
    )
    op.drop_index("ix_cases_kind_received", table_name="cases")
    op.drop_table("cases")
    op.drop_table("audit_head")
    op.drop_index(op.f("ix_audit_events_case_reference"), table_name="audit_events")
    op.drop_table("audit_events")
