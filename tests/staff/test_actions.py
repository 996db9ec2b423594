"""Every staff action and transition, through the staff API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portal.deadlines import due_at


def deadline(case: dict[str, Any], name: str) -> dict[str, Any]:
    found = [d for d in case["deadlines"] if d["name"] == name]
    assert len(found) == 1, [d["name"] for d in case["deadlines"]]
    return found[0]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_information_request_from_notice_to_close(any_desk):
    """acknowledge, clarification (clock stops, reply restarts it), extend, answer, close."""
    desk = any_desk
    receipt = desk.submit_request()
    ref = receipt["reference"]
    received = desk.clock.now
    first_due = deadline(desk.staff_case(ref), "information-response")["due_at"]
    assert instant(first_due) == received + timedelta(days=14)

    desk.clock.advance(hours=1)
    response = desk.act(ref, action="acknowledge")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "in-progress"
    again = desk.act(ref, action="acknowledge")
    assert again.status_code == 409
    assert again.json["errors"][0]["field"] == "action"

    asked = desk.clock.advance(hours=2)
    response = desk.act(ref, action="request-clarification", message="Which version do you use?")
    assert response.status_code == 200, response.json
    case = response.json
    assert case["status"] == "clarification-requested"
    assert deadline(case, "information-response")["paused"] is True
    assert case["next_due_at"] is None
    public = desk.public_case(receipt)
    assert public["status"] == "clarification-requested"
    assert {
        "author": "staff",
        "body": "Which version do you use?",
        "sent_at": asked.isoformat(),
    } in (public["messages"])
    # While waiting, the clock is stopped: extending or asking again is refused.
    assert (
        desk.act(ref, action="extend", due_at="2027-06-01T10:00:00+02:00", reason="x").status_code
        == 409
    )
    assert desk.act(ref, action="request-clarification", message="again").status_code == 409

    replied = desk.clock.advance(days=3, hours=5, minutes=17)
    reply = desk.client.post(
        f"/api/v1/cases/{ref}/messages",
        json={"body": "Version 25.11."},
        headers={"Authorization": f"Bearer {receipt['access_token']}"},
    )
    assert reply.status_code == 201
    case = desk.staff_case(ref)
    assert case["status"] == "in-progress"
    response_deadline = deadline(case, "information-response")
    assert response_deadline["paused"] is False
    assert instant(response_deadline["trigger_at"]) == replied
    # A full new period from the reply's receipt, not what was left of the old one.
    assert instant(response_deadline["due_at"]) == due_at(replied, "14d", rule="exact")
    assert desk.public_case(receipt)["response_due"] == response_deadline["due_at"]

    desk.clock.advance(days=1)
    missing = desk.act(ref, action="extend")
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json["errors"]} == {"due_at", "reason"}
    earlier = desk.act(
        ref, action="extend", due_at=(replied + timedelta(days=2)).isoformat(), reason="Busy"
    )
    assert earlier.status_code == 422
    assert earlier.json["errors"] == [
        {"field": "due_at", "message": "must be later than the present due instant"}
    ]
    naive = desk.act(ref, action="extend", due_at="2027-01-30T10:00:00", reason="Busy")
    assert naive.status_code == 422
    later = "2027-01-29T18:00:00+01:00"
    response = desk.act(ref, action="extend", due_at=later, reason="The model team is on leave.")
    assert response.status_code == 200
    assert instant(deadline(response.json, "information-response")["due_at"]) == instant(later)
    public = desk.public_case(receipt)
    assert public["response_due"] == instant(later).astimezone(UTC).isoformat()
    assert public["extensions"][-1]["reason"] == "The model team is on leave."
    assert any("The model team is on leave." in m["body"] for m in public["messages"])

    answered = desk.clock.advance(days=2)
    response = desk.act(ref, action="answer", body="The context window is 128,000 tokens.")
    assert response.status_code == 200
    case = response.json
    assert case["status"] == "answered"
    assert instant(deadline(case, "information-response")["met_at"]) == answered
    public = desk.public_case(receipt)
    assert public["answer"]["body"] == "The context window is 128,000 tokens."
    assert [h["status"] for h in public["history"]] == [
        "received",
        "in-progress",
        "clarification-requested",
        "in-progress",
        "answered",
    ]
    assert desk.act(ref, action="answer", body="again").status_code == 409

    assert desk.act(ref, action="close").status_code == 422
    closed = desk.act(ref, action="close", reason="Answered; nothing more asked.")
    assert closed.status_code == 200
    assert closed.json["status"] == "closed"
    assert desk.act(ref, action="close", reason="again").status_code == 409
    assert "Answered; nothing more asked." not in str(desk.public_case(receipt))


def test_incident_reports_of_a_systemic_risk_model(any_desk):
    """Initial report, intermediate reports every 4 weeks until resolved, then the final one."""
    desk = any_desk
    receipt = (
        desk.submit_incident()
    )  # lumen-large-3: systemic risk; critical infrastructure: 2 days
    ref = receipt["reference"]
    case = desk.staff_case(ref)
    assert instant(deadline(case, "authority-report")["due_at"]) == desk.clock.now + timedelta(
        days=2
    )

    early = desk.act(
        ref,
        action="record-report",
        report="final",
        authority="AI Office",
        submitted_at=desk.clock.now.isoformat(),
    )
    assert early.status_code == 409
    desk.clock.advance(days=1)
    initial = desk.clock.now - timedelta(hours=1)
    response = desk.act(
        ref,
        action="record-report",
        report="initial",
        authority="AI Office",
        submitted_at=initial.isoformat(),
    )
    assert response.status_code == 200, response.json
    case = response.json
    assert instant(deadline(case, "authority-report")["met_at"]) == initial
    intermediate = deadline(case, "intermediate-report")
    assert instant(intermediate["due_at"]) == due_at(initial, "4w", rule="exact")
    assert case["next_deadline"] == "intermediate-report"
    assert (
        desk.act(
            ref,
            action="record-report",
            report="initial",
            authority="AI Office",
            submitted_at=initial.isoformat(),
        ).status_code
        == 409
    )

    desk.clock.advance(days=20)
    second = desk.clock.now
    response = desk.act(
        ref,
        action="record-report",
        report="intermediate",
        authority="AI Office",
        submitted_at=second.isoformat(),
    )
    assert response.status_code == 200
    case = response.json
    assert instant(deadline(case, "intermediate-report-1")["met_at"]) == second
    assert instant(deadline(case, "intermediate-report")["due_at"]) == due_at(
        second, "4w", rule="exact"
    )

    desk.clock.advance(days=3)
    future = desk.act(
        ref, action="resolve", resolved_at=(desk.clock.now + timedelta(days=1)).isoformat()
    )
    assert future.status_code == 422
    resolved = desk.clock.now - timedelta(hours=6)
    response = desk.act(ref, action="resolve", resolved_at=resolved.isoformat())
    assert response.status_code == 200
    case = response.json
    assert case["status"] == "resolved"
    names = [d["name"] for d in case["deadlines"]]
    assert "intermediate-report" not in names  # the chain ends with the resolution
    final = deadline(case, "final-report")
    assert instant(final["due_at"]) == due_at(resolved, "60d", rule="exact")
    assert case["next_due_at"] == final["due_at"]
    assert desk.act(ref, action="resolve", resolved_at=resolved.isoformat()).status_code == 409

    filed = desk.clock.advance(days=30)
    response = desk.act(
        ref,
        action="record-report",
        report="final",
        authority="AI Office",
        submitted_at=filed.isoformat(),
    )
    assert response.status_code == 200
    assert instant(deadline(response.json, "final-report")["met_at"]) == filed
    assert response.json["next_due_at"] is None
    assert desk.act(ref, action="close", reason="Reported and resolved.").json["status"] == "closed"


def test_a_high_risk_system_gets_no_intermediate_reports(high_risk_desk):
    desk = high_risk_desk
    receipt = desk.submit_incident(
        product="lumen-recruit", product_version=None, categories=["health"]
    )
    ref = receipt["reference"]
    case = desk.staff_case(ref)
    assert [d["name"] for d in case["deadlines"] if d["met_at"] is None] == ["authority-report"]
    response = desk.act(
        ref,
        action="record-report",
        report="initial",
        authority="CNIL",
        submitted_at=desk.clock.now.isoformat(),
    )
    assert response.status_code == 200
    assert [d["name"] for d in response.json["deadlines"] if d["met_at"] is None] == []


@pytest.mark.parametrize(
    ("kind", "payload", "status"),
    [
        ("incident", {"action": "answer", "body": "x"}, 409),
        ("incident", {"action": "extend", "due_at": "2030-01-01T00:00:00Z", "reason": "x"}, 409),
        ("incident", {"action": "request-clarification", "message": "x"}, 409),
        (
            "request",
            {
                "action": "record-report",
                "report": "initial",
                "authority": "x",
                "submitted_at": "2026-11-26T08:00:00Z",
            },
            409,
        ),
        ("request", {"action": "resolve", "resolved_at": "2026-11-26T08:00:00Z"}, 409),
        ("request", {"action": "fly"}, 422),
        ("request", {}, 422),
        ("request", {"action": "answer"}, 422),
        ("request", {"action": "answer", "body": "   "}, 422),
        ("request", {"action": "answer", "body": "x", "extra": 1}, 422),
        (
            "incident",
            {
                "action": "record-report",
                "report": "weekly",
                "authority": "x",
                "submitted_at": "2026-11-26T08:00:00Z",
            },
            422,
        ),
        ("incident", {"action": "resolve", "resolved_at": "yesterday"}, 422),
    ],
)
def test_refusals(desk, kind, payload, status):
    """A transition that does not apply is 409, a bad field 422; neither writes anything."""
    receipt = desk.submit_incident() if kind == "incident" else desk.submit_request()
    ref = receipt["reference"]
    before = desk.staff_case(ref)
    response = desk.client.post(
        f"/api/v1/staff/cases/{ref}/actions", json=payload, headers=desk.headers()
    )
    assert response.status_code == status, response.json
    assert response.json["errors"] and all("message" in e for e in response.json["errors"])
    assert desk.staff_case(ref) == before


def test_actions_on_a_closed_case_are_refused(desk):
    ref = desk.submit_request()["reference"]
    assert desk.act(ref, action="close", reason="Duplicate.").status_code == 200
    for payload in ({"action": "acknowledge"}, {"action": "answer", "body": "x"}):
        response = desk.act(ref, **payload)
        assert response.status_code == 409
        assert "closed" in response.json["errors"][0]["message"]


def test_body_must_be_json_and_case_must_exist(desk):
    ref = desk.submit_request()["reference"]
    form = desk.client.post(
        f"/api/v1/staff/cases/{ref}/actions", data={"action": "acknowledge"}, headers=desk.headers()
    )
    assert form.status_code == 415
    broken = desk.client.post(
        f"/api/v1/staff/cases/{ref}/actions",
        data="{",
        content_type="application/json",
        headers=desk.headers(),
    )
    assert broken.status_code == 400
    assert desk.act("REQ-2026-999999", action="acknowledge").status_code == 404


def test_staff_notes_never_reach_the_submitter(desk):
    receipt = desk.submit_request()
    ref = receipt["reference"]
    assert (
        desk.act(ref, action="note", note="Customer is a competitor; check with sales.").status_code
        == 200
    )
    assert "competitor" not in str(desk.public_case(receipt))
    audit = desk.staff_case(ref)["audit"]
    assert audit[-1]["action"] == "note" and audit[-1]["actor"] == "handler@example.com"


def test_clarification_is_mailed_to_the_requester(desk):
    from sqlalchemy import select

    from portal.cases.models import OutboxMail
    from portal.web import context

    ref = desk.submit_request()["reference"]
    desk.act(ref, action="request-clarification", message="Which deployment do you mean?")
    with desk.app.app_context(), context.new_session() as session:
        mails = session.scalars(select(OutboxMail).where(OutboxMail.case_reference == ref)).all()
    to_requester = [m for m in mails if m.recipient == "submitter" and "question" in m.subject]
    assert len(to_requester) == 1
    assert to_requester[0].to_address == "ada@example.com"
    assert "Which deployment do you mean?" in to_requester[0].body
