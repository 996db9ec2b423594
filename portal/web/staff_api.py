"""The staff JSON API, `/api/v1/staff`: list open cases, act on a case, exports, calendar feed.

Every call carries a staff API token (`Authorization: Bearer <token>`, from `portal staff
token EMAIL`); a missing, unknown or disabled token answers 401, and a viewer's token 403 on
what only handlers may do. Session cookies are not accepted here, so a cross-site page can
never act through a signed-in browser; that is why this blueprint needs no CSRF token. Errors
follow the public API: `{"errors": [{"field", "message"}]}`; a transition that is not allowed
answers 409, a bad field 422.

The calendar feed also takes the token as `?token=`, because calendar programs subscribe to
a URL and cannot send headers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request, url_for
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.cases import accounts, actions, calendar, dashboard, exports, schemas, services
from portal.cases.models import AuditEvent, Case
from portal.cases.wording import utc_iso
from portal.web.context import (
    get_catalog,
    get_signer,
    new_session,
    site_url,
    utcnow,
    wake_mailer,
)

log = logging.getLogger(__name__)

bp = Blueprint("staff_api", __name__, url_prefix="/api/v1/staff")
F = TypeVar("F", bound=Callable[..., Any])


class StaffApiError(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]], headers: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors
        self.headers = headers or {}


def _whole(message: str) -> dict[str, Any]:
    return {"field": None, "message": message}


def requires(role: str, *, token_in_query: bool = False) -> Callable[[F], F]:
    """Run the view only for an active account holding `role` (401 without one, 403 below)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _bearer_token()
            if token is None and token_in_query:
                token = request.args.get("token") or None
            with new_session() as session:
                user = accounts.user_for_token(session, token)
                if user is None:
                    raise StaffApiError(
                        401,
                        [_whole("Sign in with a staff API token: Authorization: Bearer <token>.")],
                        {"WWW-Authenticate": 'Bearer realm="staff"'},
                    )
                if not user.may(role):
                    raise StaffApiError(
                        403, [_whole(f"Your role ({user.role}) may not do this; it needs {role}.")]
                    )
                g.staff_email = user.email
                g.staff_role = user.role
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


@bp.get("/cases")
@requires("viewer")
def list_cases() -> Response:
    """Open cases in dashboard order with their deadlines; `?after=` gives the next page."""
    filters, after, limit = _list_arguments()
    now = utcnow()
    with new_session() as session:
        page = dashboard.open_cases(session, filters, after=after, limit=limit, now=utcnow())
        body = {
            "cases": [dashboard.case_summary(case, now=now) for case in page.cases],
            "next": page.next_cursor,
            "next_url": (
                url_for(
                    "staff_api.list_cases", after=page.next_cursor, limit=limit, **filters.as_args()
                )
                if page.next_cursor
                else None
            ),
        }
        session.rollback()
    return _json(body)


@bp.get("/cases/<reference>")
@requires("viewer")
def show_case(reference: str) -> Response:
    """One case, whatever its status: what was submitted, deadlines, messages, audit trail."""
    with new_session() as session:
        case = _case(session, reference)
        body = staff_case_view(session, case, now=utcnow())
        session.rollback()
    return _json(body)


@bp.post("/cases/<reference>/actions")
@requires("handler")
def act(reference: str) -> Response:
    """Carry out `{"action": ..., fields}` on the case; answers the case as it now is."""
    payload = _json_body()
    with new_session() as session:
        case = _case(session, reference)
        try:
            actions.act(
                session,
                get_catalog(),
                case,
                payload,
                actor=g.staff_email,
                now=utcnow(),
                site_url=site_url(),
            )
        except actions.ActionError as err:
            raise StaffApiError(err.status, err.errors) from None
        body = staff_case_view(session, case, now=utcnow())
    wake_mailer()
    return _json(body)


@bp.post("/incidents")
@requires("handler")
def open_incident() -> tuple[Response, int, dict[str, str]]:
    """Open an incident the team learnt of itself (monitoring, the media, an authority...):
    the public notice's fields, with `aware_at` our awareness and `source` how we learnt."""
    payload = _json_body()
    now = utcnow()
    with new_session() as session:
        try:
            receipt = file_staff_incident(session, payload, actor=g.staff_email, now=now)
        except ValidationError as exc:
            raise StaffApiError(422, schemas.errors_of(exc)) from None
        body = staff_case_view(session, receipt.case, now=now)
    body["access_token"] = receipt.access_token  # for a customer involved, if any: shown once
    wake_mailer()
    location = url_for("staff_api.show_case", reference=receipt.reference, _external=True)
    return _json(body), 201, {"Location": location}


def file_staff_incident(
    session: Session, payload: Any, *, actor: str, now: datetime
) -> services.Receipt:
    """Validate and store an incident staff open (the API and the page); `ValidationError`
    names the bad fields."""
    catalog = get_catalog()
    data = schemas.StaffIncidentSubmission.model_validate(
        payload, context={"catalog": catalog, "now": now}
    )
    return services.open_incident(
        session,
        catalog,
        data,
        actor=actor,
        now=now,
        site_url=site_url(),
        signer=get_signer(),
    )


@bp.get("/calendar.ics")
@requires("viewer", token_in_query=True)
def calendar_feed() -> Response:
    """Open deadlines as an iCalendar feed."""
    with new_session() as session:
        text = calendar.deadlines_ics(
            session,
            now=utcnow(),
            timezone=get_catalog().policy.timezone,
            base_url=request.host_url,
            domain=request.host.split(":")[0] or "aiact-portal",
        )
        session.rollback()
    response = Response(text, mimetype="text/calendar")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = 'inline; filename="deadlines.ics"'
    return response


@bp.get("/exports/cases.csv")
@requires("viewer")
def export_csv() -> Response:
    """Cases matching the filters (closed ones too) as CSV."""
    filters = _filters()
    with new_session() as session:
        policy = get_catalog().policy
        text = exports.cases_csv(
            dashboard.all_cases(session, filters),
            now=utcnow(),
            timezone=policy.timezone,
            policy=policy,
        )
        session.rollback()
    return download(text, "text/csv; charset=utf-8", "cases.csv")


@bp.get("/exports/cases.json")
@requires("viewer")
def export_json() -> Response:
    """Cases matching the filters (closed ones too) as JSON, with what was submitted."""
    filters = _filters()
    with new_session() as session:
        query = dashboard.all_cases(session, filters)
        text = exports.cases_json(query, now=utcnow(), policy=get_catalog().policy)
        session.rollback()
    return download(text, "application/json", "cases.json")


@bp.get("/cases/<reference>/report.<fmt>")
@requires("viewer")
def report(reference: str, fmt: str) -> Response:
    """The draft authority report of an incident, as Markdown (`report.md`) or JSON."""
    if fmt not in ("md", "json"):
        raise StaffApiError(404, [_whole("Reports come as report.md or report.json.")])
    catalog = get_catalog()
    with new_session() as session:
        case = _case(session, reference)
        if case.kind != "incident":
            raise StaffApiError(409, [_whole("Only an incident has an authority report.")])
        draft = exports.report_draft(case, catalog, now=utcnow())
        session.rollback()
    if fmt == "json":
        return _json(draft)
    text = exports.report_markdown(draft, timezone=catalog.policy.timezone)
    return download(text, "text/markdown; charset=utf-8", f"{reference}-report.md")


def staff_case_view(session: Session, case: Case, *, now: Any) -> dict[str, Any]:
    """A case for the legal team: the summary, what was submitted, messages and audit trail."""
    body = dashboard.case_summary(case, now=now)
    body["submitted"] = case.submission
    body["duplicates"] = actions.duplicates_of(session, case)
    body["messages"] = [
        {"author": m.author, "body": m.body, "sent_at": utc_iso(m.created_at)}
        for m in case.messages
    ]
    body["audit"] = [
        {
            "seq": event.seq,
            "at": utc_iso(event.at),
            "actor": event.actor,
            "action": event.action,
            "changes": event.changes,
        }
        for event in case_events(session, case)
    ]
    return body


def case_events(session: Session, case: Case) -> list[AuditEvent]:
    """The audit events of a case, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.case_reference == case.reference)
            .order_by(AuditEvent.seq)
        )
    )


def _case(session: Session, reference: str) -> Case:
    case = session.scalar(
        select(Case)
        .where(Case.reference == reference.strip().upper()[:20])
        .options(selectinload(Case.deadlines), selectinload(Case.messages))
    )
    if case is None:
        raise StaffApiError(404, [_whole(f"No case has the reference {reference[:20]}.")])
    return case


def _list_arguments() -> tuple[dashboard.Filters, str | None, int]:
    filters = _filters()
    raw = request.args.get("limit", str(dashboard.PAGE_SIZE))
    try:
        limit = int(raw)
    except ValueError:
        raise StaffApiError(
            422, [{"field": "limit", "message": "must be a whole number"}]
        ) from None
    if not 1 <= limit <= dashboard.MAX_PAGE_SIZE:
        raise StaffApiError(
            422,
            [{"field": "limit", "message": f"must be between 1 and {dashboard.MAX_PAGE_SIZE}"}],
        )
    after = request.args.get("after") or None
    try:
        if after:
            dashboard.read_cursor(after)
    except dashboard.FilterError as err:
        raise StaffApiError(422, [{"field": err.field, "message": err.message}]) from None
    return filters, after, limit


def _filters() -> dashboard.Filters:
    try:
        return dashboard.Filters.read(request.args)
    except dashboard.FilterError as err:
        raise StaffApiError(422, [{"field": err.field, "message": err.message}]) from None


def _json_body() -> Any:
    if request.mimetype != "application/json":
        raise StaffApiError(
            415, [_whole("Send the body as JSON, with Content-Type: application/json.")]
        )
    try:
        return json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):
        raise StaffApiError(400, [_whole("The body is not well-formed JSON.")]) from None


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _json(body: Any) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def download(text: str, mimetype: str, filename: str) -> Response:
    """An export as an attachment, never cached (the pages and the API share it)."""
    response = Response(text, mimetype=mimetype.split(";")[0])
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(StaffApiError)
def _error(err: StaffApiError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(errors=err.errors), err.status, err.headers
