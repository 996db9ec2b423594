"""What a submitter sees of the legal team's work: status changes, extensions and the answer.

Read back from the audit log (the one record of every action), keeping only what is meant for
the submitter: internal notes, report filings and account changes are never shown, and the
reason for closing a case stays with the team. `submitter_updates` adds these keys to
`views.submitter_view`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from portal.cases.models import AuditEvent, Case, Message
from portal.cases.wording import utc_iso


def submitter_updates(case: Case) -> dict[str, Any]:
    """`history` (each status with its instant), `extensions` and, once given, `answer`."""
    session = object_session(case)
    if session is None or case.reference is None:
        return {}
    return updates_from(session, case)


def updates_from(session: Session, case: Case) -> dict[str, Any]:
    """The same as `submitter_updates`, with an explicit session."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_reference == case.reference)
        .order_by(AuditEvent.seq)
    )
    history: list[dict[str, Any]] = []
    extensions: list[dict[str, Any]] = []
    answer: dict[str, Any] | None = None
    for event in events:
        changes = event.changes or {}
        status = changes.get("status")
        if isinstance(status, list) and status:
            history.append({"status": status[-1], "at": utc_iso(event.at)})
        elif isinstance(status, str):
            history.append({"status": status, "at": utc_iso(event.at)})
        if event.action == "extend":
            due = changes.get("due_at")
            extensions.append(
                {
                    "at": utc_iso(event.at),
                    "due_at": due[-1] if isinstance(due, list) else due,
                    "reason": changes.get("reason"),
                }
            )
        if event.action == "answer":
            message = session.get(Message, changes.get("message_id"))
            answer = {
                "body": message.body if message is not None else None,
                "answered_at": utc_iso(event.at),
            }
    updates: dict[str, Any] = {"history": history}
    if case.kind == "information-request":
        updates["extensions"] = extensions
        updates["answer"] = answer
    return updates
