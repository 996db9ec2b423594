"""Until when a case file is kept: the policy's `retention` period, counted from its closing.

Code of Practice, Measure 9.4: a serious-incident file is kept at least 5 years (policy key
`retention.incident-files`). Nothing is purged yet; the date tells the legal team that the file
must not be deleted before it. Information requests have no period in the policy, so no date.
A case has no column for its closing: the audit trail's `close` event is the one record of it.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from portal.cases.models import AuditEvent, Case
from portal.catalog import Policy

INCIDENT = "incident"


def kept_until(kind: str, closed_at: datetime | None, policy: Policy) -> date | str | None:
    """The first day the file may be deleted; while open, the period in words; None if none."""
    if kind != INCIDENT:
        return None
    if closed_at is None:
        years = int(policy.retention.incident_files.removesuffix("y"))
        return f"{years} year{'s' if years != 1 else ''} after closing"
    # The closing day is the policy's local day, as for every deadline.
    closed_on = closed_at.astimezone(ZoneInfo(policy.timezone)).date()
    return policy.incident_file_kept_until(closed_on)


def closed_at(case: Case, session: Session | None = None) -> datetime | None:
    """When the case was closed, from its audit trail; None while it is open."""
    if case.status != "closed":
        return None
    session = session or object_session(case)
    if session is None:
        return None
    found: datetime | None = session.scalar(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.case_reference == case.reference, AuditEvent.action == "close"
        )
    )
    return found


def case_kept_until(case: Case, policy: Policy, session: Session | None = None) -> str | None:
    """`kept_until` of a stored case, as the page and the exports print it."""
    found = kept_until(case.kind, closed_at(case, session), policy)
    return found.isoformat() if isinstance(found, date) else found
