"""The legal team's workspace, `/staff/`: sign in, the dashboard, a case page, actions, accounts.

Sessions are Flask-Login's, in Flask's signed cookie, marked Secure, HttpOnly and
SameSite=Lax (Secure unless the request came over plain HTTP to this machine's loopback
address: see `portal.web.cookies`). The
session identifier includes the account's `session_version`, so disabling an account ends its
sessions at once. Sign-in is rate-limited per address (`STAFF_LOGIN_RATE_LIMIT`) and every
form carries a CSRF token (the app's `CSRFProtect`). Viewers read; handlers act; admins also
manage accounts. Pages that need a sign-in redirect to the sign-in page; a role that may not
act gets 403.

`init_app` registers this blueprint and the staff API on the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    session as cookie_session,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.cases import accounts, actions, dashboard, exports, schemas
from portal.cases.models import Case, Message
from portal.cases.retention import case_kept_until
from portal.cases.views import deadline_view
from portal.cases.wording import AWARENESS_SOURCES, local_moment, staff_deadline_title
from portal.catalog.models import INCIDENT_CATEGORIES
from portal.web import cookies, staff_api
from portal.web.context import (
    get_catalog,
    new_session,
    site_url,
    utcnow,
    wake_mailer,
)
from portal.web.extensions import csrf, limiter
from portal.web.public import FORMS

log = logging.getLogger(__name__)

bp = Blueprint(
    "staff",
    __name__,
    url_prefix="/staff",
    static_folder="staff_static",
    static_url_path="/static",
)
login_manager = LoginManager()
login_manager.login_view = "staff.login"
login_manager.login_message = "Please sign in to open the staff workspace."
login_manager.login_message_category = "info"
F = TypeVar("F", bound=Callable[..., Any])

REPORT_KINDS = ("initial", "intermediate", "final")
KIND_TITLES = {"incident": "Serious incident", "information-request": "Request for information"}
STATUS_TEXTS = {
    "received": "new, not yet acknowledged",
    "in-progress": "in progress",
    "clarification-requested": "waiting for the requester's clarification (clock stopped)",
    "answered": "answered",
    "resolved": "resolved (the final report may still be due)",
    "closed": "closed",
}
_DATETIME_FIELDS = {
    "extend": "due_at",
    "record-report": "submitted_at",
    "resolve": "resolved_at",
    "set-awareness": "aware_at",
}
_LIST_FIELDS = {"set-categories": "categories"}
_TEXT_FIELDS = {
    "request-clarification": ("message",),
    "extend": ("reason",),
    "answer": ("body",),
    "record-report": ("report", "authority"),
    "close": ("reason",),
    "note": ("note",),
    "set-categories": ("reason",),
    "message": ("body",),
    "mark-duplicate": ("of",),
    "reopen": ("reason",),
    "assign": ("to",),
    "set-awareness": ("source", "reason"),
}


class StaffIdentity(UserMixin):  # type: ignore[misc]
    """The signed-in account, detached from any database session."""

    def __init__(self, user: accounts.StaffUser) -> None:
        self.user_id = user.id
        self.email = user.email
        self.role = user.role
        self.version = user.session_version
        self.active = user.active

    def get_id(self) -> str:
        return f"{self.user_id}:{self.version}"

    @property
    def is_active(self) -> bool:
        return self.active

    def may(self, role: str) -> bool:
        return self.active and accounts.ROLES.index(self.role) >= accounts.ROLES.index(role)


def init_app(app: Flask) -> None:
    """Register the staff pages and the staff API, and the sign-in machinery."""
    app.config.setdefault("STAFF_LOGIN_RATE_LIMIT", "10 per minute")
    app.config.setdefault("COOKIE_SECURE", "auto")
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=8))
    app.session_interface = cookies.SessionInterface()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    # Flask-Login's remember cookie is not used by the sign-in form; keep it strict anyway.
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["COOKIE_SECURE"] is not False
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    login_manager.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(staff_api.bp)
    csrf.exempt(staff_api.bp)


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load_user(identifier: str) -> StaffIdentity | None:
    user_id, _, version = identifier.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    with new_session() as session:
        user = session.get(accounts.StaffUser, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return StaffIdentity(user)


def requires(role: str) -> Callable[[F], F]:
    """Sign-in first (redirect to the sign-in page), then `role` or higher (403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.may(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _login_limit() -> str:
    return str(current_app.config["STAFF_LOGIN_RATE_LIMIT"])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    """The sign-in form; success leads to the page asked for, or the dashboard."""
    error = ""
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "")[:254]
        password = request.form.get("password", "")
        with new_session() as session:
            user = accounts.authenticate(session, email, password)
            identity = StaffIdentity(user) if user is not None else None
        if identity is None:
            log.info("Staff sign-in refused")
            error = "The email address or the password is not right."
            status = 401
        else:
            cookie_session.clear()
            login_user(identity)
            cookie_session.permanent = True
            log.info("Staff account %s signed in", identity.user_id)
            return redirect(_safe_next(request.args.get("next")))
    return _page(render_template("staff/login.html", error=error), status)


@bp.post("/logout")
def logout() -> Any:
    """Sign out and forget the session."""
    logout_user()
    cookie_session.clear()
    return redirect(url_for("staff.login"))


@bp.get("/")
@requires("viewer")
def dashboard_page() -> Any:
    """Open cases by next open deadline, overdue first, with filters and pages."""
    catalog = get_catalog()
    zone = catalog.policy.timezone
    now = utcnow()
    try:
        args = request.args.to_dict()
        if args.pop("mine", None):
            args["assignee"] = current_user.email
        filters = dashboard.Filters.read(args)
        after = request.args.get("after") or None
        if after:
            dashboard.read_cursor(after)
    except dashboard.FilterError as err:
        flash(f"{err.field}: {err.message}", "error")
        filters, after = dashboard.Filters(), None
    with new_session() as session:
        page = dashboard.open_cases(session, filters, after=after, now=now)
        rows = [_row(case, now, zone) for case in page.cases]
        session.rollback()
    next_url = (
        url_for("staff.dashboard_page", after=page.next_cursor, **filters.as_args())
        if page.next_cursor
        else None
    )
    return _page(
        render_template(
            "staff/dashboard.html",
            rows=rows,
            filters=filters,
            next_url=next_url,
            first_url=url_for("staff.dashboard_page", **filters.as_args()) if after else None,
            kinds=KIND_TITLES,
            statuses=STATUS_TEXTS,
            products=[(p.id, p.name) for p in catalog.products.values()],
            categories=_category_choices(),
            timezone=zone,
            now_local=local_moment(now, zone),
            export_args=filters.as_args(),
            mine=bool(request.args.get("mine")),
        ),
        200,
    )


@bp.route("/incidents/new", methods=["GET", "POST"])
@requires("handler")
def new_incident() -> Any:
    """Open an incident the team learnt of itself, with the same clocks as a notice."""
    catalog = get_catalog()
    zone = catalog.policy.timezone
    errors: list[dict[str, Any]] = []
    if request.method == "POST":
        payload, errors = _staff_incident_payload(request.form, ZoneInfo(zone))
        if not errors:
            try:
                with new_session() as session:
                    receipt = staff_api.file_staff_incident(
                        session, payload, actor=current_user.email, now=utcnow()
                    )
            except ValidationError as exc:
                errors = schemas.errors_of(exc)
            else:
                wake_mailer()
                flash(f"Incident {receipt.reference} opened.", "success")
                return redirect(url_for("staff.case_page", reference=receipt.reference))
    html = render_template(
        "staff/new_incident.html",
        products=[(p.id, p.name) for p in catalog.products.values()],
        categories=_category_choices(),
        sources=AWARENESS_SOURCES,
        timezone=zone,
        form=request.form,
        errors=errors,
    )
    return _page(html, 422 if errors else 200)


def _staff_incident_payload(
    form: Any, zone: ZoneInfo
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The staff incident form as the API's JSON; the date and number problems, if any."""
    payload: dict[str, Any] = {
        "categories": form.getlist("categories"),
        "source": form.get("source", ""),
    }
    for name in ("product", "product_version", "description", "harm", "measures_taken"):
        if form.get(name, "").strip():
            payload[name] = form.get(name)
    errors: list[dict[str, Any]] = []
    try:
        payload["aware_at"] = local_instant(form.get("aware_at", ""), zone).isoformat()
    except ValueError:
        errors.append({"field": "aware_at", "message": "enter a date and a time"})
    count = form.get("affected_persons", "").strip()
    if count:
        if count.isdigit():
            payload["affected_persons"] = int(count)
        else:
            errors.append({"field": "affected_persons", "message": "enter a whole number"})
    states = [s.strip().upper() for s in form.get("member_states", "").split(",") if s.strip()]
    if states:
        payload["member_states"] = states
    reporter = {
        key: form.get(f"reporter.{key}", "").strip()
        for key in ("organisation", "name", "email")
        if form.get(f"reporter.{key}", "").strip()
    }
    if reporter:
        payload["reporter"] = reporter
    return payload, errors


@bp.get("/cases/<reference>")
@requires("viewer")
def case_page(reference: str) -> Any:
    """Everything about one case, and the forms of the actions its status allows."""
    return _case_page(reference, errors=None, status=200)


@bp.post("/cases/<reference>/actions")
@requires("handler")
def act(reference: str) -> Any:
    """Carry out the action posted from the case page."""
    catalog = get_catalog()
    zone = ZoneInfo(catalog.policy.timezone)
    name = request.form.get("action", "")
    payload: dict[str, Any] = {"action": name}
    for field in _TEXT_FIELDS.get(name, ()):
        payload[field] = request.form.get(field, "")
    if name == "reopen":
        payload["restart_clock"] = request.form.get("restart_clock") == "yes"
    if name in _LIST_FIELDS:
        payload[_LIST_FIELDS[name]] = request.form.getlist(_LIST_FIELDS[name])
    bad_dates = []
    if name in _DATETIME_FIELDS:
        field = _DATETIME_FIELDS[name]
        raw = request.form.get(field, "")
        try:
            payload[field] = local_instant(raw, zone).isoformat()
        except ValueError:
            bad_dates.append({"field": field, "message": "enter a date and a time"})
    if bad_dates:
        return _case_page(reference, errors=bad_dates, status=422, action=name)
    with new_session() as session:
        case = _get_case(session, reference)
        try:
            actions.act(
                session,
                catalog,
                case,
                payload,
                actor=current_user.email,
                now=utcnow(),
                site_url=site_url(),
            )
        except actions.ActionError as err:
            session.rollback()
            return _case_page(reference, errors=err.errors, status=err.status, action=name)
    wake_mailer()
    flash(_DONE.get(name, "Done."), "success")
    return redirect(url_for("staff.case_page", reference=case.reference))


@bp.get("/exports/cases.<fmt>")
@requires("viewer")
def export_cases(fmt: str) -> Any:
    """The dashboard's filters applied to every case, closed ones too, as CSV or JSON."""
    if fmt not in ("csv", "json"):
        abort(404)
    try:
        filters = dashboard.Filters.read(request.args)
    except dashboard.FilterError:
        abort(400)
    now = utcnow()
    with new_session() as session:
        cases = dashboard.all_cases(session, filters)
        policy = get_catalog().policy
        if fmt == "csv":
            text = exports.cases_csv(cases, now=now, timezone=policy.timezone, policy=policy)
            mimetype = "text/csv; charset=utf-8"
        else:
            text = exports.cases_json(cases, now=now, policy=policy)
            mimetype = "application/json"
        session.rollback()
    return staff_api.download(text, mimetype, f"cases.{fmt}")


@bp.get("/cases/<reference>/report.<fmt>")
@requires("viewer")
def report(reference: str, fmt: str) -> Any:
    """The draft authority report of an incident, as Markdown or JSON."""
    if fmt not in ("md", "json"):
        abort(404)
    catalog = get_catalog()
    with new_session() as session:
        case = _get_case(session, reference)
        if case.kind != "incident":
            abort(404)
        draft = exports.report_draft(case, catalog, now=utcnow())
        session.rollback()
    if fmt == "json":
        import json

        return staff_api.download(
            json.dumps(draft, ensure_ascii=False, indent=2) + "\n",
            "application/json",
            f"{reference}-report.json",
        )
    text = exports.report_markdown(draft, timezone=catalog.policy.timezone)
    return staff_api.download(text, "text/markdown; charset=utf-8", f"{reference}-report.md")


@bp.route("/accounts", methods=["GET", "POST"])
@requires("admin")
def accounts_page() -> Any:
    """Admins list, add and disable staff accounts (the `portal staff` commands do the same)."""
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        operation = request.form.get("operation")
        email = request.form.get("email", "")
        with new_session() as session:
            try:
                if operation == "add":
                    accounts.add_user(
                        session,
                        email,
                        request.form.get("role", ""),
                        request.form.get("password", ""),
                        actor=current_user.email,
                        now=utcnow(),
                    )
                    flash(f"Account added for {email.strip()}.", "success")
                elif operation == "disable":
                    accounts.disable_user(session, email, actor=current_user.email, now=utcnow())
                    flash(f"Account of {email.strip()} disabled.", "success")
                else:
                    abort(400)
            except accounts.AccountError as err:
                session.rollback()
                errors.append(str(err).capitalize() + ".")
                status = 422
            else:
                return redirect(url_for("staff.accounts_page"))
    zone = get_catalog().policy.timezone
    with new_session() as session:
        users = [
            {
                "email": u.email,
                "role": u.role,
                "active": u.active,
                "created": local_moment(u.created_at, zone),
            }
            for u in accounts.list_users(session)
        ]
    return _page(
        render_template("staff/accounts.html", users=users, roles=accounts.ROLES, errors=errors),
        status,
    )


_DONE = {
    "acknowledge": "Acknowledged: the case is in progress.",
    "request-clarification": "Clarification requested: the response clock is stopped.",
    "extend": "Deadline extended; the requester sees the new date and the reason.",
    "answer": "Answer sent: the request is answered.",
    "record-report": "Report recorded.",
    "resolve": "Incident resolved: the final report is now due.",
    "close": "Case closed.",
    "note": "Note added (for the team only).",
    "set-categories": "Categories set; the report deadline follows them.",
    "message": "Message sent to the submitter.",
    "mark-duplicate": "Marked as a duplicate and closed; its deadlines stopped.",
    "reopen": "Reopened: the request is in progress.",
    "assign": "Assignee set.",
    "set-awareness": "Awareness recorded; the report deadline runs from it.",
}


def _case_page(
    reference: str, *, errors: list[dict[str, Any]] | None, status: int, action: str = ""
) -> Response:
    catalog = get_catalog()
    zone = catalog.policy.timezone
    now = utcnow()
    with new_session() as session:
        case = _get_case(session, reference)
        events = staff_api.case_events(session, case)
        deadlines = []
        for deadline in case.deadlines:
            view = deadline_view(deadline)
            if deadline.basis:  # the earliest of several clocks: say which one
                view["explanation"] = [f"Set by {deadline.basis}.", *view["explanation"]]
            running = deadline.met_at is None and not deadline.paused
            deadlines.append(
                {
                    **view,
                    "title": staff_deadline_title(deadline.name),
                    "due_local": local_moment(deadline.due_at, zone),
                    "trigger_local": local_moment(deadline.trigger_at, zone),
                    "met_local": local_moment(deadline.met_at, zone) if deadline.met_at else "",
                    "time_left": dashboard.time_left(deadline.due_at, now) if running else "",
                    "overdue": running and deadline.due_at < now,
                }
            )
        html = render_template(
            "staff/case.html",
            case=case,
            kind_title=KIND_TITLES.get(case.kind, case.kind),
            status_text=STATUS_TEXTS.get(case.status, case.status),
            received_local=local_moment(case.received_at, zone),
            categories=", ".join(dashboard.categories_of(case)),
            aware_local=local_moment(case.provider_aware_at, zone)
            if case.provider_aware_at
            else "",
            awareness_source=AWARENESS_SOURCES.get(case.awareness_source or "", ""),
            kept_until=case_kept_until(case, catalog.policy, session),
            duplicates=actions.duplicates_of(session, case),
            submitted=_flatten(case.submission),
            deadlines=deadlines,
            messages=[
                {
                    "author": "Submitter" if m.author == "submitter" else "Legal team",
                    "local": local_moment(m.created_at, zone),
                    "body": m.body,
                }
                for m in case.messages
            ],
            events=[
                {
                    "seq": e.seq,
                    "local": local_moment(e.at, zone),
                    "actor": e.actor,
                    "action": e.action,
                    "changes": _flatten(e.changes),
                }
                for e in events
            ],
            allowed=_allowed(case),
            may_act=current_user.may("handler"),
            errors=errors or [],
            failed_action=action,
            report_kinds=REPORT_KINDS,
            category_choices=_category_choices(),
            case_categories=dashboard.categories_of(case),
            awareness_sources=AWARENESS_SOURCES,
            timezone=zone,
            form=request.form if errors else {},
            staff_emails=_active_staff(session),
        )
        session.rollback()
        # Whoever of the team opens the page has seen the submitter's messages.
        unread = [m.id for m in case.messages if m.author == "submitter" and m.read_at is None]
        if unread:
            session.execute(update(Message).where(Message.id.in_(unread)).values(read_at=now))
            session.commit()
    return _page(html, status)


def _active_staff(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(accounts.StaffUser.email)
            .where(accounts.StaffUser.active.is_(True))
            .order_by(accounts.StaffUser.email)
        )
    )


def _allowed(case: Case) -> list[str]:
    return [
        name
        for name, rule in actions.RULES.items()
        if case.kind in rule.kinds and case.status in rule.statuses
    ]


def _get_case(session: Session, reference: str) -> Case:
    case = actions.find_case_for_staff(session, reference)
    if case is None:
        abort(404)
    return case


def _row(case: Case, now: datetime, zone: str) -> dict[str, Any]:
    upcoming = dashboard.next_deadline(case)
    return {
        "reference": case.reference,
        "attention": case.needs_attention,
        "badges": dashboard.badges(case, now),
        "assignee": case.assigned_to or "",
        "kind": KIND_TITLES.get(case.kind, case.kind),
        "status": case.status,
        "products": ", ".join(dashboard.products_of(case)),
        "category": ", ".join(dashboard.categories_of(case))
        or (case.submission or {}).get("topic")
        or "",
        "received": local_moment(case.received_at, zone),
        "deadline": staff_deadline_title(upcoming.name) if upcoming else "",
        "due": local_moment(upcoming.due_at, zone) if upcoming else "",
        "time_left": dashboard.time_left(upcoming.due_at, now)
        if upcoming
        else "No running deadline",
        "overdue": bool(upcoming and upcoming.due_at < now),
    }


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested JSON as (dotted key, text) rows, for definition lists."""
    rows: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            rows += _flatten(item, f"{prefix}{key}.")
    elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
        for index, item in enumerate(value, start=1):
            rows += _flatten(item, f"{prefix}{index}.")
    else:
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        rows.append((prefix.rstrip("."), text))
    return rows


def local_instant(text: str, zone: ZoneInfo) -> datetime:
    """A `datetime-local` value (`2026-03-14T09:30`) read on the clock of `zone`.

    A time skipped when clocks go forward moves forward by the gap; a repeated one takes the
    earlier instant: the deadline engine's rule.
    """
    naive = datetime.fromisoformat(text.strip())
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def _safe_next(target: str | None) -> str:
    """Only a path of this workspace: never another site (an open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/staff"):
            return target
    return url_for("staff.dashboard_page")


def _page(html: str, status: int) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _category_choices() -> dict[str, str]:
    """Incident categories with the words the public form uses for them."""
    definition = current_app.extensions[FORMS].get("incident")
    item = definition.field("categories") if definition is not None else None
    words = (item.choices if item is not None else None) or {}
    return {category: words.get(category, category) for category in INCIDENT_CATEGORIES}
