"""Issue 15's incident clocks through the staff API: several categories, the model under the
product, the provider's awareness, and corrections by staff, each in the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from portal.cases.wording import AWARENESS_SOURCES

from .conftest import csrf_of  # noqa: TID252


def _authority(case: dict[str, Any]) -> dict[str, Any] | None:
    found = [d for d in case["deadlines"] if d["name"] == "authority-report"]
    return found[0] if found else None


def _due(case: dict[str, Any]) -> datetime:
    report = _authority(case)
    assert report is not None, [d["name"] for d in case["deadlines"]]
    return datetime.fromisoformat(report["due_at"])


def test_death_at_critical_infrastructure_is_due_in_two_days(any_desk):
    desk = any_desk
    receipt = desk.submit_incident(categories=["death", "critical-infrastructure"])
    case = desk.staff_case(receipt["reference"])
    assert case["categories"] == ["death", "critical-infrastructure"]
    assert _due(case) == desk.clock.now + timedelta(days=2)
    assert _authority(case)["basis"] == (
        "category critical-infrastructure, gpai-systemic-risk (lumen-large-3)"
    )
    assert case["provider_aware_at"] == desk.clock.now.isoformat()
    assert case["awareness_source"] == "customer-notice"


def test_the_old_single_category_field_still_works(desk):
    receipt = desk.submit_incident(categories=None, category="death")
    case = desk.staff_case(receipt["reference"])
    assert case["categories"] == ["death"]
    assert _due(case) == desk.clock.now + timedelta(days=10)


def test_an_ai_system_on_a_systemic_risk_model_gets_its_clocks(any_desk):
    desk = any_desk
    receipt = desk.submit_incident(
        product="lumen-chat", product_version=None, categories=["health"]
    )
    ref = receipt["reference"]
    case = desk.staff_case(ref)
    assert _due(case) == desk.clock.now + timedelta(days=15)
    assert "(lumen-large-3)" in _authority(case)["basis"]
    # And, as for the model itself, each report opens the next intermediate one.
    filed = desk.clock.advance(days=1)
    answer = desk.act(
        ref, action="record-report", report="initial", authority="AI Office",
        submitted_at=filed.isoformat(),
    )  # fmt: skip
    assert answer.status_code == 200, answer.json
    names = [d["name"] for d in desk.staff_case(ref)["deadlines"]]
    assert "intermediate-report" in names


def test_a_model_without_systemic_risk_has_no_authority_clock(desk):
    receipt = desk.submit_incident(product="lumen-medium-2", product_version=None)
    assert _authority(desk.staff_case(receipt["reference"])) is None


def test_earlier_awareness_moves_the_report_earlier_and_is_audited(any_desk):
    desk = any_desk
    receipt = desk.submit_incident(categories=["death"])
    ref = receipt["reference"]
    received = desk.clock.now
    before = _due(desk.staff_case(ref))
    desk.clock.advance(hours=3)
    aware = received - timedelta(days=1)
    answer = desk.act(
        ref, action="set-awareness", aware_at=aware.isoformat(), source="own-monitoring",
        reason="Our monitoring flagged it the day before.",
    )  # fmt: skip
    assert answer.status_code == 200, answer.json
    case = desk.staff_case(ref)
    assert _due(case) == before - timedelta(days=1)
    assert case["provider_aware_at"] == aware.isoformat()
    assert case["awareness_source"] == "own-monitoring"
    event = case["audit"][-1]
    assert event["action"] == "set-awareness"
    assert event["changes"]["awareness_source"] == ["customer-notice", "own-monitoring"]
    assert event["changes"]["due_at"] == [before.isoformat(), _due(case).isoformat()]
    # The draft report says when and how, in the provider's zone.
    draft = desk.client.get(f"/api/v1/staff/cases/{ref}/report.md", headers=desk.headers()).text
    assert f"We became aware ({AWARENESS_SOURCES['own-monitoring'].lower()})" in draft


def test_awareness_after_the_notice_or_in_the_future_is_refused(desk):
    receipt = desk.submit_incident()
    ref = receipt["reference"]
    received = desk.clock.now
    desk.clock.advance(hours=5)
    for aware in (received + timedelta(hours=1), desk.clock.now + timedelta(days=1)):
        answer = desk.act(
            ref, action="set-awareness", aware_at=aware.isoformat(), source="media", reason="x"
        )
        assert answer.status_code == 422, answer.json
        assert answer.json["errors"][0]["field"] == "aware_at"
    wrong = desk.act(
        ref, action="set-awareness", aware_at=received.isoformat(), source="rumour", reason="x"
    )
    assert wrong.status_code == 422
    assert wrong.json["errors"][0]["field"] == "source"
    assert desk.staff_case(ref)["audit"][-1]["action"] == "case-received"


def test_staff_correct_the_categories_and_the_clock_follows(any_desk):
    desk = any_desk
    receipt = desk.submit_incident(categories=["health"])
    ref = receipt["reference"]
    received = desk.clock.now
    assert _due(desk.staff_case(ref)) == received + timedelta(days=15)
    desk.clock.advance(hours=1)
    answer = desk.act(
        ref, action="set-categories", categories=["health", "critical-infrastructure"],
        reason="The clinic's power plant was hit too.",
    )  # fmt: skip
    assert answer.status_code == 200, answer.json
    case = desk.staff_case(ref)
    assert case["categories"] == ["health", "critical-infrastructure"]
    assert _due(case) == received + timedelta(days=2)  # still from the awareness
    assert case["audit"][-1]["action"] == "set-categories"
    assert case["audit"][-1]["changes"]["categories"] == [
        ["health"],
        ["health", "critical-infrastructure"],
    ]
    bad = desk.act(ref, action="set-categories", categories=[], reason="none")
    assert bad.status_code == 422


def test_a_filed_report_keeps_its_deadline(desk):
    receipt = desk.submit_incident(categories=["health"])
    ref = receipt["reference"]
    due = _due(desk.staff_case(ref))
    filed = desk.clock.advance(days=1)
    desk.act(
        ref, action="record-report", report="initial", authority="AI Office",
        submitted_at=filed.isoformat(),
    )  # fmt: skip
    desk.act(ref, action="set-categories", categories=["death"], reason="It was fatal.")
    case = desk.staff_case(ref)
    assert _due(case) == due
    assert _authority(case)["met_at"] == filed.isoformat()


def _staff_incident(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "product": "lumen-ultra",
        "categories": ["death"],
        "aware_at": "2026-11-26T07:30:00+00:00",  # 90 minutes before the desk's clock
        "source": "media",
        "description": "A newspaper reports a death linked to the model's advice.",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_staff_open_an_incident_with_the_same_clocks(any_desk):
    desk = any_desk
    answer = desk.client.post(
        "/api/v1/staff/incidents", json=_staff_incident(), headers=desk.headers()
    )
    assert answer.status_code == 201, answer.json
    case = answer.json
    assert case["reference"].startswith("INC-")
    assert answer.headers["Location"].endswith(f"/api/v1/staff/cases/{case['reference']}")
    assert [d["name"] for d in case["deadlines"]] == ["authority-report"]
    aware = datetime.fromisoformat("2026-11-26T07:30:00+00:00")
    assert _due(case) == aware + timedelta(days=10)
    assert (case["provider_aware_at"], case["awareness_source"]) == (aware.isoformat(), "media")
    assert case["audit"][-1]["action"] == "case-opened"
    assert case["audit"][-1]["actor"] == "handler@example.com"
    assert "source" not in case["submitted"]
    draft = desk.client.get(
        f"/api/v1/staff/cases/{case['reference']}/report.md", headers=desk.headers()
    ).text
    assert "We became aware (the media)" in draft


def test_staff_incidents_are_checked_like_notices(desk):
    for changes, field in (
        ({"source": None}, "source"),
        ({"source": "gossip"}, "source"),
        ({"aware_at": "2026-11-27T09:00:00+00:00"}, "aware_at"),  # a day ahead of the clock
        ({"product": "nope"}, "product"),
    ):
        answer = desk.client.post(
            "/api/v1/staff/incidents", json=_staff_incident(**changes), headers=desk.headers()
        )
        assert answer.status_code == 422, changes
        assert field in {e["field"] for e in answer.json["errors"]}
    viewer = desk.client.post(
        "/api/v1/staff/incidents", json=_staff_incident(), headers=desk.headers("viewer")
    )
    assert viewer.status_code == 403


def test_the_pages_open_an_incident_and_correct_its_clocks(desk):
    client = desk.signed_in()
    page = client.get("/staff/incidents/new")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page.text),
        "product": "lumen-chat",
        "categories": ["health", "death"],
        "aware_at": "2026-11-26T08:15",  # Paris: 07:15 UTC
        "source": "own-monitoring",
        "description": "Our monitoring saw the assistant advise a lethal dose.",
        "member_states": "fr, de",
    }
    missing = client.post("/staff/incidents/new", data={**form, "categories": []})
    assert missing.status_code == 422
    assert "The incident was not opened" in missing.text
    opened = client.post("/staff/incidents/new", data=form)
    assert opened.status_code == 302
    ref = opened.headers["Location"].rsplit("/", 1)[-1]
    case = desk.staff_case(ref)
    aware = datetime.fromisoformat("2026-11-26T07:15:00+00:00")
    assert case["provider_aware_at"] == aware.isoformat()
    assert _due(case) == aware + timedelta(days=10)
    assert case["submitted"]["member_states"] == ["FR", "DE"]

    page = client.get(f"/staff/cases/{ref}")
    assert "Set by category death, gpai-systemic-risk (lumen-large-3)." in page.text
    assert "Our own monitoring" in page.text
    corrected = client.post(
        f"/staff/cases/{ref}/actions",
        data={
            "csrf_token": csrf_of(page.text),
            "action": "set-categories",
            "categories": ["critical-infrastructure"],
            "reason": "It hit a hospital's power supply.",
        },
    )
    assert corrected.status_code == 302
    assert _due(desk.staff_case(ref)) == aware + timedelta(days=2)
    earlier = client.post(
        f"/staff/cases/{ref}/actions",
        data={
            "csrf_token": csrf_of(page.text),
            "action": "set-awareness",
            "aware_at": "2026-11-25T08:15",
            "source": "media",
            "reason": "A paper had it the day before.",
        },
    )
    assert earlier.status_code == 302
    assert _due(desk.staff_case(ref)) == aware + timedelta(days=1)
