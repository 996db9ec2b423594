"""Reminders to the legal team: deadlines due within 24 hours, and deadlines overdue.

`send_reminders` (run by cron as `portal remind`) finds the open, running deadlines of cases
that are not closed, and for each one that crossed a threshold writes one mail per handler
into the outbox, in the same transaction as the record of what was sent (`reminders_sent`).
A second run therefore sends nothing new, and two runs at once cannot both send: the unique
key on (deadline, threshold, due instant) lets only one commit. The due instant is part of
the key, so an extended deadline is reminded of again before its new date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.cases import accounts
from portal.cases.models import Base, Case, Deadline, OutboxMail
from portal.cases.wording import KIND_NAMES, local_moment

log = logging.getLogger(__name__)

SOON = timedelta(hours=24)
DUE_SOON = "due-soon"
OVERDUE = "overdue"
STAFF = "staff"


class ReminderSent(Base):
    """One reminder given: this deadline, at this threshold, for this due instant."""

    __tablename__ = "reminders_sent"

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id", ondelete="CASCADE"))
    threshold: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("deadline_id", "threshold", "due_at", name="uq_reminders_sent"),
    )


@dataclass(frozen=True)
class Reminder:
    """A deadline that crossed `threshold` and has not been reminded of at it."""

    reference: str
    kind: str
    deadline: str
    due_at: datetime
    threshold: str
    deadline_id: int


@dataclass(frozen=True)
class ReminderReport:
    reminders: tuple[Reminder, ...]
    recipients: tuple[str, ...]


def pending_reminders(session: Session, *, now: datetime) -> list[Reminder]:
    """The reminders due at `now` that were never given, overdue ones first."""
    rows = session.execute(
        select(Deadline.id, Deadline.name, Deadline.due_at, Case.reference, Case.kind)
        .join(Case, Case.id == Deadline.case_id)
        .where(
            Deadline.met_at.is_(None),
            Deadline.paused.is_(False),
            Deadline.due_at <= now + SOON,
            Case.status != "closed",
        )
        .order_by(Deadline.due_at, Deadline.id)
    ).all()
    if not rows:
        return []
    sent = {
        (row.deadline_id, row.threshold, row.due_at)
        for row in session.execute(
            select(ReminderSent.deadline_id, ReminderSent.threshold, ReminderSent.due_at).where(
                ReminderSent.deadline_id.in_([r.id for r in rows])
            )
        )
    }
    found = []
    for row in rows:
        threshold = OVERDUE if row.due_at <= now else DUE_SOON
        if (row.id, threshold, row.due_at) in sent:
            continue
        found.append(Reminder(row.reference, row.kind, row.name, row.due_at, threshold, row.id))
    return found


def send_reminders(session: Session, *, now: datetime, timezone: str) -> ReminderReport:
    """Queue one mail per handler listing every new reminder, record them, and commit."""
    now = now.astimezone(UTC)
    reminders = pending_reminders(session, now=now)
    recipients = accounts.handler_addresses(session) if reminders else []
    if not reminders:
        return ReminderReport((), ())
    if not recipients:
        # Nothing recorded: the reminders wait until someone can receive them.
        log.warning("%d reminders due but no active handler to mail", len(reminders))
        return ReminderReport(tuple(reminders), ())
    subject, body = _compose(reminders, now=now, timezone=timezone)
    try:
        for address in recipients:
            session.add(
                OutboxMail(
                    created_at=now,
                    case_reference=None,
                    recipient=STAFF,
                    to_address=address,
                    subject=subject,
                    body=body,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
        for reminder in reminders:
            session.add(
                ReminderSent(
                    deadline_id=reminder.deadline_id,
                    threshold=reminder.threshold,
                    due_at=reminder.due_at,
                    sent_at=now,
                )
            )
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.info("Queued %d reminders for %d handlers", len(reminders), len(recipients))
    return ReminderReport(tuple(reminders), tuple(recipients))


def _compose(reminders: list[Reminder], *, now: datetime, timezone: str) -> tuple[str, str]:
    from portal.cases.dashboard import time_left

    overdue = [r for r in reminders if r.threshold == OVERDUE]
    soon = [r for r in reminders if r.threshold == DUE_SOON]
    parts = []
    if overdue:
        parts.append(f"{len(overdue)} overdue")
    if soon:
        parts.append(f"{len(soon)} due within 24 hours")
    subject = "Deadlines: " + " and ".join(parts)
    lines = []
    for title, group in (("Overdue", overdue), ("Due within 24 hours", soon)):
        if not group:
            continue
        lines += [f"{title}:", ""]
        for r in group:
            lines.append(
                f"- {r.reference} ({KIND_NAMES.get(r.kind, r.kind)}), {r.deadline}:"
                f" {time_left(r.due_at, now)}, due {local_moment(r.due_at, timezone)}"
            )
        lines.append("")
    lines.append("Open the staff workspace to act on them.")
    return subject, "\n".join(lines) + "\n"
