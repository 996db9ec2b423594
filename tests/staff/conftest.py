"""Fixtures of the staff workspace tests: an app on SQLite and PostgreSQL with a settable
clock, one account per role with its API token, and helpers to submit cases and act."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles
from flask import Flask
from flask.testing import FlaskClient
from support import catalog_with_high_risk_system, incident_body, make_test_app, request_body

from portal.cases import accounts
from portal.web import context

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


class Clock:
    """The app's clock (`CLOCK`), moved by the tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Desk:
    """The app, its test client, the clock and one API token per role."""

    app: Flask
    client: FlaskClient
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "handler") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def submit_request(self, **changes: Any) -> dict[str, Any]:
        response = self.client.post("/api/v1/information-requests", json=request_body(**changes))
        assert response.status_code == 201, response.json
        return dict(response.json)

    def submit_incident(self, **changes: Any) -> dict[str, Any]:
        changes.setdefault("aware_at", (self.clock.now - timedelta(hours=2)).isoformat())
        changes.setdefault("started_at", (self.clock.now - timedelta(hours=3)).isoformat())
        response = self.client.post("/api/v1/incidents", json=incident_body(**changes))
        assert response.status_code == 201, response.json
        return dict(response.json)

    def act(self, reference: str, role: str = "handler", **payload: Any) -> Any:
        return self.client.post(
            f"/api/v1/staff/cases/{reference}/actions", json=payload, headers=self.headers(role)
        )

    def staff_case(self, reference: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/staff/cases/{reference}", headers=self.headers())
        assert response.status_code == 200
        return dict(response.json)

    def public_case(self, receipt: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/cases/{receipt['reference']}",
            headers={"Authorization": f"Bearer {receipt['access_token']}"},
        )
        assert response.status_code == 200
        return dict(response.json)

    def signed_in(self, email: str = "handler@example.com") -> FlaskClient:
        """A new browser-like client, signed in to the workspace as `email`."""
        client = self.app.test_client()
        page = client.get("/staff/login")
        client.post(
            "/staff/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        return client

    def add_account(self, email: str, role: str) -> str:
        with self.app.app_context(), context.new_session() as session:
            accounts.add_user(session, email, role, PASSWORD, actor="test", now=self.clock.now)
            return accounts.issue_token(session, email, actor="test", now=self.clock.now)


def csrf_of(html: str) -> str:
    """The CSRF token a page's form carries."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _desk(database_url: str, tmp_path: Path, **config: Any) -> Iterator[Desk]:
    clock = Clock(START)
    app = make_test_app(database_url, tmp_path, CLOCK=clock, **config)
    desk = Desk(app, app.test_client(), clock)
    for role in accounts.ROLES:
        desk.tokens[role] = desk.add_account(f"{role}@example.com", role)
    yield desk
    app.extensions[context.ENGINE].dispose()


@pytest.fixture
def desk(sqlite_url: str, tmp_path: Path) -> Iterator[Desk]:
    """The workspace on SQLite."""
    yield from _desk(sqlite_url, tmp_path)


@pytest.fixture
def high_risk_desk(sqlite_url: str, tmp_path: Path) -> Iterator[Desk]:
    """The workspace on SQLite, with the high-risk AI system lumen-recruit in the catalog."""
    catalog_dir = catalog_with_high_risk_system(tmp_path)
    yield from _desk(sqlite_url, tmp_path, CATALOG_DIR=str(catalog_dir))


@pytest.fixture
def any_desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    """The workspace on SQLite, then on PostgreSQL."""
    yield from _desk(database_url, tmp_path)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its cheapest: the tests check who may sign in, not the hash's cost."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
