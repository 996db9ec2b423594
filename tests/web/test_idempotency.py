"""`Idempotency-Key` on the API's submissions, on SQLite and PostgreSQL: a retry files nothing."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from support import incident_body, request_body

from portal.cases.models import Case, OutboxMail
from portal.web import context


def _count(app: Flask, model: Any) -> int:
    with app.extensions[context.SESSIONS]() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _post(app: Flask, path: str, body: Any, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return app.test_client().post(path, json=body, headers=headers)


def test_the_same_key_and_body_answer_the_first_receipt(any_app: Flask) -> None:
    body = incident_body()
    first = _post(any_app, "/api/v1/incidents", body, "retry-7f3a")
    assert first.status_code == 201
    again = _post(any_app, "/api/v1/incidents", dict(reversed(body.items())), "retry-7f3a")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["reference"] == first.json["reference"]
    assert again.json["access_token"] == first.json["access_token"]
    assert again.json == first.json
    assert _count(any_app, Case) == 1
    assert _count(any_app, OutboxMail) == 2  # one acknowledgement, one notice to the team
    # The token handed back again opens the case.
    status = any_app.test_client().get(
        f"/api/v1/cases/{first.json['reference']}",
        headers={"Authorization": f"Bearer {again.json['access_token']}"},
    )
    assert status.status_code == 200


def test_the_same_key_with_another_body_is_refused(any_app: Flask) -> None:
    assert _post(any_app, "/api/v1/incidents", incident_body(), "k-1").status_code == 201
    other = _post(any_app, "/api/v1/incidents", incident_body(harm="Other harm."), "k-1")
    assert other.status_code == 422
    assert other.json["errors"][0]["field"] == "Idempotency-Key"
    assert _count(any_app, Case) == 1


def test_keys_are_per_kind_and_without_a_key_every_post_files(any_app: Flask) -> None:
    assert _post(any_app, "/api/v1/incidents", incident_body(), "same").status_code == 201
    asked = _post(any_app, "/api/v1/information-requests", request_body(), "same")
    assert asked.status_code == 201 and asked.json["reference"].startswith("REQ-")
    for _ in range(2):
        assert _post(any_app, "/api/v1/incidents", incident_body(), None).status_code == 201
    assert _count(any_app, Case) == 4


def test_a_bad_key_is_refused(app: Flask) -> None:
    for key in ("", "x" * 256, "has space", "caf\u00e9"):
        answer = app.test_client().post(
            "/api/v1/incidents", json=incident_body(), headers={"Idempotency-Key": key}
        )
        assert answer.status_code == 422, key
        assert answer.json["errors"][0]["field"] == "Idempotency-Key"
    assert _count(app, Case) == 0


def test_two_requests_racing_with_one_key_file_one_case(any_app: Flask) -> None:
    body = incident_body()
    answers: list[Any] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        answers.append(_post(any_app, "/api/v1/incidents", body, "race-1"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json["reference"] for a in answers}) == 1
    assert _count(any_app, Case) == 1
