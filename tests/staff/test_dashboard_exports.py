"""Dashboard order, filters and pages; time left in words; CSV, JSON, report draft, ICS feed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from portal.cases.dashboard import time_left
from portal.cases.exports import REPORT_FIELDS

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(hours=5, minutes=59), "due in 5 h"),
        (timedelta(minutes=42), "due in 42 min"),
        (timedelta(hours=47), "due in 47 h"),
        (timedelta(days=3, hours=2), "due in 3 days"),
        (timedelta(days=1, hours=23, minutes=59), "due in 47 h"),
        (-timedelta(days=2, hours=1), "overdue by 2 days"),
        (-timedelta(minutes=1), "overdue by 1 min"),
        (-timedelta(hours=30), "overdue by 30 h"),
        (timedelta(0), "due in 0 min"),
    ],
)
def test_time_left_in_words(delta, words):
    assert time_left(NOW + delta, NOW) == words


def _references(response):
    assert response.status_code == 200, response.json
    return [case["reference"] for case in response.json["cases"]]


def test_open_cases_in_deadline_order_overdue_first(any_desk):
    desk = any_desk
    request_old = desk.submit_request()["reference"]  # due in 14 days from START
    desk.clock.advance(days=1)
    incident = desk.submit_incident()["reference"]  # due 2 days after START + 1 day
    desk.clock.advance(hours=1)
    request_new = desk.submit_request()["reference"]
    answered = desk.submit_request()["reference"]
    desk.act(answered, action="answer", body="Done.")
    closed = desk.submit_request()["reference"]
    desk.act(closed, action="close", reason="Spam.")
    desk.clock.advance(days=4)  # the incident's report is now overdue

    listed = desk.client.get("/api/v1/staff/cases", headers=desk.headers("viewer"))
    assert _references(listed) == [incident, request_old, request_new, answered]
    first = listed.json["cases"][0]
    assert first["overdue"] is True and first["time_left"].startswith("overdue by")
    assert first["next_deadline"] == "authority-report"
    assert {d["name"] for d in first["deadlines"]} == {"incident-notification", "authority-report"}
    assert listed.json["cases"][-1]["next_due_at"] is None

    pages, after = [], None
    while True:
        query = {"limit": 1} | ({"after": after} if after else {})
        response = desk.client.get(
            "/api/v1/staff/cases", query_string=query, headers=desk.headers()
        )
        pages += _references(response)
        after = response.json["next"]
        if after is None:
            break
    assert pages == [incident, request_old, request_new, answered]

    page = desk.client.get("/staff/")  # signed out: redirected
    assert page.status_code == 302


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "incident"}, ["incident"]),
        ({"kind": "information-request"}, ["request"]),
        ({"status": "in-progress"}, ["request"]),
        ({"product": "lumen-large-3"}, ["incident"]),
        ({"product": "lumen-medium-2"}, ["request"]),
        ({"category": "critical-infrastructure"}, ["incident"]),
        ({"category": "death"}, []),
    ],
)
def test_filters(any_desk, query, expected):
    desk = any_desk
    refs = {
        "incident": desk.submit_incident()["reference"],
        "request": desk.submit_request()["reference"],
    }
    desk.act(refs["request"], action="acknowledge")
    response = desk.client.get("/api/v1/staff/cases", query_string=query, headers=desk.headers())
    assert _references(response) == [refs[name] for name in expected]


def test_bad_filters_are_refused(desk):
    for query in ({"kind": "letter"}, {"status": "lost"}, {"after": "nonsense"}, {"limit": "0"}):
        response = desk.client.get(
            "/api/v1/staff/cases", query_string=query, headers=desk.headers()
        )
        assert response.status_code == 422, query


def test_dashboard_page_shows_time_left_and_local_time(desk):
    ref = desk.submit_incident()["reference"]
    desk.clock.advance(days=3)
    client = desk.client
    client.post(
        "/staff/login",
        data={"email": "viewer@example.com", "password": "correct horse battery staple"},
    )
    html = client.get("/staff/").text
    assert ref in html
    assert "overdue by 24 h" in html
    assert "(Europe/Paris, UTC+01:00)" in html
    case_page = client.get(f"/staff/cases/{ref}").text
    for needed in ("What was submitted", "Audit trail", "case-received", "2d, exact", "Deadlines"):
        assert needed in case_page
    # In the team's words, not the customer's.
    assert "Initial report to the authority" in case_page
    assert "Customer&#39;s notice to us (from their awareness of the incident)" in case_page
    assert "from your awareness" not in case_page and "Our initial report" not in case_page


def test_exports(desk):
    incident = desk.submit_incident(description='=HYPERLINK("http://evil")')["reference"]
    request = desk.submit_request()["reference"]
    desk.act(request, action="close", reason="Duplicate.")
    response = desk.client.get("/api/v1/staff/exports/cases.csv", headers=desk.headers("viewer"))
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["reference"] for r in rows] == [incident, request]  # closed cases are exported too
    assert rows[0]["next_deadline"] == "authority-report"
    filtered = desk.client.get(
        "/api/v1/staff/exports/cases.json",
        query_string={"kind": "incident"},
        headers=desk.headers(),
    )
    cases = json.loads(filtered.text)["cases"]
    assert [c["reference"] for c in cases] == [incident]
    assert cases[0]["submitted"]["description"].startswith("=HYPERLINK")


def test_authority_report_draft_follows_the_template(desk):
    ref = desk.submit_incident()["reference"]
    draft = desk.client.get(f"/api/v1/staff/cases/{ref}/report.json", headers=desk.headers()).json
    assert [f["label"] for f in draft["fields"]] == [label for _, label in REPORT_FIELDS]
    values = {f["key"]: f["value"] for f in draft["fields"]}
    assert (
        values["chain_of_events"] == "The model's output stopped a water plant's dosing controller."
    )
    assert values["affected_persons"] == 1200
    assert values["member_states"] == "FR"
    assert values["report_type"] == "initial"
    assert values["root_cause"] is None
    assert draft["recorded"]["provider_aware_at"] == desk.clock.now.isoformat()
    markdown = desk.client.get(f"/api/v1/staff/cases/{ref}/report.md", headers=desk.headers()).text
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[0] == "## 1. Start and end dates of the incident"
    assert headings[12] == "## 13. Report type"
    request = desk.submit_request()["reference"]
    assert (
        desk.client.get(
            f"/api/v1/staff/cases/{request}/report.md", headers=desk.headers()
        ).status_code
        == 409
    )


def test_calendar_feed(desk):
    incident = desk.submit_incident()["reference"]
    request = desk.submit_request()["reference"]
    desk.act(request, action="answer", body="Done.")
    feed = desk.client.get(
        "/api/v1/staff/calendar.ics", query_string={"token": desk.tokens["viewer"]}
    )
    assert feed.status_code == 200
    assert feed.headers["Content-Type"].startswith("text/calendar")
    text = feed.text
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert text.count("BEGIN:VEVENT") == 1  # the answered request has nothing open
    assert f"SUMMARY:{incident}: Initial report to the authority" in text
    due = (desk.clock.now + timedelta(days=2)).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTEND:{due}" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def test_case_page_and_exports_show_until_when_the_file_is_kept(desk):
    """Five years from closing (policy retention.incident-files); in words while open."""
    open_ref = desk.submit_incident()["reference"]
    closed_ref = desk.submit_incident()["reference"]
    desk.clock.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert desk.act(closed_ref, action="close", reason="Not serious.").status_code == 200
    desk.clock.advance(days=40)  # a later note must not move the closing day
    assert desk.act(closed_ref, action="note", note="Checked again.").status_code == 200
    desk.client.post(
        "/staff/login",
        data={"email": "viewer@example.com", "password": "correct horse battery staple"},
    )
    closed_page = desk.client.get(f"/staff/cases/{closed_ref}").text
    assert '<dd id="case-kept-until">2031-12-04</dd>' in closed_page
    open_page = desk.client.get(f"/staff/cases/{open_ref}").text
    assert '<dd id="case-kept-until">5 years after closing</dd>' in open_page
    response = desk.client.get("/api/v1/staff/exports/cases.csv", headers=desk.headers("viewer"))
    rows = {r["reference"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert rows[closed_ref]["kept_until"] == "2031-12-04"
    assert rows[open_ref]["kept_until"] == "5 years after closing"
    cases = desk.client.get("/api/v1/staff/exports/cases.json", headers=desk.headers()).json
    kept = {c["reference"]: c["kept_until"] for c in cases["cases"]}
    assert kept == {closed_ref: "2031-12-04", open_ref: "5 years after closing"}
