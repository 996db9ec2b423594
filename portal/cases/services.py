"""Submitting, finding and following up cases: what the API and the HTML forms call.

Each submission is one transaction: the case, its deadlines, the outbox mail and an audit
event are written together and committed before the function returns, so a receipt is
never given for a case that is not on disk. All the arithmetic (validation, deadlines,
token hashing, mail text) is done before the transaction starts, keeping the database's
write lock (SQLite) or counter row lock (PostgreSQL) as short as the commit allows.

Callers validate first (`portal.cases.schemas`) and pass `now`, an aware datetime: these
functions never read the clock.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.cases import actions, audit, notices, writer
from portal.cases.models import Case, Deadline, Message
from portal.cases.references import is_reference
from portal.cases.schemas import IncidentSubmission, InformationRequestSubmission
from portal.cases.tokens import hash_token, new_token, token_matches
from portal.cases.views import due_fields, submitter_view
from portal.cases.wording import utc_iso
from portal.cases.writer import REFERENCE_SLOT, AuditRow, CaseRow, DeadlineRow, Encoded, MailRow
from portal.catalog import Catalog, Policy
from portal.catalog.models import DeadlinePolicy
from portal.deadlines import due_at

log = logging.getLogger(__name__)

__all__ = [
    "Pending",
    "Receipt",
    "add_message",
    "encode",
    "find_case",
    "prepare_incident",
    "prepare_information_request",
    "receipt_fields",
    "receipt_of",
    "submit_incident",
    "submit_information_request",
    "submitter_view",
    "write",
    "write_many",
]


class Receipt:
    """What a submitter gets back once: the reference and the access token (never stored).

    `case` is the case as written, detached from any session (deadlines included, no
    messages yet); it is built on first use, since the API's answer does not need it.
    """

    def __init__(self, reference: str, access_token: str, row: CaseRow) -> None:
        self.reference = reference
        self.access_token = access_token
        self.row = row

    @functools.cached_property
    def case(self) -> Case:
        row = self.row
        return Case(
            id=row.id,
            reference=row.reference,
            kind=row.kind,
            status=row.status,
            received_at=row.received_at,
            updated_at=row.received_at,
            token_hash=row.token_hash,
            submission=row.submission,
            next_due_at=row.next_due_at,
            deadlines=[Deadline(case_id=row.id, **dataclasses.asdict(d)) for d in row.deadlines],
            messages=[],
        )


def prepare_incident(catalog: Catalog, data: IncidentSubmission, *, now: datetime) -> Pending:
    """Everything about an incident notice that needs no database: deadlines, token, mail text.

    Deadlines: `incident-notification` (the customer's 48 hours, from `aware_at`, met at
    receipt) and, for systemic-risk models and high-risk AI systems, `authority-report`
    (the provider's initial report, from receipt).
    """
    now = _utc(now)
    policy = catalog.policy
    product = catalog.products[data.product]
    deadlines = [
        _deadline(
            "incident-notification",
            data.aware_at,
            policy.deadlines.incident_notification,
            policy,
            met_at=now,
        )
    ]
    authority = policy.authority_report(product, data.category)
    if authority is not None:
        deadlines.append(_deadline("authority-report", now, authority, policy))
    return _pending(
        kind="incident",
        submission=data.model_dump(mode="json", exclude_none=True),
        deadlines=deadlines,
        email=data.reporter.email,
        summary=f"Product: {product.name} ({product.id}). Category: {data.category}.",
        policy=policy,
        now=now,
    )


def submit_incident(
    session: Session, catalog: Catalog, data: IncidentSubmission, *, now: datetime
) -> Receipt:
    """Record a serious-incident notice and commit; a late notice is accepted and flagged."""
    return _commit(session, prepare_incident(catalog, data, now=now))


def prepare_information_request(
    catalog: Catalog, data: InformationRequestSubmission, *, now: datetime
) -> Pending:
    """Everything about a request for information that needs no database."""
    now = _utc(now)
    policy = catalog.policy
    deadlines = [
        _deadline("information-response", now, policy.deadlines.information_response, policy)
    ]
    names = ", ".join(f"{catalog.products[p].name} ({p})" for p in data.products)
    return _pending(
        kind="information-request",
        submission=data.model_dump(mode="json", exclude_none=True),
        deadlines=deadlines,
        email=data.requester.email,
        summary=f"Products: {names}. Topic: {data.topic}.",
        policy=policy,
        now=now,
    )


def submit_information_request(
    session: Session, catalog: Catalog, data: InformationRequestSubmission, *, now: datetime
) -> Receipt:
    """Record a request for information and commit; the answer is due under the policy."""
    return _commit(session, prepare_information_request(catalog, data, now=now))


def find_case(session: Session, reference: str, token: str | None) -> Case | None:
    """The case if `token` is its access token; None alike for an unknown reference or token."""
    case = None
    if isinstance(reference, str) and is_reference(reference):
        case = session.scalar(
            select(Case)
            .where(Case.reference == reference)
            .options(selectinload(Case.deadlines), selectinload(Case.messages))
        )
    stored = case.token_hash if case is not None else None
    if not token_matches(token if isinstance(token, str) else None, stored):
        return None
    return case


def add_message(
    session: Session,
    case: Case,
    body: str,
    *,
    now: datetime,
    author: str = "submitter",
    timezone: str = "Europe/Paris",
) -> Message:
    """Add a follow-up to `case`, tell the legal team, record it, and commit."""
    now = _utc(now)
    message = Message(case=case, author=author, body=body, created_at=now)
    try:
        session.add(message)
        case.updated_at = now
        if author == "submitter":
            session.add(notices.follow_up_notice(case, timezone=timezone, now=now))
        session.flush()
        audit.record(
            session,
            actor=author,
            action="message-added",
            at=now,
            case_reference=case.reference,
            changes={"message_id": message.id},
        )
        if author == "submitter":  # a reply to a clarification request restarts the clock
            actions.on_submitter_message(session, case, message)
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.info("Message %s added to %s by %s", message.id, case.reference, author)
    return message


def receipt_fields(receipt: Receipt) -> dict[str, Any]:
    """The receipt as the API returns it (without `status_url`, which the web layer adds)."""
    row = receipt.row
    fields = {
        "reference": receipt.reference,
        "access_token": receipt.access_token,
        "status": row.status,
        "received_at": utc_iso(row.received_at),
    }
    fields.update(due_fields(row))
    return fields


@dataclass
class Pending:
    """A submission ready to be written: `write` puts it in the session's transaction."""

    row: CaseRow
    token: str
    email: str
    summary: str
    timezone: str
    changes: dict[str, Any]


def _pending(
    *,
    kind: str,
    submission: dict[str, Any],
    deadlines: list[DeadlineRow],
    email: str,
    summary: str,
    policy: Policy,
    now: datetime,
) -> Pending:
    token = new_token()
    row = CaseRow(
        kind=kind,
        received_at=now,
        token_hash=hash_token(token),
        submission=submission,
        deadlines=deadlines,
    )
    changes = {
        "status": "received",
        "deadlines": {d.name: d.due_at.isoformat() for d in deadlines},
    }
    return Pending(row, token, email, summary, policy.timezone, changes)


def encode(pending: Pending, *, sqlite: bool) -> Encoded:
    """A prepared submission as `writer.write_batch` takes it: mails composed, rows converted
    for the driver (SQLite or not). Done before the write lock, in the request's thread."""
    row = pending.row
    # The mails name the reference, which only the write lock gives: compose them around
    # a stand-in that the writer replaces.
    unnumbered = dataclasses.replace(row, reference=REFERENCE_SLOT)
    zone, now = pending.timezone, row.received_at
    mails = [
        MailRow(**notices.acknowledgement(unnumbered, pending.email, timezone=zone, now=now)),
        MailRow(**notices.legal_team_notice(unnumbered, pending.summary, timezone=zone, now=now)),
    ]
    return writer.encode(
        row, mails, AuditRow("submitter", "case-received", pending.changes), sqlite=sqlite
    )


def receipt_of(pending: Pending) -> Receipt:
    """The receipt of a submission once written (its row has its reference)."""
    if not pending.row.reference:
        raise ValueError("the submission has not been written")
    return Receipt(pending.row.reference, pending.token, pending.row)


def write(session: Session, pending: Pending) -> Receipt:
    """Write a prepared submission in the session's transaction, without committing."""
    return write_many(session, [pending])[0]


def write_many(session: Session, pendings: list[Pending]) -> list[Receipt]:
    """Write prepared submissions in the session's transaction, in order, without committing.

    A fixed handful of statements whatever their number (`portal.cases.writer`).
    """
    if not pendings:
        return []
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    writer.write_batch(connection, [encode(p, sqlite=sqlite) for p in pendings])
    return [receipt_of(p) for p in pendings]


def _commit(session: Session, pending: Pending) -> Receipt:
    try:
        receipt = write(session, pending)
        session.commit()
    except Exception:
        session.rollback()
        raise
    log_received(receipt)
    return receipt


def log_received(receipt: Receipt) -> None:
    """Log a committed submission: its kind and reference, never what it says."""
    log.info("%s %s received", receipt.row.kind, receipt.reference)


def _deadline(
    name: str,
    trigger: datetime,
    rule: DeadlinePolicy,
    policy: Policy,
    *,
    met_at: datetime | None = None,
) -> DeadlineRow:
    due = due_at(
        trigger,
        rule.period,
        rule=rule.rule,
        timezone=policy.timezone,
        holidays=policy.holiday_country,
    )
    return DeadlineRow(
        name=name,
        trigger_at=_utc(trigger),
        period=rule.period,
        rule=rule.rule,
        timezone=policy.timezone,
        holidays=policy.holiday_country,
        due_at=due,
        met_at=met_at,
        paused=False,
    )


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware")
    return instant.astimezone(UTC)
