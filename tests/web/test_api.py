"""The JSON API's contract: fields, status codes and error shapes, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from support import incident_body, make_test_app, request_body

from portal.cases.models import Case
from portal.web import context

NOW = datetime(2026, 11, 26, 15, 30, 12, tzinfo=UTC)


def _errors(response: Any) -> dict[str | None, str]:
    assert response.is_json, response.data
    return {e["field"]: e["message"] for e in response.json["errors"]}


def test_incident_receipt(any_app: Flask) -> None:
    any_app.config["CLOCK"] = lambda: NOW
    client = any_app.test_client()
    response = client.post("/api/v1/incidents", json=incident_body())
    assert response.status_code == 201
    body = response.json
    assert set(body) == {
        "reference",
        "access_token",
        "status",
        "received_at",
        "notification_due",
        "notified_on_time",
        "authority_report_due",
        "status_url",
        "receipt",
    }
    assert body["reference"] == "INC-2026-000001"
    assert body["status"] == "received"
    assert body["received_at"] == "2026-11-26T15:30:12+00:00"
    assert body["notification_due"] == "2026-11-27T09:00:00+00:00"
    assert body["notified_on_time"] is True
    assert body["authority_report_due"] == "2026-11-28T15:30:12+00:00"
    assert body["status_url"].endswith("/api/v1/cases/INC-2026-000001")
    assert response.headers["Cache-Control"] == "no-store"
    with any_app.app_context(), context.new_session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_information_request_receipt(any_app: Flask) -> None:
    any_app.config["CLOCK"] = lambda: NOW
    response = any_app.test_client().post("/api/v1/information-requests", json=request_body())
    assert response.status_code == 201
    body = response.json
    assert set(body) == {
        "reference",
        "access_token",
        "status",
        "received_at",
        "response_due",
        "status_url",
        "receipt",
    }
    assert body["reference"] == "REQ-2026-000001"
    assert body["response_due"] == "2026-12-10T15:30:12+00:00"


def test_follow_a_case_and_add_a_message(any_app: Flask) -> None:
    client = any_app.test_client()
    receipt = client.post("/api/v1/incidents", json=incident_body()).json
    auth = {"Authorization": f"Bearer {receipt['access_token']}"}
    url = f"/api/v1/cases/{receipt['reference']}"
    response = client.post(f"{url}/messages", json={"body": "It happened again."}, headers=auth)
    assert response.status_code == 201
    assert response.json["body"] == "It happened again."
    case = client.get(url, headers=auth)
    assert case.status_code == 200
    view = case.json
    assert view["kind"] == "incident"
    assert view["status"] == "received"
    assert view["submitted"]["product"] == "lumen-large-3"
    assert [d["name"] for d in view["deadlines"]] == ["incident-notification", "authority-report"]
    assert all(d["explanation"] for d in view["deadlines"])
    assert [m["body"] for m in view["messages"]] == ["It happened again."]
    assert view["notification_due"] == receipt["notification_due"]


def test_unknown_reference_and_wrong_token_look_alike(client: FlaskClient) -> None:
    receipt = client.post("/api/v1/incidents", json=incident_body()).json
    ref = receipt["reference"]
    answers = [
        client.get(f"/api/v1/cases/{ref}", headers={"Authorization": "Bearer wrong"}),
        client.get(f"/api/v1/cases/{ref}"),
        client.get(f"/api/v1/cases/{ref}", headers={"Authorization": receipt["access_token"]}),
        client.get(
            "/api/v1/cases/INC-2026-999999",
            headers={"Authorization": f"Bearer {receipt['access_token']}"},
        ),
        client.post(
            f"/api/v1/cases/{ref}/messages",
            json={"body": "x"},
            headers={"Authorization": "Bearer wrong"},
        ),
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.data for a in answers}) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"aware_at": "2026-11-25T10:00:00"}, "aware_at"),
        ({"aware_at": "yesterday"}, "aware_at"),
        ({"started_at": "2026-11-25T11:00:00+01:00"}, "started_at"),
        (
            {"started_at": "2026-11-24T10:00:00Z", "ended_at": "2026-11-23T10:00:00Z"},
            "ended_at",
        ),
        ({"product": "lumen-nothing"}, "product"),
        ({"product_version": "99"}, "product_version"),
        ({"category": "embarrassment"}, "category"),
        ({"member_states": ["FR", "US"]}, "member_states"),
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 20_001}, "description"),
        ({"harm": ""}, "harm"),
        ({"affected_persons": -1}, "affected_persons"),
        ({"reporter": {"organisation": "Acme", "name": "Ada", "email": "ada@"}}, "reporter.email"),
        ({"reporter": {"name": "Ada", "email": "ada@example.com"}}, "reporter.organisation"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_incident_refusals_name_the_field(
    client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/incidents", json=incident_body(**changes))
    assert response.status_code == 422
    errors = _errors(response)
    assert field in errors
    assert errors[field]


def test_awareness_in_the_future_is_refused_beyond_five_minutes(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    client = app.test_client()
    soon = (NOW + timedelta(minutes=4)).isoformat()
    later = (NOW + timedelta(minutes=6)).isoformat()
    assert client.post("/api/v1/incidents", json=incident_body(aware_at=soon)).status_code == 201
    refused = client.post("/api/v1/incidents", json=incident_body(aware_at=later))
    assert refused.status_code == 422
    assert "aware_at" in _errors(refused)


def test_every_bad_field_is_named_at_once(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/incidents",
        json={"product": "x", "category": "y", "reporter": {"email": "z"}},
    )
    assert response.status_code == 422
    assert set(_errors(response)) >= {
        "product",
        "category",
        "aware_at",
        "description",
        "reporter.organisation",
        "reporter.name",
        "reporter.email",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"products": ["lumen-medium-1"]}, "products"),  # withdrawn
        ({"products": ["lumen-nothing"]}, "products"),
        ({"products": []}, "products"),
        ({"topic": "gossip"}, "topic"),
        ({"questions": ""}, "questions"),
        ({"requester": {"organisation": "A", "name": "B", "email": "b"}}, "requester.email"),
    ],
)
def test_information_request_refusals(
    client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/information-requests", json=request_body(**changes))
    assert response.status_code == 422
    assert field in _errors(response)


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/incidents", data=b'{"product": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert _errors(response)


def test_body_that_is_not_json_is_415(client: FlaskClient) -> None:
    response = client.post("/api/v1/incidents", data={"product": "lumen-large-3"})
    assert response.status_code == 415
    assert _errors(response)


def test_body_above_one_mib_is_413(client: FlaskClient) -> None:
    big = b'{"description": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post("/api/v1/incidents", data=big, content_type="application/json")
    assert response.status_code == 413
    assert _errors(response)


def test_rate_limit_answers_429_with_retry_after(sqlite_url: str, tmp_path: Path) -> None:
    app = make_test_app(sqlite_url, tmp_path, SUBMISSION_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [
        client.post("/api/v1/information-requests", json=request_body()).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    limited = client.post("/api/v1/information-requests", json=request_body())
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert _errors(limited)
    app.extensions[context.ENGINE].dispose()


def test_each_app_keeps_its_own_rate_limit(sqlite_url: str, tmp_path: Path) -> None:
    """The limits of a view are worked out once per app (`PortalLimiter`), never shared."""
    roomy = make_test_app(sqlite_url, tmp_path / "roomy", SUBMISSION_RATE_LIMIT="1000 per minute")
    tight = make_test_app(sqlite_url, tmp_path / "tight", SUBMISSION_RATE_LIMIT="2 per minute")
    post = "/api/v1/information-requests"
    assert roomy.test_client().post(post, json=request_body()).status_code == 201
    statuses = [tight.test_client().post(post, json=request_body()).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    assert roomy.test_client().post(post, json=request_body()).status_code == 201
    for app in (roomy, tight):
        app.extensions[context.ENGINE].dispose()


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for response in (
        client.get("/api/v1/health"),
        client.get("/api/v1/nothing-here"),
        client.post("/api/v1/incidents", json={}),
        client.get("/"),
    ):
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


def test_unknown_api_path_is_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert _errors(response)


def test_form_contents_are_never_logged(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    secret = "Unmistakable-description-7731"
    client.post("/api/v1/incidents", json=incident_body(description=secret))
    client.post("/api/v1/incidents", json=incident_body(description=secret, categories=["x"]))
    assert secret not in caplog.text
    assert "ada@example.com" not in caplog.text


def test_the_status_url_names_the_host_each_request_came_to(client: FlaskClient) -> None:
    """The receipt's links follow the Host header (and scheme) of each request, one after the
    other, though the root URL is remembered per host."""
    for base in ("http://portal.example", "https://other.example", "http://portal.example"):
        response = client.post("/api/v1/incidents", json=incident_body(), base_url=base)
        assert response.status_code == 201
        reference = response.json["reference"]
        expected = f"{base}/api/v1/cases/{reference}"
        assert response.json["status_url"] == expected
        assert response.headers["Location"] == expected


def test_an_address_checked_before_gets_the_same_verdict(client: FlaskClient) -> None:
    """Addresses are checked once and remembered: a second look must agree with the first."""
    for _ in range(2):
        good = client.post(
            "/api/v1/incidents",
            json=incident_body(
                reporter={"organisation": "Acme", "name": "Ada", "email": "Ada@EXAMPLE.com"}
            ),
        )
        assert good.status_code == 201
        bad = client.post(
            "/api/v1/incidents",
            json=incident_body(
                reporter={"organisation": "Acme", "name": "Ada", "email": "ada@@example.com"}
            ),
        )
        assert bad.status_code == 422
        assert _errors(bad)["reporter.email"].startswith("must be a valid email address")
    reference = good.get_json()["reference"]
    token = good.get_json()["access_token"]
    case = client.get(f"/api/v1/cases/{reference}", headers={"Authorization": f"Bearer {token}"})
    assert case.get_json()["submitted"]["reporter"]["email"] == "Ada@example.com"


def test_the_location_is_as_werkzeug_writes_it(client: FlaskClient) -> None:
    """The receipt's `Location`, which werkzeug no longer converts on the way out, is the URI
    werkzeug would have written (host name in lower case), and the body's `status_url` too."""
    response = client.post(
        "/api/v1/incidents", json=incident_body(), base_url="http://Portal.Example:8080"
    )
    assert response.status_code == 201
    expected = f"http://portal.example:8080/api/v1/cases/{response.json['reference']}"
    assert response.headers["Location"] == expected
    assert response.json["status_url"] == expected
