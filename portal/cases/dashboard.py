"""The legal team's view of open cases: ordered by their next open deadline, overdue first.

`Case.next_due_at` holds each case's earliest open, running deadline (kept by the services
and by `actions`), and the partial index `ix_cases_dashboard` on (next_due_at, id) over cases
that are not closed lets the first page be read straight from the index at any size. Pages
follow a keyset cursor (the last row's due instant and id), so page 500 costs what page 1
does; no total is counted, as counting 100,000 rows would cost more than the page itself.
Cases with no running deadline (answered, waiting for a clarification) come after, newest
first. "Open" means not closed: a resolved incident still has its final report to file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Index, Text, and_, cast, column, exists, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import ScalarResult
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from portal.cases.models import KINDS, STATUSES, Case, Deadline
from portal.cases.views import deadline_view
from portal.cases.wording import utc_iso
from portal.catalog.models import INCIDENT_CATEGORIES

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Written as SQL text so that SQLite matches the query's term to the partial index's WHERE.
_NOT_CLOSED = "status != 'closed'"
DASHBOARD_INDEX = Index(
    "ix_cases_dashboard",
    Case.next_due_at,
    Case.id,
    sqlite_where=text(_NOT_CLOSED),
    postgresql_where=text(_NOT_CLOSED),
)


class FilterError(ValueError):
    """A filter or cursor that cannot be read; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Filters:
    """What the team narrows the list to; None means any."""

    kind: str | None = None
    status: str | None = None
    product: str | None = None
    category: str | None = None

    @classmethod
    def read(cls, args: Any) -> Filters:
        """From query arguments (a mapping of strings); an unknown kind or status is refused."""
        values: dict[str, str | None] = {
            name: (str(args.get(name) or "")).strip() or None for name in cls.__dataclass_fields__
        }
        if values["kind"] is not None and values["kind"] not in KINDS:
            raise FilterError("kind", f"must be one of: {', '.join(KINDS)}")
        if values["status"] is not None and values["status"] not in STATUSES:
            raise FilterError("status", f"must be one of: {', '.join(STATUSES)}")
        if values["category"] is not None and values["category"] not in INCIDENT_CATEGORIES:
            raise FilterError("category", f"must be one of: {', '.join(INCIDENT_CATEGORIES)}")
        if len(values["product"] or "") > 64:
            raise FilterError("product", "is too long")
        return cls(**values)

    def as_args(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Page:
    """One page of open cases and the cursor of the next page (None on the last)."""

    cases: list[Case]
    next_cursor: str | None


def open_cases(
    session: Session,
    filters: Filters | None = None,
    *,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """Open cases in dashboard order, `limit` at a time, after the cursor `after`."""
    filters = filters or Filters()
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    bucket, due, last_id = read_cursor(after)
    conditions: list[Any] = [text(_NOT_CLOSED), *_filter_terms(session, filters)]
    found: list[Case] = []
    if bucket == "due":
        query = select(Case).where(*conditions, Case.next_due_at.is_not(None))
        if due is not None and last_id is not None:
            query = query.where(
                or_(
                    Case.next_due_at > due,
                    and_(Case.next_due_at == due, Case.id > last_id),
                )
            )
        query = query.order_by(Case.next_due_at, Case.id).limit(limit + 1)
        found = list(session.scalars(query.options(selectinload(Case.deadlines))))
        if len(found) > limit:
            last = found[limit - 1]
            return Page(found[:limit], _cursor("due", last.next_due_at, last.id))
        last_id = None
    query = select(Case).where(*conditions, Case.next_due_at.is_(None))
    if bucket == "none" and last_id:
        query = query.where(Case.id < last_id)
    room = limit - len(found)
    query = query.order_by(Case.id.desc()).limit(room + 1)
    rest = list(session.scalars(query.options(selectinload(Case.deadlines))))
    more = len(rest) > room
    found += rest[:room]
    # Id 0 starts the undated cases from their newest: the page ended on a dated case.
    cursor = _cursor("none", None, rest[room - 1].id if room else 0) if more else None
    return Page(found, cursor)


def time_left(due: datetime, now: datetime) -> str:
    """`due in 5 h`, `due in 3 days`, `overdue by 2 days`: whole units, rounded down."""
    delta = due - now
    if delta >= timedelta(0):
        return f"due in {_span(delta)}"
    return f"overdue by {_span(-delta)}"


def next_deadline(case: Case) -> Deadline | None:
    """The open, running deadline that falls due first."""
    running = [d for d in case.deadlines if d.met_at is None and not d.paused]
    return min(running, key=lambda d: (d.due_at, d.id)) if running else None


def products_of(case: Case) -> list[str]:
    """The product ids a case is about (one for an incident, several for a request)."""
    submission = case.submission or {}
    if submission.get("product"):
        return [str(submission["product"])]
    return [str(p) for p in submission.get("products") or []]


def categories_of(case: Case) -> list[str]:
    """The incident categories the clocks follow (staff may have corrected the submitter's)."""
    if case.categories is not None:
        return [str(c) for c in case.categories]
    submission = case.submission or {}
    listed = submission.get("categories") or [submission.get("category")]
    return [str(c) for c in listed if c]


def case_summary(case: Case, *, now: datetime) -> dict[str, Any]:
    """A case as the staff API lists it: state, what it is about, and every deadline."""
    upcoming = next_deadline(case)
    deadlines = []
    for deadline in case.deadlines:
        item = deadline_view(deadline)
        item["basis"] = deadline.basis
        item["overdue"] = deadline.met_at is None and not deadline.paused and deadline.due_at < now
        item["time_left"] = (
            time_left(deadline.due_at, now)
            if deadline.met_at is None and not deadline.paused
            else None
        )
        deadlines.append(item)
    return {
        "reference": case.reference,
        "kind": case.kind,
        "status": case.status,
        "received_at": utc_iso(case.received_at),
        "updated_at": utc_iso(case.updated_at),
        "products": products_of(case),
        # `category`, the first of `categories`, as before incidents could have several.
        "category": next(iter(categories_of(case)), None),
        "categories": categories_of(case),
        "provider_aware_at": utc_iso(case.provider_aware_at) if case.provider_aware_at else None,
        "awareness_source": case.awareness_source,
        "duplicate_of": case.duplicate_of,
        "assigned_to": case.assigned_to,
        "needs_attention": case.needs_attention,
        "topic": (case.submission or {}).get("topic"),
        "next_deadline": upcoming.name if upcoming else None,
        "next_due_at": utc_iso(upcoming.due_at) if upcoming else None,
        "time_left": time_left(upcoming.due_at, now) if upcoming else None,
        "overdue": bool(upcoming and upcoming.due_at < now),
        "deadlines": deadlines,
    }


def all_cases(
    session: Session, filters: Filters | None = None, *, include_closed: bool = True
) -> ScalarResult[Case]:
    """Every case matching `filters` for exports, by reference, streamed in batches."""
    filters = filters or Filters()
    conditions: list[Any] = list(_filter_terms(session, filters))
    if not include_closed:
        conditions.append(text(_NOT_CLOSED))
    query = (
        select(Case)
        .where(*conditions)
        .order_by(Case.id)
        .options(selectinload(Case.deadlines))
        .execution_options(yield_per=500)
    )
    return session.scalars(query)


def _filter_terms(session: Session, filters: Filters) -> Sequence[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    if filters.kind:
        terms.append(Case.kind == filters.kind)
    if filters.status:
        terms.append(Case.status == filters.status)
    if filters.category:
        # The JSON list as text: `"death"`, quotes included, matches that category alone.
        terms.append(cast(Case.categories, Text).like(f'%"{filters.category}"%'))
    if filters.product:
        single = Case.submission["product"].as_string() == filters.product
        if session.get_bind().dialect.name == "postgresql":
            many = cast(Case.submission["products"], JSONB).contains([filters.product])
        else:
            listed = func.json_each(Case.submission, "$.products").table_valued("value")
            many = exists(
                select(literal(1)).select_from(listed).where(column("value") == filters.product)
            )
        terms.append(or_(single, many))
    return terms


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''}"


def _cursor(bucket: str, due: datetime | None, case_id: int) -> str:
    if bucket == "due" and due is not None:
        return f"{due.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}_{case_id}"
    return f"none_{case_id}"


def read_cursor(cursor: str | None) -> tuple[str, datetime | None, int | None]:
    """(bucket, due instant, case id) of a cursor `open_cases` gave; `FilterError` otherwise."""
    if not cursor:
        return "due", None, None
    head, _, tail = cursor.partition("_")
    try:
        case_id = int(tail)
        if head == "none":
            return "none", None, case_id
        due = datetime.strptime(head, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise FilterError("after", "is not a cursor this list gave") from None
    return "due", due, case_id
