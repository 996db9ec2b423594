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
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.cases import idempotency, schemas, services
from portal.cases.models import Case
from portal.web.context import (
    get_catalog,
    get_signer,
    new_session,
    read_session,
    site_url,
    utcnow,
    wake_mailer,
)
from portal.web.extensions import limiter

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
NOT_FOUND = "No case has this reference and access token."
_BAD_KEY = "must be 1 to 255 visible ASCII characters"
_KEY_REUSED = (
    "was used in the last 24 hours with a different body; use a new key for a new submission"
)


def _submission_limit() -> str:
    return str(current_app.config["SUBMISSION_RATE_LIMIT"])


# Every POST of the API (the two submissions and follow-up messages) counts against one
# per-client limit, checked once per request before the view.
limiter.limit(_submission_limit, methods=["POST"])(bp)


class ApiError(Exception):
    """An answer other than success, raised from anywhere in a view."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors


@bp.get("/health")
def health() -> Response:
    """A trivial answer for load balancers (and the benchmark's baseline)."""
    return jsonify(status="ok")


@bp.post("/incidents")
def create_incident() -> tuple[Response, int, dict[str, str]]:
    """Take a serious-incident notice; a late notice is accepted and flagged."""
    return _take("incident", schemas.IncidentSubmission, services.submit_incident)


@bp.post("/information-requests")
def create_information_request() -> tuple[Response, int, dict[str, str]]:
    """Take a request for information about covered products."""
    return _take(
        "information-request",
        schemas.InformationRequestSubmission,
        services.submit_information_request,
    )


def _take(
    kind: str, model: type[BaseModel], submit: Callable[..., services.Receipt]
) -> tuple[Response, int, dict[str, str]]:
    """Validate the body as `model`, write it with `submit` (which commits), answer its receipt.

    With an `Idempotency-Key`, a body sent again under the same key within 24 hours answers
    the first receipt and files nothing; another body under that key is refused (422).
    """
    data = _json_body()
    now = utcnow()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not idempotency.valid_key(key):
        raise ApiError(422, [{"field": "Idempotency-Key", "message": _BAD_KEY}])
    valid = _validate(model, data, now)
    once = (
        idempotency.for_request(current_app.config["SECRET_KEY"], kind, key, data)
        if key is not None
        else None
    )
    with new_session() as session:
        if once is not None and (answer := _replay(session, once, now)) is not None:
            return answer
        try:
            receipt = submit(
                session,
                get_catalog(),
                valid,
                now=now,
                idempotency=once,
                site_url=site_url(),
                signer=get_signer(),
            )
        except IntegrityError:
            # Another request with this key committed first: answer its receipt.
            session.rollback()
            answer = _replay(session, once, now) if once is not None else None
            if answer is None:
                raise
            return answer
    wake_mailer()
    return _receipt_answer(receipt)


def _replay(
    session: Any, once: idempotency.Idempotency, now: datetime
) -> tuple[Response, int, dict[str, str]] | None:
    """The first answer to a key already used, or None when the key is new."""
    used = idempotency.find(session, once.scope, once.key, now=now)
    if used is None:
        return None
    if used.body_sha256 != once.body_sha256:
        raise ApiError(422, [{"field": "Idempotency-Key", "message": _KEY_REUSED}])
    case = session.scalar(select(Case).where(Case.reference == used.case_reference))
    if case is None:  # pragma: no cover - the key and its case commit together
        return None
    answer, status, headers = _receipt_answer(services.Receipt(case.reference, once.token, case))
    headers["Idempotent-Replayed"] = "true"
    return answer, status, headers


def _receipt_answer(receipt: services.Receipt) -> tuple[Response, int, dict[str, str]]:
    body = services.receipt_fields(receipt)
    body["status_url"] = url_for("api.show_case", reference=receipt.reference, _external=True)
    return jsonify(body), 201, {"Location": body["status_url"], "Cache-Control": "no-store"}


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
        now = utcnow()
        valid = _validate(schemas.MessageSubmission, data, now)
        assert isinstance(valid, schemas.MessageSubmission)
        message = services.add_message(
            session,
            case,
            valid.body,
            now=now,
            timezone=get_catalog().policy.timezone,
            site_url=site_url(),
            signer=get_signer(),
        )
        body = {
            "author": message.author,
            "body": message.body,
            "sent_at": message.created_at.isoformat(),
            "receipt": message.receipt,
        }
    wake_mailer()
    return jsonify(body), 201, {"Cache-Control": "no-store"}


def _json_body() -> Any:
    if request.mimetype != "application/json":
        raise ApiError(415, [_whole("Send the body as JSON, with Content-Type: application/json.")])
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, [_whole("The body is not well-formed JSON.")]) from None


def _validate(model: type[BaseModel], data: Any, now: datetime) -> BaseModel:
    try:
        return model.model_validate(data, context={"catalog": get_catalog(), "now": now})
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


def _whole(message: str) -> dict[str, Any]:
    return {"field": None, "message": message}


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> tuple[Response, int]:
    return jsonify(errors=err.errors), err.status


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
