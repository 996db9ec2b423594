"""The mails a case sends, composed as outbox rows in the case's own transaction.

They carry the reference and the deadlines, never the access code (mail is not a safe
place for it) and never what the submitter wrote (mail servers keep copies). The legal
team's address is looked up by the sender when it sends, so it lives in configuration only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from portal.cases.models import Case, OutboxMail
from portal.cases.wording import KIND_NAMES, deadline_title, local_moment, staff_deadline_title

SUBMITTER = "submitter"
LEGAL_TEAM = "legal-team"


class _Due(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...


class CaseLike(Protocol):
    """What a notice needs of a case (a `models.Case`)."""

    @property
    def kind(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def deadlines(self) -> Sequence[_Due]: ...


def acknowledgement(
    case: CaseLike, to_address: str, *, timezone: str, now: datetime
) -> dict[str, Any]:
    """The receipt mailed to the person who submitted `case`, as an outbox row."""
    kind = KIND_NAMES[case.kind]
    lines = [
        f"We received your {kind} on {local_moment(case.received_at, timezone)}.",
        "",
        f"Reference: {case.reference}",
        "",
        *_deadline_lines(case, timezone),
        "",
        "To follow your case or add information, open the portal's status page and enter the",
        "reference and the access code shown when you submitted. For your safety we never",
        "send the access code by mail; if you lost it, reply to this mail with the reference.",
    ]
    return {
        "created_at": now,
        "recipient": SUBMITTER,
        "to_address": to_address,
        "subject": f"We received your {kind}: {case.reference}",
        "body": "\n".join(lines) + "\n",
    }


def legal_team_notice(
    case: CaseLike, summary: str, *, timezone: str, now: datetime
) -> dict[str, Any]:
    """The notice to the legal team that a case arrived (an outbox row); `summary` names the
    products and the category or topic."""
    kind = KIND_NAMES[case.kind]
    lines = [
        f"A new {kind} arrived on {local_moment(case.received_at, timezone)}.",
        "",
        f"Reference: {case.reference}",
        summary,
        "",
        *_deadline_lines(case, timezone, staff_deadline_title),
        "",
        "Open the staff workspace to read it.",
    ]
    return {
        "created_at": now,
        "recipient": LEGAL_TEAM,
        "to_address": None,
        "subject": f"New {kind}: {case.reference}",
        "body": "\n".join(lines) + "\n",
    }


def follow_up_notice(case: Case, *, timezone: str, now: datetime) -> OutboxMail:
    """The notice to the legal team that a submitter added a message."""
    return OutboxMail(
        created_at=now,
        case_reference=case.reference,
        recipient=LEGAL_TEAM,
        to_address=None,
        subject=f"New message on {case.reference}",
        body=(
            f"The submitter of {case.reference} added a message on"
            f" {local_moment(now, timezone)}.\n\nOpen the staff workspace to read it.\n"
        ),
        attempts=0,
        next_attempt_at=now,
    )


def _deadline_lines(
    case: CaseLike, timezone: str, title_of: Callable[[str], str] = deadline_title
) -> list[str]:
    lines = []
    for deadline in case.deadlines:
        title = title_of(deadline.name)
        lines.append(f"{title}: due {local_moment(deadline.due_at, timezone)}.")
    return lines


def add_links(session: Session, reference: str, site_url: str) -> None:
    """End each mail about `reference` written in this transaction with the page to act on:
    the status page for the submitter (which asks for the access code, never in a mail), the
    case page for the legal team. Without the portal's address, mails go without a link."""
    if not site_url:
        return
    root = site_url.rstrip("/")
    for mail in session.new:
        if not isinstance(mail, OutboxMail) or mail.case_reference != reference:
            continue
        if mail.recipient == SUBMITTER:
            link = f"Your case's status page: {root}/status?reference={reference}"
        else:
            link = f"Case page: {root}/staff/cases/{reference}"
        mail.body = mail.body.rstrip("\n") + f"\n\n{link}\n"
