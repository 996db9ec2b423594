"""SQLAlchemy models of cases, their deadlines, messages, audit log and outbox mail.

Every instant is stored in UTC and read back timezone-aware (`UtcDateTime`), on SQLite as
on PostgreSQL. The tables are designed for the staff workspace as well as for intake: a case
moves through `STATUSES`; each deadline is a row the dashboard can order by; the audit log is
append-only (database triggers refuse UPDATE and DELETE) and hash-chained.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from portal.cases.sealed import SealedJSON, SealedText

KINDS = ("incident", "information-request")
REFERENCE_PREFIXES = {"incident": "INC", "information-request": "REQ"}
STATUSES = (
    "received",
    "in-progress",
    "clarification-requested",
    "answered",
    "resolved",
    "closed",
)
# Cases in these statuses have no open work; the dashboard index leaves them out.
FINISHED_STATUSES = ("resolved", "closed")
_OPEN_CASE = text("status NOT IN ('resolved', 'closed')")
_OPEN_DEADLINE = text("met_at IS NULL")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; naive values are refused, never guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: only timezone-aware instants are stored")
        utc = value.astimezone(UTC)
        # SQLite keeps no offset: store the UTC wall time.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Case(Base):
    """One incident notice or information request, as its submitter sent it."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="received")
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # SHA-256 of the access token: the token has 256 random bits, so a fast hash is enough
    # (nothing to brute-force) and keeps each request cheap.
    token_hash: Mapped[str] = mapped_column(String(64))
    # What the submitter sent, after validation, in the API's JSON shape; sealed at rest but
    # for the fields the dashboard filters on (`sealed.CLEAR_FIELDS`).
    submission: Mapped[dict[str, Any]] = mapped_column(SealedJSON)
    # The earliest open deadline's due instant, kept by the services, so that "open cases
    # ordered by next deadline" is one index scan at any size.
    next_due_at: Mapped[datetime | None]
    # Incidents only: the categories the clocks follow (the submitter's, as staff may correct
    # them), and when the provider became aware and how (the authority clock's start).
    categories: Mapped[list[str] | None] = mapped_column(JSON)
    provider_aware_at: Mapped[datetime | None]
    awareness_source: Mapped[str | None] = mapped_column(String(32))
    # The case this one repeats (`mark-duplicate`); the other side is a query.
    duplicate_of: Mapped[str | None] = mapped_column(String(20))
    # The staff member working the case (`assign`), and whether a person must look at it
    # (a customer wrote after the answer or the closing).
    assigned_to: Mapped[str | None] = mapped_column(String(254))
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    # The signed receipt given at submission (`portal.proof.receipts`), kept so the
    # submitter can fetch it again; it holds hashes and instants, nothing they wrote.
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="case", order_by="Deadline.id", cascade="all, delete-orphan"
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="case", order_by="Message.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index(
            "ix_cases_open_next_due",
            "next_due_at",
            sqlite_where=_OPEN_CASE,
            postgresql_where=_OPEN_CASE,
        ),
        Index("ix_cases_kind_received", "kind", "received_at"),
    )

    def deadline(self, name: str) -> Deadline | None:
        """The deadline called `name`, or None."""
        return next((d for d in self.deadlines if d.name == name), None)


class Deadline(Base):
    """A clock on a case: counted from `trigger_at` by `period` under `rule`.

    `timezone` and `holidays` record the policy used, so the explanation can be redone
    exactly even after the policy changes. `met_at` is set when the deadline is met;
    `paused`/`paused_at` stop the clock (a request for clarification).
    """

    __tablename__ = "deadlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    trigger_at: Mapped[datetime]
    period: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    holidays: Mapped[str] = mapped_column(String(8))
    due_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_at: Mapped[datetime | None]
    # What set it, in words, when a choice was made (the earliest of several clocks).
    basis: Mapped[str | None] = mapped_column(String(200))

    case: Mapped[Case] = relationship(back_populates="deadlines")

    __table_args__ = (
        UniqueConstraint("case_id", "name", name="uq_deadlines_case_name"),
        Index(
            "ix_deadlines_open_due",
            "due_at",
            sqlite_where=_OPEN_DEADLINE,
            postgresql_where=_OPEN_DEADLINE,
        ),
    )


class Message(Base):
    """A follow-up on a case, from its submitter or from staff."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(16))  # "submitter" or "staff"
    body: Mapped[str] = mapped_column(SealedText)
    created_at: Mapped[datetime]
    # When staff first opened the case page after a submitter's message (unread while None).
    read_at: Mapped[datetime | None]
    # Its own signed receipt (`portal.proof.receipts`), for messages from the submitter.
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    case: Mapped[Case] = relationship(back_populates="messages")


class IdempotencyKey(Base):
    """An API client's `Idempotency-Key` for one submission, kept 24 hours: the same key with
    the same body answers the first receipt again instead of filing a second case."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))  # the case kind
    key: Mapped[str] = mapped_column(String(255))
    body_sha256: Mapped[str] = mapped_column(String(64))
    case_reference: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)


class ReferenceCounter(Base):
    """The last number given per reference prefix and year (`INC`, 2026) -> 41."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class AuditHead(Base):
    """The single row holding the audit chain's length and last hash.

    Updating it takes a row lock on PostgreSQL (and SQLite has one writer), so two
    transactions can never chain onto the same previous event.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    """One recorded action; append-only, each event hashing its predecessor's hash."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    case_reference: Mapped[str | None] = mapped_column(String(20), index=True)
    action: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class OutboxMail(Base):
    """A mail waiting to be sent, written in the same transaction as what it announces.

    `recipient` is `submitter` (address in `to_address`) or `legal-team` (address taken from the
    configuration when sending). The sender claims rows with `claimed_until`, so several app
    processes never send one mail twice, and retries failures at `next_attempt_at`.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    case_reference: Mapped[str | None] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(16))
    # The address and the body are sealed at rest; only the sender opens them.
    to_address: Mapped[str | None] = mapped_column(SealedText)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(SealedText)
    # One file sent with the mail (the signed receipt of an acknowledgement), as text.
    attachment_name: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
    )


# The audit log is append-only in the database itself, not only by convention.
SQLITE_AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)
POSTGRESQL_AUDIT_TRIGGERS = (
    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed, for the Core statements on hot paths."""
    return cast(Table, model.__table__)
