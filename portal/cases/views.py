"""A case as its submitter may see it: the JSON of `GET /api/v1/cases/<reference>`.

Every instant is in UTC ISO 8601; each deadline also carries its due instant on the policy's
local clock and the plain-English steps that reached it, redone from the stored trigger,
period, rule, time zone and holidays, so the explanation always matches the stored deadline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from portal.cases.models import Case, Deadline
from portal.cases.timeline import submitter_updates
from portal.cases.wording import deadline_title, local_iso, local_moment, utc_iso
from portal.catalog import Policy
from portal.deadlines import explain_due


def submitter_view(case: Case, policy: Policy | None = None) -> dict[str, Any]:
    """The case for its submitter: what they sent, its status, deadlines and messages.

    `policy` is accepted for symmetry with the other views; the deadlines carry the time zone
    and holidays they were computed with.
    """
    view: dict[str, Any] = {
        "reference": case.reference,
        "kind": case.kind,
        "status": case.status,
        "received_at": utc_iso(case.received_at),
        "updated_at": utc_iso(case.updated_at),
        "submitted": case.submission,
        "deadlines": [deadline_view(d) for d in case.deadlines],
        "messages": [
            {
                "author": m.author,
                "body": m.body,
                "sent_at": utc_iso(m.created_at),
                **({"receipt": m.receipt} if m.receipt is not None else {}),
            }
            for m in case.messages
        ],
        # The signed receipt given at submission (None for cases older than receipts).
        "receipt": case.receipt,
    }
    view.update(due_fields(case))
    # The legal team's work as the submitter may see it (status history, extensions, answer).
    view.update(submitter_updates(case))
    return view


class _Deadlined(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    def deadline(self, name: str) -> Any: ...


def due_fields(case: _Deadlined) -> dict[str, Any]:
    """The deadlines a receipt names: `notification_due`, `notified_on_time` and
    `authority_report_due` for an incident, `response_due` for a request."""
    fields: dict[str, Any] = {}
    if case.kind == "incident":
        notification = case.deadline("incident-notification")
        authority = case.deadline("authority-report")
        if notification is not None:
            fields["notification_due"] = utc_iso(notification.due_at)
            fields["notified_on_time"] = case.received_at <= notification.due_at
        fields["authority_report_due"] = utc_iso(authority.due_at) if authority else None
    else:
        response = case.deadline("information-response")
        fields["response_due"] = utc_iso(response.due_at) if response else None
    return fields


def deadline_view(deadline: Deadline) -> dict[str, Any]:
    """One deadline with its explanation in plain words."""
    explanation = explain_due(
        deadline.trigger_at,
        deadline.period,
        rule=deadline.rule,
        timezone=deadline.timezone,
        holidays=deadline.holidays,
    )
    steps = list(explanation.steps)
    if explanation.due != deadline.due_at:
        steps.append(
            "The legal team has since moved the due instant to"
            f" {local_moment(deadline.due_at, deadline.timezone)}."
        )
    if deadline.paused and deadline.paused_at is not None:
        steps.append(
            f"The clock is stopped since {local_moment(deadline.paused_at, deadline.timezone)},"
            " while we wait for your clarification."
        )
    if deadline.met_at is not None:
        on_time = "on time" if deadline.met_at <= deadline.due_at else "late"
        steps.append(f"Met on {local_moment(deadline.met_at, deadline.timezone)} ({on_time}).")
    return {
        "name": deadline.name,
        "title": deadline_title(deadline.name),
        "trigger_at": utc_iso(deadline.trigger_at),
        "period": deadline.period,
        "rule": deadline.rule,
        "due_at": utc_iso(deadline.due_at),
        "due_local": local_iso(deadline.due_at, deadline.timezone),
        "due_in_words": local_moment(deadline.due_at, deadline.timezone),
        "timezone": deadline.timezone,
        "met_at": utc_iso(deadline.met_at) if deadline.met_at else None,
        "paused": deadline.paused,
        "explanation": steps,
    }
