"""Submitting, finding and following up cases: what the API and the HTML forms call.

A submission is one transaction, in the caller's thread: the next reference from the
per-kind, per-year counter row (`references.next_reference`), then the case, its deadlines,
the two outbox mails and the audit event, committed before the function returns, so a
receipt is never given for a case that is not on disk.

Callers validate first (`portal.cases.schemas`) and pass `now`, an aware datetime: these
functions never read the clock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.cases import actions, audit, notices, receipts
from portal.cases import idempotency as idempotency_keys
from portal.cases.idempotency import Idempotency
from portal.cases.models import Case, Deadline, Message, OutboxMail
from portal.cases.references import is_reference, next_reference
from portal.cases.schemas import (
    IncidentSubmission,
    InformationRequestSubmission,
    StaffIncidentSubmission,
)
from portal.cases.tokens import hash_token, new_token, token_matches
from portal.cases.views import due_fields, submitter_view
from portal.cases.wording import utc_iso
from portal.catalog import Catalog, Policy
from portal.catalog.models import DeadlinePolicy
from portal.deadlines import due_at
from portal.proof.keys import Signer

log = logging.getLogger(__name__)

__all__ = [
    "Receipt",
    "add_message",
    "find_case",
    "open_incident",
    "receipt_fields",
    "submit_incident",
    "submit_information_request",
    "submitter_view",
]


@dataclass(frozen=True)
class Receipt:
    """What a submitter gets back once: the reference and the access token (never stored),
    with the case as committed."""

    reference: str
    access_token: str
    case: Case


def submit_incident(
    session: Session,
    catalog: Catalog,
    data: IncidentSubmission,
    *,
    now: datetime,
    idempotency: Idempotency | None = None,
    site_url: str = "",
    signer: Signer | None = None,
) -> Receipt:
    """Record a serious-incident notice and commit; a late notice is accepted and flagged.

    Deadlines: `incident-notification` (the customer's 48 hours, from `aware_at`, met at
    receipt) and, when a category opens one (`clocks`), `authority-report`: the provider's
    initial report, due at the earliest of the clocks, from the provider's awareness, which
    is the notice's receipt until staff record an earlier one.
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
    categories = [str(category) for category in data.categories or ()]
    authority = actions.authority_deadline(catalog, product.id, categories, now)
    if authority is not None:
        deadlines.append(authority)
    return _record(
        session,
        kind="incident",
        submission=data.model_dump(mode="json", exclude_none=True),
        deadlines=deadlines,
        email=data.reporter.email,
        summary=f"Product: {product.name} ({product.id}). Categories: {', '.join(categories)}.",
        policy=policy,
        now=now,
        incident=(categories, now, "customer-notice"),
        idempotency=idempotency,
        site_url=site_url,
        signer=signer,
    )


def open_incident(
    session: Session,
    catalog: Catalog,
    data: StaffIncidentSubmission,
    *,
    actor: str,
    now: datetime,
    site_url: str = "",
    signer: Signer | None = None,
) -> Receipt:
    """Record an incident the legal team learnt of itself, and commit.

    No customer notice, so no `incident-notification`; the authority report runs from the
    provider's awareness (`aware_at`), as for a notice. The team is told; no one else is.
    """
    now = _utc(now)
    product = catalog.products[data.product]
    categories = [str(category) for category in data.categories or ()]
    aware = _utc(data.aware_at)
    authority = actions.authority_deadline(catalog, product.id, categories, aware)
    return _record(
        session,
        kind="incident",
        submission=data.model_dump(mode="json", exclude_none=True, exclude={"source"}),
        deadlines=[authority] if authority is not None else [],
        email=None,
        summary=f"Opened by {actor}. Product: {product.name} ({product.id}). "
        f"Categories: {', '.join(categories)}.",
        policy=catalog.policy,
        now=now,
        incident=(categories, aware, data.source),
        actor=actor,
        site_url=site_url,
        signer=signer,
    )


def submit_information_request(
    session: Session,
    catalog: Catalog,
    data: InformationRequestSubmission,
    *,
    now: datetime,
    idempotency: Idempotency | None = None,
    site_url: str = "",
    signer: Signer | None = None,
) -> Receipt:
    """Record a request for information and commit; the answer is due under the policy."""
    now = _utc(now)
    policy = catalog.policy
    deadlines = [
        _deadline("information-response", now, policy.deadlines.information_response, policy)
    ]
    names = ", ".join(f"{catalog.products[p].name} ({p})" for p in data.products)
    return _record(
        session,
        kind="information-request",
        submission=data.model_dump(mode="json", exclude_none=True),
        deadlines=deadlines,
        email=data.requester.email,
        summary=f"Products: {names}. Topic: {data.topic}.",
        policy=policy,
        now=now,
        idempotency=idempotency,
        site_url=site_url,
        signer=signer,
    )


def _record(
    session: Session,
    *,
    kind: str,
    submission: dict[str, Any],
    deadlines: list[Deadline],
    email: str | None,
    summary: str,
    policy: Policy,
    now: datetime,
    incident: tuple[list[str], datetime, str] | None = None,
    actor: str = "submitter",
    idempotency: Idempotency | None = None,
    site_url: str = "",
    signer: Signer | None = None,
) -> Receipt:
    """Write one submission in one transaction and commit it; an incident also gets its
    categories, the provider's awareness and its source. With a `signer`, the case gets its
    signed receipt, which the acknowledgement mail attaches.

    The counter row is taken first and the audit chain's head last: every writer takes them in
    this order, so two transactions never wait on each other in a cycle (PostgreSQL), and the
    head's lock is held for as short a time as possible.
    """
    token = idempotency.token if idempotency is not None else new_token()
    try:
        reference = next_reference(session, kind, now.year)
        case = Case(
            reference=reference,
            kind=kind,
            status="received",
            received_at=now,
            updated_at=now,
            token_hash=hash_token(token),
            submission=submission,
            deadlines=deadlines,
            messages=[],
        )
        if incident is not None:
            case.categories, case.provider_aware_at, case.awareness_source = incident
        case.next_due_at = actions.next_due(case)
        if signer is not None:
            receipts.sign_case(case, signer)
        session.add(case)
        zone = policy.timezone
        mails = [notices.legal_team_notice(case, summary, timezone=zone, now=now)]
        if email is not None:
            acknowledgement = notices.acknowledgement(case, email, timezone=zone, now=now)
            if case.receipt is not None:
                acknowledgement["attachment_name"] = receipts.receipt_filename(reference)
                acknowledgement["attachment"] = json.dumps(case.receipt, indent=2) + "\n"
            mails.insert(0, acknowledgement)
        for mail in mails:
            session.add(
                OutboxMail(case_reference=reference, attempts=0, next_attempt_at=now, **mail)
            )
        notices.add_links(session, reference, site_url)
        if idempotency is not None:
            idempotency_keys.record(session, idempotency, reference, now=now)
        session.flush()  # a key another request just used fails here, before the audit
        audit.record(
            session,
            actor=actor,
            action="case-received" if actor == "submitter" else "case-opened",
            at=now,
            case_reference=reference,
            changes={
                "status": "received",
                "deadlines": {d.name: d.due_at.isoformat() for d in deadlines},
            },
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    # Its kind and reference, never what it says.
    log.info("%s %s received", kind, reference)
    return Receipt(reference, token, case)


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
    site_url: str = "",
    signer: Signer | None = None,
) -> Message:
    """Add a follow-up to `case`, tell the legal team, record it, and commit; with a
    `signer`, the message gets its own signed receipt."""
    now = _utc(now)
    message = Message(case=case, author=author, body=body, created_at=now)
    try:
        session.add(message)
        case.updated_at = now
        if author == "submitter":
            session.add(notices.follow_up_notice(case, timezone=timezone, now=now))
            notices.add_links(session, case.reference, site_url)
        session.flush()
        if signer is not None:
            receipts.sign_message(case, message, signer)
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
            if case.status in ("answered", "resolved", "closed"):
                case.needs_attention = True  # the team had finished: a person must look
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.info("Message %s added to %s by %s", message.id, case.reference, author)
    return message


def receipt_fields(receipt: Receipt) -> dict[str, Any]:
    """The receipt as the API returns it (without `status_url`, which the web layer adds)."""
    case = receipt.case
    fields: dict[str, Any] = {
        "reference": receipt.reference,
        "access_token": receipt.access_token,
        "status": case.status,
        "received_at": utc_iso(case.received_at),
    }
    fields.update(due_fields(case))
    if case.receipt is not None:
        fields["receipt"] = case.receipt
    return fields


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
