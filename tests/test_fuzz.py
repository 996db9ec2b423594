"""Fuzz both submission endpoints: never a 5xx, and every 4xx a JSON list of errors.

Bodies are valid submissions with fields replaced by generated JSON (odd texts, instants at
the ends of time, wrong types, unknown keys), arbitrary JSON documents, and raw bytes.
Under CI=true the `fuzz-ci` profile runs over 1,000 generated requests in all.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import incident_body, make_test_app, request_body

from portal.cases.db import init_db, make_engine
from portal.web import context

# Three tests of 350 examples each: 1,050 generated requests under CI=true.
settings.register_profile(
    "fuzz-ci",
    max_examples=350,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz-dev",
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = settings.get_profile("fuzz-ci" if os.environ.get("CI") == "true" else "fuzz-dev")

INCIDENT_FIELDS = list(incident_body()) + ["reporter.email", "reporter.name", "reporter.phone"]
REQUEST_FIELDS = list(request_body()) + ["requester.email", "requester.organisation"]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Wall times, naive on purpose: the offset (or its absence) is drawn separately.
_WALL = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))  # noqa: DTZ001
_instants = st.builds(
    lambda moment, offset: moment.isoformat() + offset,
    _WALL,
    st.sampled_from(["", "Z", "+00:00", "+14:00", "-12:00", "+01:00", "+0530", "+99:00"]),
)
_texts = (
    st.text(max_size=60)
    | st.sampled_from(["", " ", "\x00", "\ud800", "a\x1b[31m", "x" * 20_001, "FR", "lumen-large-3"])
    | st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.[a-z]{2,3}", fullmatch=True)
)
_values = _json | _instants | _texts | st.lists(_texts, max_size=5)


def _set(body: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, rest = dotted.partition(".")
    if rest and isinstance(body.get(head), dict):
        _set(body[head], rest, value)
    else:
        body[head] = value


@st.composite
def _mutated(draw: st.DrawFn, base: dict[str, Any], fields: list[str]) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    body = copy.deepcopy(base)
    for field in draw(st.lists(st.sampled_from(fields) | st.text(max_size=6), max_size=4)):
        if draw(st.booleans()):
            _set(body, field, draw(_values))
        else:
            body.pop(field.partition(".")[0], None)
    return body


@pytest.fixture(scope="module")
def fuzz_app() -> Iterator[Flask]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'fuzz.db'}"
        engine = make_engine(url)
        init_db(engine)
        engine.dispose()
        # "now" is fixed so that generated instants are judged against a known clock.
        app = make_test_app(url, Path(folder), CLOCK=lambda: datetime(2026, 11, 26, tzinfo=UTC))
        yield app
        app.extensions[context.ENGINE].dispose()


def _check(response: Any) -> None:
    assert response.status_code < 500, response.data[:500]
    if response.status_code >= 400:
        assert response.is_json, response.data[:200]
        errors = response.json["errors"]
        assert errors and all(set(e) == {"field", "message"} and e["message"] for e in errors)
    else:
        assert response.status_code == 201
        assert response.json["reference"]


@settings(PROFILE)
@given(body=_mutated(incident_body(), INCIDENT_FIELDS))
def test_fuzz_incidents(fuzz_app: Flask, body: Any) -> None:
    client: FlaskClient = fuzz_app.test_client()
    _check(client.post("/api/v1/incidents", json=body))


@settings(PROFILE)
@given(body=_mutated(request_body(), REQUEST_FIELDS))
def test_fuzz_information_requests(fuzz_app: Flask, body: Any) -> None:
    client: FlaskClient = fuzz_app.test_client()
    _check(client.post("/api/v1/information-requests", json=body))


@settings(PROFILE)
@given(
    path=st.sampled_from(["/api/v1/incidents", "/api/v1/information-requests"]),
    raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=latin-1", "text/plain", "", "a/b"]
    ),
)
def test_fuzz_raw_bodies(fuzz_app: Flask, path: str, raw: bytes, content_type: str) -> None:
    client: FlaskClient = fuzz_app.test_client()
    _check(client.post(path, data=raw, content_type=content_type))


def test_instants_at_the_ends_of_time_are_refused_not_crashed(fuzz_app: Flask) -> None:
    client = fuzz_app.test_client()
    for aware, started, ended in [
        ("0001-01-01T00:00:00+14:00", None, None),
        ("9999-12-31T23:59:59-14:00", None, None),
        ("2026-11-25T10:00:00+01:00", "0001-01-01T00:30:00+01:00", None),
        ("2026-11-25T10:00:00+01:00", None, "9999-12-31T23:59:59-12:00"),
    ]:
        body = incident_body(aware_at=aware, started_at=started, ended_at=ended)
        response = client.post("/api/v1/incidents", json=body)
        assert response.status_code == 422, response.json
    late = (datetime(2026, 11, 26, tzinfo=UTC) + timedelta(minutes=6)).isoformat()
    assert client.post("/api/v1/incidents", json=incident_body(aware_at=late)).status_code == 422
