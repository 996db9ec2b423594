"""The JSON API, `/api/v1`: submit incidents and information requests, follow a case.

Every answer is JSON, errors included: `{"errors": [{"field": "reporter.email", "message":
"..."}]}`, with `field` None when the problem is the request as a whole. Bodies must be
`application/json` (415 otherwise; a cross-site HTML form cannot send that, which is why the
API needs no CSRF token), at most 1 MiB (413), and well-formed (400). A case is read with its
access token as a bearer token; an unknown reference and a wrong token answer the same 404.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.urls import iri_to_uri

from portal.cases import schemas, services
from portal.cases.models import Case
from portal.cases.writer_service import WriterUnavailable
from portal.web import limiter
from portal.web.context import (
    get_catalog,
    new_session,
    preparing,
    read_session,
    submit,
    utcnow,
    wake_mailer,
)

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
NOT_FOUND = "No case has this reference and access token."
UNAVAILABLE = "Your submission may not have been recorded. Please send it again in a moment."


def _submission_limit() -> str:
    return str(current_app.config["SUBMISSION_RATE_LIMIT"])


# Every POST of the API (the two submissions and follow-up messages) counts against one
# per-client limit, checked once per request before the view.
limiter.limit(_submission_limit, methods=["POST"])(bp)


class ApiError(Exception):
    """An answer other than success, raised from anywhere in a view."""

    def __init__(
        self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors
        self.headers = headers or {}


@bp.get("/health")
def health() -> Response:
    """A trivial answer for load balancers (and the benchmark's baseline)."""
    return jsonify(status="ok")


@bp.post("/incidents")
def create_incident() -> Response:
    """Take a serious-incident notice; a late notice is accepted and flagged."""
    return _take(schemas.IncidentSubmission, services.prepare_incident)


@bp.post("/information-requests")
def create_information_request() -> Response:
    """Take a request for information about covered products."""
    return _take(schemas.InformationRequestSubmission, services.prepare_information_request)


def _take(model: type[BaseModel], prepare: Callable[..., services.Pending]) -> Response:
    """Validate the body as `model`, prepare it with `prepare`, write it, answer its receipt."""
    data = _json_body()  # first: a slow client must not keep the writer waiting for it
    with preparing():
        valid = _validate(model, data)
        pending = prepare(get_catalog(), valid, now=_now())
        receipt = _submit(pending)
    return _receipt(receipt)


def _submit(pending: services.Pending) -> services.Receipt:
    try:
        return submit(pending)
    except WriterUnavailable:
        log.warning("The writer process went away during a submission; answered 503")
        raise ApiError(503, [_whole(UNAVAILABLE)], {"Retry-After": "1"}) from None


@bp.get("/cases/<reference>")
def show_case(reference: str) -> tuple[Response, int, dict[str, str]]:
    """The case as its submitter may see it."""
    with read_session() as session:
        case = _get_case(session, reference)
        view = services.submitter_view(case, get_catalog().policy)
        session.rollback()
    return jsonify(view), 200, {"Cache-Control": "no-store"}


@bp.post("/cases/<reference>/messages")
def add_message(reference: str) -> tuple[Response, int, dict[str, str]]:
    """Add a follow-up message from the submitter."""
    data = _json_body()
    with new_session() as session:
        case = _get_case(session, reference)
        valid = _validate(schemas.MessageSubmission, data)
        assert isinstance(valid, schemas.MessageSubmission)
        message = services.add_message(
            session, case, valid.body, now=_now(), timezone=get_catalog().policy.timezone
        )
        body = {
            "author": message.author,
            "body": message.body,
            "sent_at": message.created_at.isoformat(),
        }
    wake_mailer()
    return jsonify(body), 201, {"Cache-Control": "no-store"}


def _now() -> Any:
    return utcnow()


def _json_body() -> Any:
    if request.mimetype != "application/json":
        raise ApiError(415, [_whole("Send the body as JSON, with Content-Type: application/json.")])
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, [_whole("The body is not well-formed JSON.")]) from None


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data, context={"catalog": get_catalog(), "now": _now()})
    except ValidationError as exc:
        raise ApiError(422, schemas.errors_of(exc)) from None


def _get_case(session: Any, reference: str) -> Case:
    case = services.find_case(session, reference, _bearer_token())
    if case is None:
        raise ApiError(404, [_whole(NOT_FOUND)])
    return case


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _receipt(receipt: services.Receipt) -> Response:
    body = services.receipt_fields(receipt)
    # As url_for(..., _external=True) would give, for a fraction of its cost.
    body["status_url"] = f"{_url_root()}api/v1/cases/{receipt.reference}"
    wake_mailer()
    headers = {"Location": body["status_url"], "Cache-Control": "no-store"}
    # The receipt's fields are strings, booleans and None: `json.dumps` as it is, without
    # `jsonify`'s trip through the app's JSON provider (a tenth of the view's time).
    return _ReceiptResponse(json.dumps(body), 201, headers, mimetype="application/json")


class _ReceiptResponse(Response):
    """A receipt, whose `Location` is a URI already (`_url_root`, then a reference): werkzeug
    would convert it again, host name to IDNA included, for 3% of a submission's time."""

    def get_wsgi_headers(self, environ: Any) -> Headers:
        location = self.headers.pop("Location", None)
        if location is None:
            return super().get_wsgi_headers(environ)
        try:
            headers = super().get_wsgi_headers(environ)
        finally:
            self.headers["Location"] = location
        headers["Location"] = location
        return headers


# The root URLs seen lately, by what `request.url_root` reads of the environment: a worker
# answers under one or two host names, and working one out costs more than the receipt.
_URL_ROOTS: dict[tuple[Any, ...], str] = {}
_URL_ROOTS_KEPT = 64
_URL_ROOT_INPUTS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")


def _url_root() -> str:
    environ = request.environ
    key = tuple(environ.get(name) for name in _URL_ROOT_INPUTS)
    root = _URL_ROOTS.get(key)
    if root is None:
        root = iri_to_uri(request.url_root)  # as werkzeug would make a `Location` header
        if len(_URL_ROOTS) >= _URL_ROOTS_KEPT:  # the Host header is the client's to choose
            _URL_ROOTS.clear()
        _URL_ROOTS[key] = root
    return root


def _whole(message: str) -> dict[str, Any]:
    return {"field": None, "message": message}


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(errors=err.errors), err.status, err.headers


# Plain words for the HTTP errors the API can meet outside its own checks.
_HTTP_MESSAGES = {
    400: "The request could not be read.",
    404: "There is nothing at this address.",
    405: "This address does not accept this method.",
    413: "The body is too large: at most 1 MiB.",
    415: "Send the body as JSON, with Content-Type: application/json.",
    429: "Too many requests from your address; wait a moment and try again.",
}


def _http_error(err: HTTPException) -> Response | HTTPException:
    """JSON for any HTTP error under /api/; other paths keep their own pages."""
    if not request.path.startswith(bp.url_prefix or "/api/v1"):
        return err
    status = err.code or 500
    message = _HTTP_MESSAGES.get(status, err.description or "The request failed.")
    response = jsonify(errors=[_whole(message)])
    response.status_code = status
    if err.response is not None:
        for name in ("Retry-After",):
            if name in err.response.headers:
                response.headers[name] = err.response.headers[name]
    return response


def _server_error(err: InternalServerError) -> Response | InternalServerError:
    log.error("Internal error on %s %s", request.method, request.path)
    if not request.path.startswith(bp.url_prefix or "/api/v1"):
        return err
    response = jsonify(errors=[_whole("Something went wrong on our side; please try again.")])
    response.status_code = 500
    return response


def register_errors(app: Flask) -> None:
    """JSON errors for the API's paths, installed on the app (unmatched URLs never reach `bp`)."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
