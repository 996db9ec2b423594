"""Staff actions on a case: check the transition, apply it, recompute deadlines, record it.

`act()` is the one entry point, used by the staff pages and the staff API alike, so both
follow the same rules. Each action is one transaction: the case, its deadlines, any message
or mail for the submitter, and an audit event naming the actor and what changed. Nothing is
written when a transition is refused (`TransitionRefused`, a 409) or a field is bad
(`ActionInvalid`, a 422 with `[{field, message}]` as in the public API).

Clock rules (the policy's periods and counting rules, `portal.deadlines` for the arithmetic):

- `request-clarification` stops the response clock; the submitter's next message is the
  clarification, and a full new response period runs from its receipt
  (`on_submitter_message`, called from `services.add_message` in its transaction).
- `extend` moves the response deadline later for exceptional circumstances; the submitter sees
  the new due instant and the reason.
- `record-report` meets the open deadline of that report. For a systemic-risk model, the
  initial report and each intermediate one open the next intermediate report, due a period
  (`intermediate-report`, 4 weeks) after the report was submitted, until the incident is
  resolved. `resolve` ends that chain and opens the final report, due `final-report` (60 days)
  after the resolution.
- `set-categories` and `set-awareness` recompute the initial report's clock (`clocks`):
  the earliest any category opens, from the provider's awareness, which may be earlier than
  the customer's notice, never later. A report already filed keeps its deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases import audit, clocks, notices
from portal.cases.accounts import StaffUser
from portal.cases.models import Case, Deadline, Message, OutboxMail
from portal.cases.schemas import AwarenessSource, Instant, LongText, ShortText, errors_of
from portal.cases.wording import KIND_NAMES, local_moment, utc_iso
from portal.catalog import Catalog
from portal.catalog.models import DeadlinePolicy, IncidentCategory
from portal.deadlines import due_at

log = logging.getLogger(__name__)

INCIDENT = "incident"
REQUEST = "information-request"
RESPONSE = "information-response"
REPORT_DEADLINES = {
    "initial": "authority-report",
    "intermediate": "intermediate-report",
    "final": "final-report",
}
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Rule:
    """Which cases an action applies to, and from which statuses."""

    kinds: tuple[str, ...]
    statuses: tuple[str, ...]


ALL_OPEN = ("received", "in-progress", "clarification-requested", "answered", "resolved")
RULES: dict[str, Rule] = {
    "acknowledge": Rule((INCIDENT, REQUEST), ("received",)),
    "request-clarification": Rule((REQUEST,), ("received", "in-progress")),
    "extend": Rule((REQUEST,), ("received", "in-progress")),
    "answer": Rule((REQUEST,), ("received", "in-progress", "clarification-requested")),
    "record-report": Rule((INCIDENT,), ("received", "in-progress", "resolved")),
    "resolve": Rule((INCIDENT,), ("received", "in-progress")),
    "set-categories": Rule((INCIDENT,), ("received", "in-progress", "resolved")),
    "set-awareness": Rule((INCIDENT,), ("received", "in-progress", "resolved")),
    "message": Rule((INCIDENT, REQUEST), (*ALL_OPEN, "closed")),
    "reopen": Rule((REQUEST,), ("answered", "closed")),
    "assign": Rule((INCIDENT, REQUEST), ALL_OPEN),
    "mark-duplicate": Rule((INCIDENT, REQUEST), ALL_OPEN),
    "close": Rule((INCIDENT, REQUEST), ALL_OPEN),
    # An internal note for the team: kept in the audit trail, never shown to the submitter.
    "note": Rule((INCIDENT, REQUEST), (*ALL_OPEN, "closed")),
}
ACTIONS = tuple(RULES)


class ActionError(Exception):
    """An action that was not carried out; nothing was written."""

    status = 400

    def __init__(self, message: str, errors: list[dict[str, str | None]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or [{"field": "action", "message": message}]


class TransitionRefused(ActionError):
    """The action does not apply to this case in its present status (HTTP 409)."""

    status = 409


class ActionInvalid(ActionError):
    """A field of the action is missing or bad (HTTP 422)."""

    status = 422


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NoFields(_Fields):
    pass


class _Clarification(_Fields):
    message: LongText


class _Extension(_Fields):
    due_at: Instant
    reason: LongText


class _Answer(_Fields):
    body: LongText


class _Report(_Fields):
    report: Literal["initial", "intermediate", "final"]
    authority: ShortText
    submitted_at: Instant


class _Resolution(_Fields):
    resolved_at: Instant


class _Categories(_Fields):
    categories: Annotated[list[IncidentCategory], Field(min_length=1, max_length=20)]
    reason: LongText


class _Awareness(_Fields):
    aware_at: Instant
    source: AwarenessSource
    reason: LongText


class _Message(_Fields):
    body: LongText


class _Reopening(_Fields):
    reason: LongText
    restart_clock: bool = False


class _Assignment(_Fields):
    to: Annotated[str, Field(max_length=254)]  # a staff member's e-mail, or "" for no one


class _Duplicate(_Fields):
    of: ShortText


class _Closing(_Fields):
    reason: LongText


class _Note(_Fields):
    note: Annotated[LongText, Field()]

    @field_validator("note")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


_FIELDS: dict[str, type[_Fields]] = {
    "acknowledge": _NoFields,
    "request-clarification": _Clarification,
    "extend": _Extension,
    "answer": _Answer,
    "record-report": _Report,
    "resolve": _Resolution,
    "set-categories": _Categories,
    "set-awareness": _Awareness,
    "message": _Message,
    "mark-duplicate": _Duplicate,
    "reopen": _Reopening,
    "assign": _Assignment,
    "close": _Closing,
    "note": _Note,
}


def act(
    session: Session,
    catalog: Catalog,
    case: Case,
    payload: dict[str, Any],
    *,
    actor: str,
    now: datetime,
    site_url: str = "",
) -> Case:
    """Carry out `payload` (`{"action": ..., fields}`) on `case` for `actor`, and commit."""
    now = _utc(now)
    if not isinstance(payload, dict):
        raise ActionInvalid(
            "the body must be an object", [{"field": None, "message": "must be an object"}]
        )
    name = payload.get("action")
    if not isinstance(name, str) or name not in RULES:
        raise ActionInvalid(
            "unknown action",
            [{"field": "action", "message": f"must be one of: {', '.join(ACTIONS)}"}],
        )
    rule = RULES[name]
    if case.kind not in rule.kinds:
        raise TransitionRefused(f"{name} does not apply to a {KIND_NAMES[case.kind]}")
    if case.status not in rule.statuses:
        raise TransitionRefused(f"{name} is not possible while the case is {case.status}")
    fields = {key: value for key, value in payload.items() if key != "action"}
    try:
        data = _FIELDS[name].model_validate(fields)
    except ValidationError as exc:
        raise ActionInvalid("some fields are not valid", errors_of(exc)) from None
    try:
        changes = _APPLY[name](session, catalog, case, data, now)
        notices.add_links(session, case.reference, site_url)
        _refresh_next_due(case)
        case.updated_at = now
        session.flush()
        audit.record(
            session,
            actor=actor,
            action=name,
            at=now,
            case_reference=case.reference,
            changes=changes,
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.info("%s: %s by staff, now %s", case.reference, name, case.status)
    return case


def on_submitter_message(session: Session, case: Case, message: Message) -> None:
    """When a clarification was asked for, take this message as it: restart the clock.

    Runs inside `add_message`'s transaction, before its commit. A full new response period,
    under the rule the deadline was set with, runs from the message's receipt.
    """
    if case.kind != REQUEST or case.status != "clarification-requested":
        return
    deadline = _open_deadline(case, RESPONSE)
    if deadline is None:
        return
    received = _utc(message.created_at)
    paused_at = deadline.paused_at
    deadline.trigger_at = received
    deadline.due_at = due_at(
        received,
        deadline.period,
        rule=deadline.rule,
        timezone=deadline.timezone,
        holidays=deadline.holidays,
    )
    deadline.paused = False
    deadline.paused_at = None
    case.status = "in-progress"
    case.updated_at = received
    _refresh_next_due(case)
    session.flush()
    audit.record(
        session,
        actor="submitter",
        action="clarification-received",
        at=received,
        case_reference=case.reference,
        changes={
            "status": ["clarification-requested", "in-progress"],
            "message_id": message.id,
            "deadline": RESPONSE,
            "paused_from": utc_iso(paused_at) if paused_at else None,
            "resumed_at": utc_iso(received),
            "due_at": utc_iso(deadline.due_at),
        },
    )
    log.info("%s: clarification received, response clock restarted", case.reference)


def find_case_for_staff(session: Session, reference: str) -> Case | None:
    """The case with this reference, whatever its status (staff need no access token)."""
    if not isinstance(reference, str) or len(reference) > 20:
        return None
    return session.scalar(select(Case).where(Case.reference == reference.strip().upper()))


def next_due(case: Case) -> datetime | None:
    """The earliest due instant among the deadlines that are open and running."""
    dues = [d.due_at for d in case.deadlines if d.met_at is None and not d.paused]
    return min(dues) if dues else None


def _acknowledge(session: Session, catalog: Catalog, case: Case, data: Any, now: datetime) -> Any:
    return _set_status(case, "in-progress")


def _request_clarification(
    session: Session, catalog: Catalog, case: Case, data: _Clarification, now: datetime
) -> Any:
    deadline = _require_open(case, RESPONSE, "no answer is due on this request")
    deadline.paused = True
    deadline.paused_at = now
    message = _staff_message(session, case, data.message, now)
    _mail_submitter(
        session,
        case,
        now,
        subject=f"A question about your request {case.reference}",
        lines=[
            f"Before we can answer your request {case.reference}, we need a clarification:",
            "",
            data.message,
            "",
            "Please reply on the portal's status page, with your reference and access code.",
            "The time we have to answer stops until then; once your reply reaches us, a new",
            "full period for our answer begins.",
        ],
    )
    return {
        **_set_status(case, "clarification-requested"),
        "message_id": message.id,
        "deadline": RESPONSE,
        "paused_at": utc_iso(now),
    }


def _extend(session: Session, catalog: Catalog, case: Case, data: _Extension, now: datetime) -> Any:
    deadline = _require_open(case, RESPONSE, "no answer is due on this request")
    if data.due_at <= deadline.due_at:
        raise ActionInvalid(
            "due_at is not later",
            [{"field": "due_at", "message": "must be later than the present due instant"}],
        )
    if data.due_at <= now:
        raise ActionInvalid(
            "due_at is past", [{"field": "due_at", "message": "must be in the future"}]
        )
    before = deadline.due_at
    deadline.due_at = data.due_at
    local = local_moment(data.due_at, deadline.timezone)
    body = (
        "Because of exceptional circumstances we need more time to answer."
        f" Our answer is now due {local}. Reason: {data.reason}"
    )
    message = _staff_message(session, case, body, now)
    _mail_submitter(
        session,
        case,
        now,
        subject=f"More time needed for your request {case.reference}",
        lines=[
            f"Because of exceptional circumstances we need more time to answer {case.reference}.",
            "",
            f"Our answer is now due {local}.",
            "",
            f"Reason: {data.reason}",
        ],
    )
    return {
        "deadline": RESPONSE,
        "due_at": [utc_iso(before), utc_iso(data.due_at)],
        "reason": data.reason,
        "message_id": message.id,
    }


def _answer(session: Session, catalog: Catalog, case: Case, data: _Answer, now: datetime) -> Any:
    deadline = _require_open(case, RESPONSE, "no answer is due on this request")
    deadline.paused = False
    deadline.paused_at = None
    deadline.met_at = now
    message = _staff_message(session, case, data.body, now)
    _mail_submitter(
        session,
        case,
        now,
        subject=f"Our answer to your request {case.reference}",
        lines=[
            f"We have answered your request {case.reference}.",
            "",
            "Read the answer on the portal's status page, with your reference and access code.",
        ],
    )
    return {
        **_set_status(case, "answered"),
        "message_id": message.id,
        "deadline": RESPONSE,
        "met_at": utc_iso(now),
        "on_time": now <= deadline.due_at,
    }


def _record_report(
    session: Session, catalog: Catalog, case: Case, data: _Report, now: datetime
) -> Any:
    submitted = _not_future(data.submitted_at, now, "submitted_at")
    name = REPORT_DEADLINES[data.report]
    deadline = _require_open(case, name, f"no {data.report} report is due on this case")
    deadline.met_at = submitted
    changes: dict[str, Any] = {
        "report": data.report,
        "authority": data.authority,
        "submitted_at": utc_iso(submitted),
        "deadline": name,
        "on_time": submitted <= deadline.due_at,
    }
    if data.report == "intermediate":
        # Keep the open deadline's name stable ("intermediate-report"): number the met one.
        number = sum(1 for d in case.deadlines if d.name.startswith("intermediate-report-")) + 1
        deadline.name = f"intermediate-report-{number}"
        changes["deadline"] = deadline.name
        session.flush()
    if data.report in ("initial", "intermediate") and _systemic_risk(catalog, case):
        if case.status != "resolved" and _open_deadline(case, "intermediate-report") is None:
            policy = catalog.policy
            follow = _new_deadline(
                "intermediate-report", submitted, policy.deadlines.intermediate_report, catalog
            )
            case.deadlines.append(follow)
            changes["next_deadline"] = {"intermediate-report": utc_iso(follow.due_at)}
    if case.status == "received":
        changes.update(_set_status(case, "in-progress"))
    return changes


def _resolve(
    session: Session, catalog: Catalog, case: Case, data: _Resolution, now: datetime
) -> Any:
    resolved = _not_future(data.resolved_at, now, "resolved_at")
    changes: dict[str, Any] = {**_set_status(case, "resolved"), "resolved_at": utc_iso(resolved)}
    chain = _open_deadline(case, "intermediate-report")
    if chain is not None:
        # Intermediate reports are due only while the incident is unresolved.
        case.deadlines.remove(chain)
        changes["cancelled"] = {"intermediate-report": utc_iso(chain.due_at)}
    if case.deadline("authority-report") is not None and case.deadline("final-report") is None:
        final = _new_deadline(
            "final-report", resolved, catalog.policy.deadlines.final_report, catalog
        )
        case.deadlines.append(final)
        changes["next_deadline"] = {"final-report": utc_iso(final.due_at)}
    return changes


def _set_categories(
    session: Session, catalog: Catalog, case: Case, data: _Categories, now: datetime
) -> Any:
    before = list(case.categories or [])
    case.categories = list(dict.fromkeys(str(c) for c in data.categories))
    return {
        "categories": [before, case.categories],
        "reason": data.reason,
        **_recompute_authority_report(catalog, case),
    }


def _set_awareness(
    session: Session, catalog: Catalog, case: Case, data: _Awareness, now: datetime
) -> Any:
    aware = _not_future(data.aware_at, now, "aware_at")
    if aware > case.received_at:
        received = local_moment(case.received_at, catalog.policy.timezone)
        raise ActionInvalid(
            "aware_at is after the notice",
            [
                {
                    "field": "aware_at",
                    "message": f"must not be after the case was received ({received})",
                }
            ],
        )
    before = (case.provider_aware_at, case.awareness_source)
    case.provider_aware_at, case.awareness_source = aware, data.source
    return {
        "provider_aware_at": [utc_iso(before[0]) if before[0] else None, utc_iso(aware)],
        "awareness_source": [before[1], data.source],
        "reason": data.reason,
        **_recompute_authority_report(catalog, case),
    }


def authority_deadline(
    catalog: Catalog, product_id: str, categories: list[str], aware_at: datetime
) -> Deadline | None:
    """The initial-report deadline the categories open for the product, or None."""
    product = catalog.products.get(product_id)
    found = (
        clocks.earliest_authority_report(catalog, product, categories, aware_at)
        if product is not None
        else None
    )
    if found is None:
        return None
    clock, _ = found
    deadline = _new_deadline("authority-report", _utc(aware_at), clock.rule, catalog)
    deadline.basis = clock.basis()
    return deadline


def _recompute_authority_report(catalog: Catalog, case: Case) -> dict[str, Any]:
    """Set the open initial-report deadline again from the case's categories and awareness."""
    present = case.deadline("authority-report")
    if present is not None and present.met_at is not None:
        return {}  # filed: what it was due by stays on record
    aware = case.provider_aware_at or case.received_at
    product = str(case.submission.get("product", ""))
    fresh = authority_deadline(catalog, product, list(case.categories or []), aware)
    if fresh is None:
        if present is None:
            return {}
        case.deadlines.remove(present)
        return {"cancelled": {"authority-report": utc_iso(present.due_at)}}
    if present is None:
        case.deadlines.append(fresh)
        return {"next_deadline": {"authority-report": utc_iso(fresh.due_at)}, "basis": fresh.basis}
    before = present.due_at
    for name in ("trigger_at", "period", "rule", "timezone", "holidays", "due_at", "basis"):
        setattr(present, name, getattr(fresh, name))
    return {
        "deadline": "authority-report",
        "due_at": [utc_iso(before), utc_iso(present.due_at)],
        "basis": present.basis,
    }


def _message(session: Session, catalog: Catalog, case: Case, data: _Message, now: datetime) -> Any:
    """Write to the submitter of any case, in any state: on the status page and by mail."""
    message = _staff_message(session, case, data.body, now)
    case.needs_attention = False
    _mail_submitter(
        session,
        case,
        now,
        subject=f"A message about your case {case.reference}",
        lines=[
            f"The legal team wrote to you about {case.reference}:",
            "",
            data.body,
            "",
            "Reply on the portal's status page, with your reference and access code.",
        ],
    )
    return {"message_id": message.id}


def _reopen(session: Session, catalog: Catalog, case: Case, data: _Reopening, now: datetime) -> Any:
    """Work on a request again; a new full response period only when staff judge the customer's
    message a new, sufficiently precise request (`restart_clock`)."""
    case.needs_attention = False
    changes: dict[str, Any] = {**_set_status(case, "in-progress"), "reason": data.reason}
    if data.restart_clock:
        answered = case.deadline(RESPONSE)
        if answered is not None:
            number = sum(1 for d in case.deadlines if d.name.startswith(f"{RESPONSE}-")) + 1
            answered.name = f"{RESPONSE}-{number}"
            session.flush()
        fresh = _new_deadline(RESPONSE, now, catalog.policy.deadlines.information_response, catalog)
        case.deadlines.append(fresh)
        changes["next_deadline"] = {RESPONSE: utc_iso(fresh.due_at)}
    return changes


def _assign(
    session: Session, catalog: Catalog, case: Case, data: _Assignment, now: datetime
) -> Any:
    """Give the case to a staff member with an active account (or to no one: "")."""
    to = data.to.strip().lower()
    if to:
        user = session.scalar(select(StaffUser).where(StaffUser.email == to))
        if user is None or not user.active:
            raise ActionInvalid(
                "no such staff member",
                [{"field": "to", "message": "must be the e-mail of an active staff account"}],
            )
    before = case.assigned_to
    case.assigned_to = to or None
    return {"assigned_to": [before, case.assigned_to]}


def _mark_duplicate(
    session: Session, catalog: Catalog, case: Case, data: _Duplicate, now: datetime
) -> Any:
    """Close a case that repeats another: it links to the other, and its clocks stop."""
    original = find_case_for_staff(session, data.of)
    if original is None or original.id == case.id:
        raise ActionInvalid(
            "no such other case",
            [{"field": "of", "message": "must be the reference of another case"}],
        )
    if original.duplicate_of is not None:
        raise ActionInvalid(
            "the other case is a duplicate",
            [{"field": "of", "message": f"is itself a duplicate of {original.duplicate_of}"}],
        )
    case.duplicate_of = original.reference
    stopped = []
    for deadline in case.deadlines:
        if deadline.met_at is None and not deadline.paused:
            deadline.paused, deadline.paused_at = True, now
            stopped.append(deadline.name)
    return {**_set_status(case, "closed"), "duplicate_of": original.reference, "stopped": stopped}


def duplicates_of(session: Session, case: Case) -> list[str]:
    """The references of the cases marked as duplicates of `case` (the other way of the link)."""
    return list(
        session.scalars(
            select(Case.reference).where(Case.duplicate_of == case.reference).order_by(Case.id)
        )
    )


def _close(session: Session, catalog: Catalog, case: Case, data: _Closing, now: datetime) -> Any:
    return {**_set_status(case, "closed"), "reason": data.reason}


def _note(session: Session, catalog: Catalog, case: Case, data: _Note, now: datetime) -> Any:
    return {"note": data.note}


_APPLY: dict[str, Any] = {
    "acknowledge": _acknowledge,
    "request-clarification": _request_clarification,
    "extend": _extend,
    "answer": _answer,
    "record-report": _record_report,
    "resolve": _resolve,
    "set-categories": _set_categories,
    "set-awareness": _set_awareness,
    "message": _message,
    "mark-duplicate": _mark_duplicate,
    "reopen": _reopen,
    "assign": _assign,
    "close": _close,
    "note": _note,
}


def _set_status(case: Case, status: str) -> dict[str, Any]:
    before = case.status
    case.status = status
    return {"status": [before, status]}


def _open_deadline(case: Case, name: str) -> Deadline | None:
    return next((d for d in case.deadlines if d.name == name and d.met_at is None), None)


def _require_open(case: Case, name: str, refusal: str) -> Deadline:
    deadline = _open_deadline(case, name)
    if deadline is None:
        raise TransitionRefused(refusal)
    return deadline


def _new_deadline(name: str, trigger: datetime, rule: DeadlinePolicy, catalog: Catalog) -> Deadline:
    policy = catalog.policy
    return Deadline(
        name=name,
        trigger_at=trigger,
        period=rule.period,
        rule=rule.rule,
        timezone=policy.timezone,
        holidays=policy.holiday_country,
        due_at=due_at(
            trigger,
            rule.period,
            rule=rule.rule,
            timezone=policy.timezone,
            holidays=policy.holiday_country,
        ),
        met_at=None,
        paused=False,
        paused_at=None,
    )


def _systemic_risk(catalog: Catalog, case: Case) -> bool:
    """Whether the product is, or is built on, a systemic-risk model."""
    product = catalog.products.get(str(case.submission.get("product", "")))
    return product is not None and bool(clocks.systemic_risk_models(catalog, product))


def _refresh_next_due(case: Case) -> None:
    case.next_due_at = next_due(case)


def _staff_message(session: Session, case: Case, body: str, now: datetime) -> Message:
    message = Message(case=case, author="staff", body=body, created_at=now)
    session.add(message)
    session.flush()
    return message


def _mail_submitter(
    session: Session, case: Case, now: datetime, *, subject: str, lines: list[str]
) -> None:
    address = submitter_address(case)
    if address is None:
        log.warning("No address to mail the submitter of %s", case.reference)
        return
    session.add(
        OutboxMail(
            created_at=now,
            case_reference=case.reference,
            recipient="submitter",
            to_address=address,
            subject=subject,
            body="\n".join(lines) + "\n",
            attempts=0,
            next_attempt_at=now,
        )
    )


def submitter_address(case: Case) -> str | None:
    """The address the submitter gave (reporter of an incident, requester of a request)."""
    person = case.submission.get("reporter") or case.submission.get("requester") or {}
    email = person.get("email") if isinstance(person, dict) else None
    return email if isinstance(email, str) else None


def _not_future(instant: datetime, now: datetime, field: str) -> datetime:
    if instant > now + FUTURE_TOLERANCE:
        raise ActionInvalid(
            f"{field} is in the future", [{"field": field, "message": "must not be in the future"}]
        )
    return instant.astimezone(UTC)


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware")
    return instant.astimezone(UTC)
