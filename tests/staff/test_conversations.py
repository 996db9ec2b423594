"""Conversations both ways and duplicates (issue 18): staff write to any submitter, a customer
writing after the answer needs a person, a request reopens, a duplicate closes and links."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from portal.cases.models import OutboxMail
from portal.web import context


def _mails_to_submitter(desk: Any, reference: str) -> list[OutboxMail]:
    with desk.app.app_context(), context.new_session() as session:
        return list(
            session.scalars(
                select(OutboxMail).where(
                    OutboxMail.case_reference == reference, OutboxMail.recipient == "submitter"
                )
            )
        )


def test_staff_write_to_an_incident_reporter(any_desk):
    desk = any_desk
    receipt = desk.submit_incident()
    ref = receipt["reference"]
    answer = desk.act(ref, action="message", body="Could you send the model's exact answer?")
    assert answer.status_code == 200, answer.json
    mails = [m for m in _mails_to_submitter(desk, ref) if "A message about" in m.subject]
    assert len(mails) == 1
    assert "Could you send the model's exact answer?" in mails[0].body
    assert receipt["access_token"] not in mails[0].body
    assert "access code" in mails[0].body
    seen = desk.public_case(receipt)
    assert seen["messages"][-1]["body"] == "Could you send the model's exact answer?"


def test_a_message_after_the_answer_needs_a_person_and_a_reopened_request_restarts(any_desk):
    desk = any_desk
    receipt = desk.submit_request()
    ref = receipt["reference"]
    assert (
        desk.act(ref, action="answer", body="Version 25.11 reads 128k tokens.").status_code == 200
    )
    assert desk.staff_case(ref)["needs_attention"] is False
    desk.clock.advance(days=2)
    posted = desk.client.post(
        f"/api/v1/cases/{ref}/messages",
        json={"body": "And for version 26.02, with images too?"},
        headers={"Authorization": f"Bearer {receipt['access_token']}"},
    )
    assert posted.status_code == 201
    case = desk.staff_case(ref)
    assert (case["status"], case["needs_attention"]) == ("answered", True)
    reopened = desk.act(ref, action="reopen", reason="A new, precise question.", restart_clock=True)
    assert reopened.status_code == 200, reopened.json
    case = desk.staff_case(ref)
    assert (case["status"], case["needs_attention"]) == ("in-progress", False)
    running = [d for d in case["deadlines"] if d["met_at"] is None]
    assert [d["name"] for d in running] == ["information-response"]
    assert datetime.fromisoformat(running[0]["due_at"]) == desk.clock.now + timedelta(days=14)
    assert "information-response-1" in [d["name"] for d in case["deadlines"]]


def test_reopening_without_a_new_clock_keeps_the_met_deadline(desk):
    ref = desk.submit_request()["reference"]
    desk.act(ref, action="answer", body="Done.")
    assert desk.act(ref, action="reopen", reason="Follow-up.").status_code == 200
    case = desk.staff_case(ref)
    assert case["status"] == "in-progress"
    assert all(d["met_at"] is not None for d in case["deadlines"])


def test_a_duplicate_closes_links_both_ways_and_stops_its_clocks(any_desk):
    desk = any_desk
    first = desk.submit_incident()["reference"]
    again = desk.submit_incident()["reference"]
    assert desk.act(again, action="mark-duplicate", of=again).status_code == 422
    assert desk.act(again, action="mark-duplicate", of="INC-2026-999999").status_code == 422
    answer = desk.act(again, action="mark-duplicate", of=first)
    assert answer.status_code == 200, answer.json
    case = desk.staff_case(again)
    assert (case["status"], case["duplicate_of"]) == ("closed", first)
    assert all(d["met_at"] is not None or d["paused"] for d in case["deadlines"])
    assert case["next_due_at"] is None
    assert desk.staff_case(first)["duplicates"] == [again]
    # Not listed among open cases.
    listed = desk.client.get("/api/v1/staff/cases", headers=desk.headers()).json
    assert again not in {c["reference"] for c in listed["cases"]}


def test_mails_link_to_the_page_to_act_on_and_never_hold_the_code(desk):
    receipt = desk.submit_incident()
    ref = receipt["reference"]
    desk.act(ref, action="message", body="Please call us.")
    with desk.app.app_context(), context.new_session() as session:
        mails = list(session.scalars(select(OutboxMail).where(OutboxMail.case_reference == ref)))
    assert {m.recipient for m in mails} == {"submitter", "legal-team"}
    for mail in mails:
        assert receipt["access_token"] not in mail.body
        if mail.recipient == "submitter":
            assert f"http://localhost/status?reference={ref}" in mail.body
        else:
            assert f"http://localhost/staff/cases/{ref}" in mail.body
    page = desk.client.get(f"/status?reference={ref}")
    assert f'value="{ref}"' in page.text


def test_the_configured_site_url_is_used_in_mails(sqlite_url, tmp_path):
    from support import incident_body, make_test_app

    app = make_test_app(sqlite_url, tmp_path, SITE_URL="https://ai-act.example.com/")
    answer = app.test_client().post("/api/v1/incidents", json=incident_body())
    ref = answer.json["reference"]
    with app.app_context(), context.new_session() as session:
        bodies = [m.body for m in session.scalars(select(OutboxMail))]
    assert any(f"https://ai-act.example.com/status?reference={ref}" in b for b in bodies)
    assert any(f"https://ai-act.example.com/staff/cases/{ref}" in b for b in bodies)
    app.extensions[context.ENGINE].dispose()


def _listed(desk: Any, **query: Any) -> list[dict[str, Any]]:
    answer = desk.client.get("/api/v1/staff/cases", query_string=query, headers=desk.headers())
    assert answer.status_code == 200, answer.json
    return list(answer.json["cases"])


def test_a_customer_message_after_the_answer_puts_the_case_first(any_desk):
    desk = any_desk
    waiting = desk.submit_request()["reference"]
    desk.act(waiting, action="acknowledge")
    receipt = desk.submit_request()
    answered = receipt["reference"]
    desk.act(answered, action="answer", body="Here is our answer.")
    assert [c["reference"] for c in _listed(desk)] == [waiting, answered]
    desk.clock.advance(hours=1)
    desk.client.post(
        f"/api/v1/cases/{answered}/messages",
        json={"body": "One more question."},
        headers={"Authorization": f"Bearer {receipt['access_token']}"},
    )
    cases = _listed(desk)
    assert [c["reference"] for c in cases] == [answered, waiting]
    assert cases[0]["badges"] == ["Needs attention", "1 unread message"]
    assert cases[0]["unread_messages"] == 1


def test_opening_the_case_page_reads_its_messages(desk):
    receipt = desk.submit_request()
    ref = receipt["reference"]
    desk.act(ref, action="acknowledge")
    desk.client.post(
        f"/api/v1/cases/{ref}/messages",
        json={"body": "Any news?"},
        headers={"Authorization": f"Bearer {receipt['access_token']}"},
    )
    assert _listed(desk)[0]["unread_messages"] == 1
    client = desk.signed_in()
    page = client.get("/staff/")
    assert "1 unread message" in page.text
    assert client.get(f"/staff/cases/{ref}").status_code == 200
    assert _listed(desk)[0]["unread_messages"] == 0
    assert _listed(desk)[0]["badges"] == []


def test_assign_filter_mine_and_search(desk):
    first = desk.submit_incident(description="The model leaked a customer's salary data.")
    second = desk.submit_request(questions="What is the context window of lumen-medium-2?")
    ref_one, ref_two = first["reference"], second["reference"]
    assert desk.act(ref_one, action="assign", to="handler@example.com").status_code == 200
    assert desk.act(ref_two, action="assign", to="nobody@example.com").status_code == 422
    assert [c["reference"] for c in _listed(desk, assignee="handler@example.com")] == [ref_one]
    assert desk.staff_case(ref_one)["assigned_to"] == "handler@example.com"
    assert [c["reference"] for c in _listed(desk, q="SALARY data")] == [ref_one]
    assert [c["reference"] for c in _listed(desk, q="context window")] == [ref_two]
    assert [c["reference"] for c in _listed(desk, q=ref_two.lower())] == [ref_two]
    assert [c["reference"] for c in _listed(desk, q="acme water")] == [ref_one]  # organisation
    assert _listed(desk, q="100%") == []
    client = desk.signed_in()
    mine = client.get("/staff/?mine=1")
    assert ref_one in mine.text and ref_two not in mine.text
    assert desk.act(ref_one, action="assign", to="").status_code == 200
    assert desk.staff_case(ref_one)["assigned_to"] is None
