"""A customer reports a serious incident in a real browser, then follows the case.

From the built site's home page: follow the link to the incident form, fill it in, send it,
read the reference and the access code on the receipt, open the status page with them and
add a follow-up. Real parts only: the app under a WSGI server in a thread, a SQLite file,
Debian's chromium. No Content Security Policy violation may happen on the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import func, select
from support import live_portal

from portal.cases.models import Case, OutboxMail
from portal.web import context

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def portal(site_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    """The portal (site, forms and API on one origin) on 127.0.0.1, on a fresh SQLite file.

    Chromium's launch arguments and the built sample site (`site_dir`) come from conftest.py.
    """
    with live_portal(site_dir, tmp_path_factory.mktemp("e2e"), "e2e-test-secret") as served:
        yield served


@pytest.fixture(scope="module")
def portal_url(portal: tuple[str, Flask]) -> str:
    return portal[0]


def _count(app: Flask, model: Any) -> int:
    with app.extensions[context.SESSIONS]() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_report_an_incident_then_follow_it(page, portal, portal_url):
    app = portal[1]
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda err: violations.append(f"page error: {err}"))
    responses = []
    page.on("response", lambda r: responses.append(r))

    page.goto(portal_url + "/")
    # The home page's link to the form (not the heading's anchor, which names it too).
    page.locator('main a[href$="/report-incident"]').filter(
        has_text=re.compile(r"serious[- ]incident", re.I)
    ).first.click()
    page.wait_for_url(re.compile(r"/report-incident$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a serious incident")

    # An empty form: an error summary, focused, whose links lead to the fields.
    page.get_by_role("button", name="Send the report").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    summary.get_by_role("link", name=re.compile("^Description")).click()
    assert page.url.endswith("#field-description")
    description = page.locator("#field-description")
    assert description.get_attribute("aria-invalid") == "true"
    assert "field-description-error" in description.get_attribute("aria-describedby")

    # Now fill it in properly, by label, as a person would.
    paris = ZoneInfo("Europe/Paris")
    aware = (datetime.now(paris) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Product").select_option("lumen-large-3")
    page.get_by_label("Time zone of the times below").select_option("Europe/Paris")
    page.get_by_label("Death of a person").check()
    page.get_by_label("When you became aware of the incident").fill(aware)
    page.get_by_label("Description").fill("The assistant gave a lethal dosage in a medical tool.")
    page.get_by_label("France").check()
    page.get_by_label("Organisation").fill("Example Health SAS")
    page.get_by_label("Your name").fill("Camille Martin")
    page.get_by_label("Email address").fill("camille@example.com")
    # Sent from the keyboard, as anyone without a mouse would.
    page.get_by_role("button", name="Send the report").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Report received")
    reference = page.locator("#reference").inner_text().strip()
    token = page.locator("#access-token").inner_text().strip()
    assert re.fullmatch(r"INC-\d{4}-\d{6}", reference)
    assert len(token) >= 22
    assert "We show it only once" in page.content()
    assert page.get_by_text("Our initial report to the authority").is_visible()
    assert page.get_by_text("How we counted").first.is_visible()
    # The receipt is not cached and the token is never in a URL.
    receipt = next(r for r in reversed(responses) if "/receipt/" in r.url)
    assert receipt.headers["cache-control"] == "no-store"
    assert all(token not in r.url for r in responses)
    # Reloading the receipt shows it again without the code, and files nothing.
    page.reload()
    expect(page.locator("#reference")).to_have_text(reference)
    expect(page.locator("#access-code-shown")).to_be_visible()
    assert page.locator("#access-token").count() == 0
    assert _count(app, Case) == 1
    assert _count(app, OutboxMail) == 2  # one acknowledgement, one notice to the team

    page.get_by_role("link", name="Follow your report").click()
    page.get_by_label("Reference").fill(reference)
    page.get_by_label("Access code").fill(token)
    page.get_by_role("button", name="Show the case").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    assert page.get_by_text("The assistant gave a lethal dosage").is_visible()

    page.get_by_label("Your message").fill("Two more users reported the same answer today.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you")
    messages = page.locator(".messages")
    assert "Two more users reported the same answer today." in messages.inner_text()
    assert all(token not in r.url for r in responses)

    for response in responses:
        if response.url.startswith(portal_url) and response.request.resource_type == "document":
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert violations == []


def test_the_form_preselects_the_browsers_time_zone(browser, portal, portal_url):
    """A browser in New York: its zone is chosen, the instant is shown back in Paris time, and
    the case records the instant the person meant."""
    context_ = browser.new_context(timezone_id="America/New_York")
    page = context_.new_page()
    try:
        page.goto(portal_url + "/report-incident")
        zone = page.get_by_label("Time zone of the times below")
        expect(zone).to_have_value("America/New_York")
        page.get_by_label("Product").select_option("lumen-large-3")
        page.get_by_label("Death of a person").check()
        aware = page.get_by_label("When you became aware of the incident")
        aware.fill("2026-11-26T08:00")  # New York, 13:00 UTC, 14:00 in Paris
        expect(page.locator(".datetime-echo").first).to_contain_text("14:00")
        expect(page.locator(".datetime-echo").first).to_contain_text("Europe/Paris")
        page.get_by_label("Description").fill("The assistant gave a wrong dosage.")
        page.get_by_label("Organisation").fill("Example Health Inc")
        page.get_by_label("Your name").fill("Sam Lee")
        page.get_by_label("Email address").fill("sam@example.com")
        page.get_by_role("button", name="Send the report").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Report received")
        reference = page.locator("#reference").inner_text().strip()
    finally:
        context_.close()
    app = portal[1]
    with app.extensions[context.SESSIONS]() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        assert case.submission["aware_at"] == "2026-11-26T13:00:00+00:00"
