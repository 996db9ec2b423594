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

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from portal.cases import actions, audit, notices
from portal.cases.models import Case, Deadline, Message, OutboxMail, table_of
from portal.cases.references import is_reference, next_references
from portal.cases.schemas import IncidentSubmission, InformationRequestSubmission
from portal.cases.tokens import hash_token, new_token, token_matches
from portal.cases.views import due_fields, submitter_view
from portal.cases.wording import utc_iso
from portal.catalog import Catalog, Policy
from portal.catalog.models import DeadlinePolicy
from portal.deadlines import due_at

log = logging.getLogger(__name__)

__all__ = [
    "Pending",
    "Receipt",
    "add_message",
    "find_case",
    "prepare_incident",
    "prepare_information_request",
    "receipt_fields",
    "submit_incident",
    "submit_information_request",
    "submitter_view",
    "write",
    "write_many",
]


@dataclass(frozen=True)
class Receipt:
    """What a submitter gets back once: the reference and the access token (never stored)."""

    reference: str
    access_token: str
    case: Case


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
        submission=data.model_dump(exclude_none=True),
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
        submission=data.model_dump(exclude_none=True),
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
    case = receipt.case
    fields = {
        "reference": receipt.reference,
        "access_token": receipt.access_token,
        "status": case.status,
        "received_at": utc_iso(case.received_at),
    }
    fields.update(due_fields(case))
    return fields


@dataclass
class Pending:
    """A submission ready to be written: `write` puts it in the session's transaction."""

    case: Case
    token: str
    email: str
    summary: str
    timezone: str
    changes: dict[str, Any]


def _pending(
    *,
    kind: str,
    submission: dict[str, Any],
    deadlines: list[Deadline],
    email: str,
    summary: str,
    policy: Policy,
    now: datetime,
) -> Pending:
    token = new_token()
    open_dues = [d.due_at for d in deadlines if d.met_at is None]
    case = Case(
        kind=kind,
        status="received",
        received_at=now,
        updated_at=now,
        token_hash=hash_token(token),
        submission=_jsonable(submission),
        next_due_at=min(open_dues) if open_dues else None,
        deadlines=deadlines,
    )
    changes = {
        "status": "received",
        "deadlines": {d.name: d.due_at.isoformat() for d in deadlines},
    }
    return Pending(case, token, email, summary, policy.timezone, changes)


def write(session: Session, pending: Pending) -> Receipt:
    """Write a prepared submission in the session's transaction, without committing."""
    return write_many(session, [pending])[0]


def write_many(session: Session, pendings: list[Pending]) -> list[Receipt]:
    """Write prepared submissions in the session's transaction, in order, without committing.

    A fixed handful of Core statements whatever the number of submissions (references, cases,
    deadlines, mail, audit): this runs inside the write lock, and with group commit
    (`portal.cases.committer`) a whole batch shares it. The ORM's unit of work would cost more
    than the commit. The cases are therefore not in the session: each receipt holds its case
    detached, deadlines included.
    """
    if not pendings:
        return []
    groups: dict[tuple[str, int], list[Pending]] = {}
    for pending in pendings:
        key = (pending.case.kind, pending.case.received_at.year)
        groups.setdefault(key, []).append(pending)
    for (kind, year), group in groups.items():
        for pending, reference in zip(
            group, next_references(session, kind, year, len(group)), strict=True
        ):
            pending.case.reference = reference
    connection = session.connection()
    cases = [p.case for p in pendings]
    ids = connection.execute(_INSERT_CASE, [_row(c, _CASE_COLUMNS) for c in cases]).scalars()
    deadlines = []
    mails = []
    events = []
    for case, case_id, pending in zip(cases, ids, pendings, strict=True):
        case.id = case_id
        for deadline in case.deadlines:
            deadline.case_id = case_id
            deadlines.append(_row(deadline, _DEADLINE_COLUMNS))
        now = case.received_at
        for mail in (
            notices.acknowledgement(case, pending.email, timezone=pending.timezone, now=now),
            notices.legal_team_notice(case, pending.summary, timezone=pending.timezone, now=now),
        ):
            mails.append(_row(mail, _MAIL_COLUMNS))
        event = audit.Event("submitter", "case-received", now, case.reference, pending.changes)
        events.append(event)
    connection.execute(_INSERT_DEADLINE, deadlines)
    connection.execute(_INSERT_MAIL, mails)
    audit.record_many(session, events)
    for case in cases:
        log.info("%s %s received", case.kind, case.reference)
    return [
        Receipt(reference=c.reference, access_token=p.token, case=c)
        for c, p in zip(cases, pendings, strict=True)
    ]


def _commit(session: Session, pending: Pending) -> Receipt:
    try:
        receipt = write(session, pending)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return receipt


_CASE_COLUMNS = tuple(c.key for c in table_of(Case).c if c.key != "id")
_DEADLINE_COLUMNS = tuple(c.key for c in table_of(Deadline).c if c.key != "id")
_MAIL_COLUMNS = tuple(c.key for c in table_of(OutboxMail).c if c.key != "id")
_INSERT_CASE = insert(table_of(Case)).returning(table_of(Case).c.id, sort_by_parameter_order=True)
# RETURNING makes SQLAlchemy send many rows as one multi-VALUES statement ("insertmanyvalues")
# instead of a loop of executions: one database call, one GIL release, per table and batch.
_INSERT_DEADLINE = insert(table_of(Deadline)).returning(table_of(Deadline).c.id)
_INSERT_MAIL = insert(table_of(OutboxMail)).returning(table_of(OutboxMail).c.id)


def _row(obj: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    return {key: getattr(obj, key) for key in columns}


def _deadline(
    name: str,
    trigger: datetime,
    rule: DeadlinePolicy,
    policy: Policy,
    *,
    met_at: datetime | None = None,
) -> Deadline:
    due = due_at(
        trigger,
        rule.period,
        rule=rule.rule,
        timezone=policy.timezone,
        holidays=policy.holiday_country,
    )
    return Deadline(
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


def _jsonable(value: Any) -> Any:
    """The validated submission in JSON types, instants in UTC ISO 8601 like the rest of the API."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
