"""The public HTML forms: report a serious incident, request information, follow a case.

Each form is built from its definition in `forms/` and judged by the same pydantic schema as
the JSON API, through the same services, so a person using the site and a program using the
API get the same rules, references and deadlines. The access token is shown once, on the
receipt, and travels only in POST bodies afterwards: never in a URL, where it would end up in
histories and logs. Pages that show it are not cached.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask.blueprints import BlueprintSetupState
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from portal.cases import schemas, services
from portal.cases.models import Case
from portal.cases.receipts import receipt_filename
from portal.cases.wording import local_moment
from portal.catalog import Catalog
from portal.web.context import (
    CATALOG,
    get_catalog,
    get_signer,
    new_session,
    read_session,
    site_url,
    utcnow,
    wake_mailer,
)
from portal.web.display import (
    KIND_TITLES,
    STATUS_TEXTS,
    deadline_items,
    message_items,
    submitted_rows,
)
from portal.web.display import instant as _instant
from portal.web.extensions import limiter
from portal.web.forms import (
    FieldDefinition,
    FormDefinition,
    bound_field,
    build_form,
    choices_for,
    errors_by_field,
    load_definitions,
    read_submission,
    timezone_choices,
)

log = logging.getLogger(__name__)

bp = Blueprint("public", __name__)

# The status page's own fields: not a case kind, so not in `forms/`.
LOOKUP_FIELDS = (
    FieldDefinition(
        name="reference",
        widget="text",
        label="Reference",
        required=True,
        help="From your receipt, such as INC-2026-000042.",
    ),
    FieldDefinition(
        name="access_token",
        widget="text",
        label="Access code",
        required=True,
        help="The long code shown once on your receipt.",
    ),
    FieldDefinition(
        name="timezone",
        widget="timezone",
        label="Your time zone",
        help="We show dates and times in this time zone.",
    ),
)
MESSAGE_FIELD = FieldDefinition(
    name="body",
    widget="textarea",
    label="Your message",
    required=True,
    help="New facts, answers to our questions, or anything else about this case.",
)
_LOOKUP_FORM = FormDefinition(
    kind="incident",
    title="Follow a case",
    submit="Show the case",
    sections=[{"title": "Case", "fields": list(LOOKUP_FIELDS)}],
)
_MESSAGE_FORM = FormDefinition(
    kind="incident",
    title="Send more information",
    submit="Send",
    sections=[{"title": "Message", "fields": [MESSAGE_FIELD]}],
)
FORMS = "portal.forms"
_NOT_FOUND = (
    "We found no case with this reference and access code. Check both against your receipt."
)
_EXPIRED = "This form expired before it was sent. Please send it again."
# Session keys: the receipt about to be shown with its code, and the references this browser
# filed (with the time zone it chose), so a reload shows their receipts without the code.
_JUST_FILED = "just_filed"
_FILED = "filed"
_FILED_KEPT = 20

Errors = list[dict[str, str | None]]


def _submission_limit() -> str:
    return str(current_app.config["SUBMISSION_RATE_LIMIT"])


# The same per-client limit as the API's submissions, on what a form posts (not on reading it).
_limited = limiter.limit(_submission_limit, methods=["POST"])


@bp.route("/report-incident", methods=["GET", "POST"])
@_limited
def report_incident() -> BaseResponse:
    """The "Report a serious incident" form; `?product=<id>` preselects the product."""
    return _intake("incident", "public.report_incident")


@bp.route("/request-information", methods=["GET", "POST"])
@_limited
def request_information() -> BaseResponse:
    """The "Request information" form; `?product=<id>` preselects the product."""
    return _intake("information-request", "public.request_information")


@bp.route("/status", methods=["GET", "POST"])
@_limited
def status() -> Response:
    """Ask for the reference and access code (POST only), then show the case."""
    catalog = get_catalog()
    # A mail's link names the reference (`?reference=`): the page then asks only for the code.
    asked = str(request.args.get("reference", ""))[:20].strip().upper()
    form = build_form(
        _LOOKUP_FORM,
        default_timezone=catalog.policy.timezone,
        formdata=request.form if request.method == "POST" else None,
        preselect={"reference": asked} if asked else None,
    )
    if request.method == "GET":
        return _page(_lookup_page(form), 200)
    if not form.validate():
        return _page(_lookup_page(form, [{"field": "", "message": _EXPIRED}]), 400)
    reference = (bound_field(form, "reference").data or "").strip().upper()
    token = (bound_field(form, "access_token").data or "").strip()
    missing: Errors = [
        {"field": item.name, "message": f"Enter the {item.label.lower()} from your receipt."}
        for item, value in ((LOOKUP_FIELDS[0], reference), (LOOKUP_FIELDS[1], token))
        if not value
    ]
    if missing:
        return _page(_lookup_page(form, missing), 422)
    zone = _zone(bound_field(form, "timezone").data, catalog)
    with new_session() as session:
        case = services.find_case(session, reference, token)
        if case is None:
            log.info("Status lookup refused")
            return _page(_lookup_page(form, [{"field": "", "message": _NOT_FOUND}]), 404)
        return _page(_status_page(case, token, zone), 200)


@bp.route("/status/messages", methods=["POST"])
@_limited
def add_message() -> Response:
    """Add a follow-up to a case; the reference and access code come with the form."""
    catalog = get_catalog()
    reference = request.form.get("reference", "").strip().upper()
    token = request.form.get("access_token", "").strip()
    zone = _zone(request.form.get("timezone"), catalog)
    form = build_form(
        _MESSAGE_FORM, default_timezone=catalog.policy.timezone, formdata=request.form
    )
    with new_session() as session:
        case = services.find_case(session, reference, token) if reference and token else None
        if case is None:
            abort(404)
        if not form.validate():
            errors: Errors = [{"field": "", "message": _EXPIRED}]
            return _page(_status_page(case, token, zone, form, errors), 400)
        data = {"body": bound_field(form, "body").data or ""}
        now = utcnow()
        try:
            valid = schemas.MessageSubmission.model_validate(
                data, context={"catalog": catalog, "now": now}
            )
        except ValidationError as exc:
            errors = schemas.errors_of(exc)
            return _page(_status_page(case, token, zone, form, errors), 422)
        services.add_message(
            session,
            case,
            valid.body,
            now=now,
            timezone=catalog.policy.timezone,
            site_url=site_url(),
            signer=get_signer(),
        )
        wake_mailer()
        log.info("Follow-up added to %s", case.reference)
        fresh = build_form(_MESSAGE_FORM, default_timezone=catalog.policy.timezone)
        notice = "Thank you: your message has been added to the case."
        return _page(_status_page(case, token, zone, fresh, notice=notice), 200)


@bp.route("/status/receipt", methods=["POST"])
@_limited
def download_receipt() -> Response:
    """The case's signed receipt as a `.json` file; the reference and access code come with
    the form, as for a message."""
    reference = request.form.get("reference", "").strip().upper()
    token = request.form.get("access_token", "").strip()
    with read_session() as session:
        case = services.find_case(session, reference, token) if reference and token else None
        if case is None or case.receipt is None:
            abort(404)
        content = json.dumps(case.receipt, indent=2) + "\n"
        session.rollback()
    name = receipt_filename(reference)
    return Response(
        content,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> Response:
    """A POST without a valid CSRF token (say, an old tab): show the form again, nothing saved."""
    log.info("Form refused without a valid CSRF token: %s", request.endpoint)
    catalog = get_catalog()
    errors: Errors = [{"field": "", "message": _EXPIRED}]
    kinds = {
        "public.report_incident": "incident",
        "public.request_information": "information-request",
    }
    kind = kinds.get(request.endpoint or "")
    if kind is not None:
        definition = _definitions()[kind]
        form = build_form(
            definition, default_timezone=catalog.policy.timezone, formdata=request.form
        )
        return _page(_form_page(definition, form, request.endpoint or "", errors), 400)
    form = build_form(_LOOKUP_FORM, default_timezone=catalog.policy.timezone)
    return _page(_lookup_page(form, errors), 400)


@bp.errorhandler(429)
def too_many(error: HTTPException) -> Response:
    """Past the per-client limit: say so plainly; the limiter adds `Retry-After`."""
    return _page(render_template("public/too_many.html"), 429)


def _intake(kind: str, endpoint: str) -> BaseResponse:
    catalog = get_catalog()
    definition = _definitions()[kind]
    policy = catalog.policy
    if request.method == "GET":
        preselect = _preselect(definition, catalog)
        form = build_form(definition, default_timezone=policy.timezone, preselect=preselect)
        return _page(_form_page(definition, form, endpoint), 200)
    form = build_form(definition, default_timezone=policy.timezone, formdata=request.form)
    if not form.validate():
        # The only validator on these forms is the CSRF token's.
        errors: Errors = [{"field": "", "message": _EXPIRED}]
        return _page(_form_page(definition, form, endpoint, errors), 400)
    submission = read_submission(definition, form, default_timezone=policy.timezone)
    now = utcnow()
    context = {"catalog": catalog, "now": now}
    valid: schemas.IncidentSubmission | schemas.InformationRequestSubmission
    try:
        if kind == "incident":
            valid = schemas.IncidentSubmission.model_validate(submission.data, context=context)
        else:
            valid = schemas.InformationRequestSubmission.model_validate(
                submission.data, context=context
            )
    except ValidationError as exc:
        unread = {error["field"] for error in submission.errors}
        errors = submission.errors + [
            error for error in schemas.errors_of(exc) if error["field"] not in unread
        ]
        log.info("%s form refused: %d problems", kind, len(errors))
        return _page(_form_page(definition, form, endpoint, errors), 422)
    if submission.errors:
        return _page(_form_page(definition, form, endpoint, submission.errors), 422)
    with new_session() as session:
        if isinstance(valid, schemas.IncidentSubmission):
            receipt = services.submit_incident(
                session, catalog, valid, now=now, site_url=site_url(), signer=get_signer()
            )
        else:
            receipt = services.submit_information_request(
                session, catalog, valid, now=now, site_url=site_url(), signer=get_signer()
            )
        # Only the reference: a form's contents never reach the log.
        log.info("%s form received: %s", kind, receipt.reference)
    wake_mailer()
    # POST/redirect/GET: reloading the receipt shows it again and files nothing. The access
    # code rides in the signed session cookie to the first showing only.
    cookie_session[_JUST_FILED] = {
        "reference": receipt.reference,
        "token": receipt.access_token,
        "zone": submission.timezone,
    }
    return redirect(url_for("public.receipt", reference=receipt.reference), 303)


@bp.get("/receipt/<reference>")
def receipt(reference: str) -> Response:
    """The receipt of a form this browser sent: the access code once, then without it."""
    just = cookie_session.pop(_JUST_FILED, None)
    filed: dict[str, str] = dict(cookie_session.get(_FILED) or {})
    token: str | None = None
    if isinstance(just, dict) and just.get("reference") == reference:
        token = str(just["token"])
        filed[reference] = str(just["zone"])
        cookie_session[_FILED] = dict(list(filed.items())[-_FILED_KEPT:])
    if reference not in filed:
        return _page(render_template("public/receipt_gone.html"), 404)
    with new_session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        if case is None:
            abort(404)
        page = _receipt_page(services.Receipt(reference, token or "", case), filed[reference])
        session.rollback()
    return _page(page, 200)


def _form_page(
    definition: FormDefinition,
    form: FlaskForm,
    endpoint: str,
    errors: Errors | None = None,
) -> str:
    summary, per_field = errors_by_field(definition, errors or [])
    return render_template(
        "public/form.html",
        definition=definition,
        form=form,
        bound=lambda name: bound_field(form, name),
        choices=_choices,
        action=_action(endpoint),
        summary=summary,
        field_errors=per_field,
    )


def _receipt_page(receipt: services.Receipt, zone: str) -> str:
    view = services.submitter_view(receipt.case, get_catalog().policy)
    kind = view["kind"]
    late = ""
    if view.get("notified_on_time") is False:
        late = (
            "Your notice reached us more than 48 hours after you became aware of the incident."
            " We have accepted it and will handle it in the same way."
        )
    return render_template(
        "public/receipt.html",
        heading="Report received" if kind == "incident" else "Request received",
        reference=receipt.reference,
        noun="report" if kind == "incident" else "request",
        access_token=receipt.access_token or None,
        signed=receipt.case.receipt is not None,
        received_local=local_moment(_instant(view["received_at"]), zone),
        late=late,
        timezone=zone,
        deadlines=deadline_items(view, zone, now=utcnow()),
    )


def _status_page(
    case: Case,
    token: str,
    zone: str,
    form: FlaskForm | None = None,
    errors: Errors | None = None,
    notice: str = "",
) -> str:
    catalog = get_catalog()
    view = services.submitter_view(case, catalog.policy)
    definition = _definitions()[view["kind"]]
    if form is None:
        form = build_form(_MESSAGE_FORM, default_timezone=catalog.policy.timezone)
    summary, per_field = errors_by_field(_MESSAGE_FORM, errors or [])
    return render_template(
        "public/status.html",
        reference=view["reference"],
        kind_title=KIND_TITLES.get(view["kind"], view["kind"]),
        status_text=STATUS_TEXTS.get(view["status"], view["status"]),
        received_local=local_moment(_instant(view["received_at"]), zone),
        timezone=zone,
        deadlines=deadline_items(view, zone, now=utcnow()),
        submitted=submitted_rows(definition, view["submitted"], catalog, zone),
        messages=message_items(view, zone),
        form=form,
        bound=lambda name: bound_field(form, name),
        body_field=MESSAGE_FIELD,
        access_token=token,
        summary=summary,
        field_errors=per_field,
        notice=notice,
    )


def _lookup_page(form: FlaskForm, errors: Errors | None = None) -> str:
    summary, per_field = errors_by_field(_LOOKUP_FORM, errors or [])
    return render_template(
        "public/status_lookup.html",
        form=form,
        fields=LOOKUP_FIELDS,
        bound=lambda name: bound_field(form, name),
        choices=_choices,
        summary=summary,
        field_errors=per_field,
    )


def _choices(item: FieldDefinition) -> list[tuple[str, str]]:
    catalog = get_catalog()
    return choices_for(item, catalog, catalog.policy.timezone)


def _preselect(definition: FormDefinition, catalog: Catalog) -> dict[str, str]:
    product = request.args.get("product", "")
    if not product or catalog.get(product) is None:
        return {}
    for item in definition.fields:
        if item.widget in ("product", "products"):
            return {item.name: product}
    return {}


def _zone(chosen: Any, catalog: Catalog) -> str:
    default = catalog.policy.timezone
    return chosen if isinstance(chosen, str) and chosen in timezone_choices() else default


def _action(endpoint: str) -> str:
    # Keep `?product=` out of the action: the choice now lives in the form itself.
    return request.path


def _page(html: str, status: int) -> Response:
    response = make_response(html, status)
    # The receipt shows the access token, and every page here shows a case or a half-filled
    # form: none of it belongs in a shared cache or the browser's back-forward cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _definitions() -> dict[str, FormDefinition]:
    definitions: dict[str, FormDefinition] = current_app.extensions[FORMS]
    return definitions


@bp.record_once
def _load_definitions(state: BlueprintSetupState) -> None:
    """Load `forms/` when the app is made: a broken definition stops start-up, as the catalog's."""
    app = state.app
    configured = app.config.get("FORMS_DIR")
    if configured:
        forms_dir = Path(configured)
    else:
        # Beside the catalog (`make run`, a deployment's data folder), else this checkout's.
        beside = Path(app.extensions[CATALOG].root).parent / "forms"
        forms_dir = beside if beside.is_dir() else Path(__file__).resolve().parents[2] / "forms"
    app.extensions[FORMS] = load_definitions(forms_dir)
