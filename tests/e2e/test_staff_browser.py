"""The legal team works a request in a real browser, and the requester answers from the status page.

Sign in, find the newest request at the top of the dashboard, ask for a clarification, reply
as the requester from the public status page, see the new due instant on the case page, and
answer. Real parts only: the app under a WSGI server in a thread, a SQLite file, Debian's
chromium, with the staff session cookie marked Secure as in production.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from flask import Flask
from playwright.sync_api import expect
from support import live_portal, request_body

from portal.cases import accounts, actions, services
from portal.cases.schemas import InformationRequestSubmission
from portal.cases.wording import local_moment
from portal.web import context

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long staff password"


@pytest.fixture
def staff_portal(
    site_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Flask]]:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with live_portal(site_dir, tmp_path, "e2e-staff-secret") as served:
        yield served


def _seed(app: Flask) -> tuple[str, str]:
    """An older request already answered, and the newest one: (its reference, its token)."""
    catalog = app.extensions[context.CATALOG]
    now = datetime.now(UTC)
    with app.app_context(), context.new_session() as session:
        accounts.add_user(session, "lawyer@example.com", "handler", PASSWORD, actor="t", now=now)
        data = InformationRequestSubmission.model_validate(
            request_body(), context={"catalog": catalog, "now": now}
        )
        older = services.submit_information_request(
            session, catalog, data, now=now - timedelta(days=3)
        )
        case = actions.find_case_for_staff(session, older.reference)
        actions.act(
            session, catalog, case, {"action": "answer", "body": "Done."}, actor="t", now=now
        )
        newest = services.submit_information_request(session, catalog, data, now=now)
    return newest.reference, newest.access_token


def test_work_a_request_from_notice_to_answer(page, browser, staff_portal):
    url, app = staff_portal
    reference, token = _seed(app)
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )

    page.goto(url + "/staff/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the staff workspace")
    page.get_by_label("Email address").fill("lawyer@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open cases")
    first_row = page.locator("table.cases tbody tr").first
    expect(first_row.locator("th a")).to_have_text(reference)
    expect(first_row).to_contain_text("due in 13 days")
    first_row.locator("th a").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    page.get_by_label("Question to the requester").fill("Which version of the model do you use?")
    page.get_by_role("button", name="Request clarification").click()
    expect(page.locator("#case-status")).to_contain_text("clarification-requested")
    expect(page.locator('[data-deadline="information-response"]')).to_contain_text("Clock stopped")

    requester = browser.new_page()
    requester.goto(url + "/status")
    requester.get_by_label("Reference").fill(reference)
    requester.get_by_label("Access code").fill(token)
    requester.get_by_role("button", name="Show the case").click()
    expect(requester.locator(".messages")).to_contain_text("Which version of the model do you use?")
    requester.get_by_label("Your message").fill("Version 25.11, through the API.")
    requester.get_by_role("button", name="Send").click()
    expect(requester.get_by_role("status")).to_contain_text("Thank you")
    requester.close()

    with app.app_context(), context.new_session() as session:
        case = actions.find_case_for_staff(session, reference)
        response = next(d for d in case.deadlines if d.name == "information-response")
        replied = case.messages[-1].created_at
        assert response.trigger_at == replied
        new_due = local_moment(response.due_at, "Europe/Paris")
    page.reload()
    expect(page.locator("#case-status")).to_contain_text("in-progress")
    due_cell = page.locator('[data-deadline="information-response"] .deadline-due')
    expect(due_cell).to_have_text(new_due)
    expect(page.locator(".messages")).to_contain_text("Version 25.11, through the API.")

    page.get_by_label("Answer", exact=True).fill("Version 25.11 accepts 128,000 tokens of input.")
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_role("status").first).to_contain_text("Answer sent")
    expect(page.locator("#case-status")).to_contain_text("answered")
    expect(page.locator('[data-deadline="information-response"]')).to_contain_text(
        re.compile(r"Met ")
    )
    assert violations == []
