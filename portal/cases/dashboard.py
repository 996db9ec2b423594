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

from sqlalchemy import (
    Index,
    Text,
    and_,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import ScalarResult
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from portal.cases.models import KINDS, STATUSES, Case, Deadline, Message
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
    assignee: str | None = None  # a staff member's e-mail ("mine" on the pages)
    q: str | None = None  # words of a reference, organisation, product or description

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
        for name in ("assignee", "q"):
            if len(values[name] or "") > 200:
                raise FilterError(name, "is too long")
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
    now: datetime | None = None,
) -> Page:
    """Open cases in dashboard order, `limit` at a time, after the cursor `after`.

    First the cases a person must look at (`needs_person`: not yet acknowledged, a customer
    message unread or sent after we had finished, a deadline passed), then the others; in
    each tier, by next deadline, then those without a running deadline, newest first.
    """
    filters = filters or Filters()
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    tier, bucket, due, last_id = read_cursor(after)
    urgent = needs_person(now or datetime.now(UTC))
    base: list[Any] = [text(_NOT_CLOSED), *_filter_terms(session, filters)]
    found: list[Case] = []
    for name, condition in ((TIERS[0], urgent), (TIERS[1], ~urgent)):
        if TIERS.index(name) < TIERS.index(tier):
            continue
        if name != tier:
            bucket, due, last_id = "due", None, None
        conditions = [*base, condition]
        if bucket == "due":
            query = select(Case).where(*conditions, Case.next_due_at.is_not(None))
            if due is not None and last_id is not None:
                query = query.where(
                    or_(
                        Case.next_due_at > due,
                        and_(Case.next_due_at == due, Case.id > last_id),
                    )
                )
            room = limit - len(found)
            ordered = query.order_by(Case.next_due_at, Case.id)
            dated = list(session.scalars(_loaded(ordered, room)))
            if len(dated) > room:
                found += dated[:room]
                return Page(found, _cursor(name, "due", found[-1].next_due_at, found[-1].id))
            found += dated
            last_id = None
        query = select(Case).where(*conditions, Case.next_due_at.is_(None))
        if bucket == "none" and last_id:
            query = query.where(Case.id < last_id)
        room = limit - len(found)
        rest = list(session.scalars(_loaded(query.order_by(Case.id.desc()), room)))
        if len(rest) > room:
            found += rest[:room]
            # Id 0 starts the undated cases from their newest: the page ended on a dated case.
            return Page(found, _cursor(name, "none", None, rest[room - 1].id if room else 0))
        found += rest
    return Page(found, None)


def _loaded(query: Any, room: int) -> Any:
    return query.limit(room + 1).options(selectinload(Case.deadlines), selectinload(Case.messages))


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
        "unread_messages": unread_messages(case),
        "badges": badges(case, now),
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
    if filters.assignee:
        terms.append(Case.assigned_to == filters.assignee)
    if filters.q:
        terms.append(_search(session, filters.q))
    return terms


def _search(session: Session, words: str) -> ColumnElement[bool]:
    """Cases with every word in the reference, the organisation, a product id, the
    description or the questions, case-blind. What submitters wrote is sealed at rest
    (`sealed.py`), so no query can read it: the submissions are opened and matched here, one
    pass over the cases, which is quick at a provider's volumes (thousands of cases)."""
    wanted = words.lower().split()[:10]
    found: list[int] = []
    rows = session.execute(
        select(Case.id, Case.reference, Case.submission).execution_options(yield_per=500)
    )
    for case_id, reference, submission in rows:
        data = submission or {}
        person = data.get("reporter") or data.get("requester") or {}
        haystack = " ".join(
            str(part)
            for part in (
                reference,
                data.get("product"),
                " ".join(data.get("products") or []),
                person.get("organisation") if isinstance(person, dict) else None,
                data.get("description"),
                data.get("questions"),
            )
            if part
        ).lower()
        if all(word in haystack for word in wanted):
            found.append(case_id)
    return Case.id.in_(found) if found else false()


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''}"


def needs_person(now: datetime) -> ColumnElement[bool]:
    """Open cases someone must look at now, whatever their next deadline."""
    unread = exists(
        select(Message.id).where(
            Message.case_id == Case.id, Message.author == "submitter", Message.read_at.is_(None)
        )
    )
    return or_(
        Case.status == "received",
        Case.needs_attention.is_(True),
        # Never NULL, so that the other tier (its negation) keeps cases without a deadline.
        and_(Case.next_due_at.is_not(None), Case.next_due_at < now),
        unread,
    )


def unread_messages(case: Case) -> int:
    """The submitter's messages no one of the team has opened yet."""
    return sum(1 for m in case.messages if m.author == "submitter" and m.read_at is None)


def badges(case: Case, now: datetime) -> list[str]:
    """Why a case is at the top of the list, in words."""
    found = []
    if case.status == "received":
        found.append("Not acknowledged")
    if case.needs_attention:
        found.append("Needs attention")
    unread = unread_messages(case)
    if unread:
        found.append(f"{unread} unread message{'s' if unread != 1 else ''}")
    if case.next_due_at is not None and case.next_due_at < now:
        found.append("Overdue")
    return found


TIERS = ("attention", "rest")


def _cursor(tier: str, bucket: str, due: datetime | None, case_id: int) -> str:
    when = due.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ") if due is not None else "-"
    return f"{tier}_{bucket}_{when}_{case_id}"


def read_cursor(cursor: str | None) -> tuple[str, str, datetime | None, int | None]:
    """(tier, bucket, due instant, case id) of a cursor `open_cases` gave; `FilterError`
    otherwise."""
    if not cursor:
        return TIERS[0], "due", None, None
    try:
        tier, bucket, when, case_id = cursor.split("_")
        if tier not in TIERS or bucket not in ("due", "none"):
            raise ValueError(cursor)
        due = (
            None
            if when == "-"
            else datetime.strptime(when + "+0000", "%Y%m%dT%H%M%S.%fZ%z").astimezone(UTC)
        )
        return tier, bucket, due, int(case_id)
    except ValueError:
        raise FilterError("after", "is not a cursor this list gave") from None
