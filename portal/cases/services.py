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
from portal.cases.references import is_reference, next_reference
from portal.cases.schemas import IncidentSubmission, InformationRequestSubmission
from portal.cases.tokens import hash_token, new_token, token_matches
from portal.cases.views import submitter_view
from portal.catalog import Catalog, Policy
from portal.catalog.models import DeadlinePolicy
from portal.deadlines import due_at

log = logging.getLogger(__name__)

__all__ = [
    "Receipt",
    "add_message",
    "find_case",
    "receipt_fields",
    "submit_incident",
    "submit_information_request",
    "submitter_view",
]


@dataclass(frozen=True)
class Receipt:
    """What a submitter gets back once: the reference and the access token (never stored)."""

    reference: str
    access_token: str
    case: Case


def submit_incident(
    session: Session, catalog: Catalog, data: IncidentSubmission, *, now: datetime
) -> Receipt:
    """Record a serious-incident notice and commit; a late notice is accepted and flagged.

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
    summary = f"Product: {product.name} ({product.id}). Category: {data.category}."
    receipt = _submit(
        session,
        kind="incident",
        submission=data.model_dump(exclude_none=True),
        deadlines=deadlines,
        email=data.reporter.email,
        summary=summary,
        policy=policy,
        now=now,
    )
    log.info(
        "Incident %s received (on time: %s)",
        receipt.reference,
        deadlines[0].due_at >= now,
    )
    return receipt


def submit_information_request(
    session: Session, catalog: Catalog, data: InformationRequestSubmission, *, now: datetime
) -> Receipt:
    """Record a request for information and commit; the answer is due under the policy."""
    now = _utc(now)
    policy = catalog.policy
    deadlines = [
        _deadline("information-response", now, policy.deadlines.information_response, policy)
    ]
    names = ", ".join(f"{catalog.products[p].name} ({p})" for p in data.products)
    receipt = _submit(
        session,
        kind="information-request",
        submission=data.model_dump(exclude_none=True),
        deadlines=deadlines,
        email=data.requester.email,
        summary=f"Products: {names}. Topic: {data.topic}.",
        policy=policy,
        now=now,
    )
    log.info("Information request %s received", receipt.reference)
    return receipt


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
    view = submitter_view(receipt.case)
    fields = {
        "reference": receipt.reference,
        "access_token": receipt.access_token,
        "status": receipt.case.status,
        "received_at": view["received_at"],
    }
    for key in ("notification_due", "notified_on_time", "authority_report_due", "response_due"):
        if key in view:
            fields[key] = view[key]
    return fields


def _submit(
    session: Session,
    *,
    kind: str,
    submission: dict[str, Any],
    deadlines: list[Deadline],
    email: str,
    summary: str,
    policy: Policy,
    now: datetime,
) -> Receipt:
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
    try:
        # Core statements inside the transaction: the ORM's unit of work costs more than
        # the commit, and this is the one path every submission takes.
        case.reference = next_reference(session, kind, now.year)
        connection = session.connection()
        case.id = connection.execute(_INSERT_CASE, _row(case, _CASE_COLUMNS)).scalar_one()
        for deadline in deadlines:
            deadline.case_id = case.id
        connection.execute(_INSERT_DEADLINE, [_row(d, _DEADLINE_COLUMNS) for d in deadlines])
        mails = [
            notices.acknowledgement(case, email, timezone=policy.timezone, now=now),
            notices.legal_team_notice(case, summary, timezone=policy.timezone, now=now),
        ]
        connection.execute(_INSERT_MAIL, [_row(m, _MAIL_COLUMNS) for m in mails])
        audit.record(
            session,
            actor="submitter",
            action="case-received",
            at=now,
            case_reference=case.reference,
            changes=changes,
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    # The case was written with Core, so it is not in the session: the receipt holds a
    # detached copy with the same values (deadlines included).
    return Receipt(reference=case.reference, access_token=token, case=case)


_CASE_COLUMNS = tuple(c.key for c in table_of(Case).c if c.key != "id")
_DEADLINE_COLUMNS = tuple(c.key for c in table_of(Deadline).c if c.key != "id")
_MAIL_COLUMNS = tuple(c.key for c in table_of(OutboxMail).c if c.key != "id")
_INSERT_CASE = insert(table_of(Case)).returning(table_of(Case).c.id)
_INSERT_DEADLINE = insert(table_of(Deadline))
_INSERT_MAIL = insert(table_of(OutboxMail))


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
