"""The service layer on SQLite and PostgreSQL: what a submission writes, and what it never does."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from support import catalog_with_high_risk_system

from portal.cases import services
from portal.cases.audit import verify_chain
from portal.cases.db import make_sessionmaker
from portal.cases.models import AuditEvent, Case, Deadline, OutboxMail
from portal.cases.schemas import IncidentSubmission, InformationRequestSubmission
from portal.catalog import Catalog, load_catalog
from portal.deadlines import due_at

NOW = datetime(2026, 11, 26, 15, 30, 12, tzinfo=UTC)


def incident(catalog: Catalog, now: datetime = NOW, **changes: Any) -> IncidentSubmission:
    data: dict[str, Any] = {
        "product": "lumen-large-3",
        "product_version": "26.02",
        "category": "critical-infrastructure",
        "aware_at": "2026-11-25T10:00:00+01:00",
        "description": "The model's output stopped a water plant's dosing controller.",
        "member_states": ["FR", "be"],
        "reporter": {"organisation": "Acme", "name": "Ada", "email": "ada@example.com"},
    }
    data.update(changes)
    return IncidentSubmission.model_validate(data, context={"catalog": catalog, "now": now})


def request_for(catalog: Catalog, now: datetime = NOW) -> InformationRequestSubmission:
    data = {
        "products": ["lumen-medium-2", "lumen-code-2"],
        "topic": "integration",
        "questions": "What is the maximum context window of each version?",
        "requester": {"organisation": "Acme", "name": "Ada", "email": "ada@example.com"},
    }
    return InformationRequestSubmission.model_validate(
        data, context={"catalog": catalog, "now": now}
    )


def test_incident_writes_case_deadlines_audit_and_mail(engine: Engine, catalog: Catalog) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        receipt = services.submit_incident(session, catalog, incident(catalog), now=NOW)
    assert re.fullmatch(r"INC-2026-000001", receipt.reference)
    assert len(receipt.access_token) >= 43  # 256 bits, URL-safe base64
    with sessions() as session:
        case = session.scalars(select(Case)).one()
        assert case.reference == receipt.reference
        assert case.status == "received"
        assert case.received_at == NOW
        assert receipt.access_token not in case.token_hash
        deadlines = {d.name: d for d in session.scalars(select(Deadline))}
        assert set(deadlines) == {"incident-notification", "authority-report"}
        notice = deadlines["incident-notification"]
        assert notice.trigger_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
        assert notice.due_at == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        assert notice.met_at == NOW
        report = deadlines["authority-report"]
        # critical-infrastructure on a systemic-risk model: 2 days from receipt.
        assert report.due_at == NOW + timedelta(days=2)
        assert case.next_due_at == report.due_at
        mails = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        assert [m.recipient for m in mails] == ["submitter", "legal-team"]
        assert mails[0].to_address == "ada@example.com"
        for mail in mails:
            assert receipt.reference in mail.body
            assert receipt.access_token not in mail.body
            assert "water plant" not in mail.body
        events = session.scalars(select(AuditEvent)).all()
        assert [(e.action, e.case_reference) for e in events] == [
            ("case-received", receipt.reference)
        ]
        assert verify_chain(session) == []


def test_receipt_fields_follow_the_contract(engine: Engine, catalog: Catalog) -> None:
    with make_sessionmaker(engine)() as session:
        receipt = services.submit_incident(session, catalog, incident(catalog), now=NOW)
    fields = services.receipt_fields(receipt)
    assert fields == {
        "reference": "INC-2026-000001",
        "access_token": receipt.access_token,
        "status": "received",
        "received_at": "2026-11-26T15:30:12+00:00",
        "notification_due": "2026-11-27T09:00:00+00:00",
        "notified_on_time": True,
        "authority_report_due": "2026-11-28T15:30:12+00:00",
    }


def test_late_notice_is_accepted_and_flagged(engine: Engine, catalog: Catalog) -> None:
    late = incident(catalog, aware_at="2026-11-20T10:00:00+01:00")
    with make_sessionmaker(engine)() as session:
        receipt = services.submit_incident(session, catalog, late, now=NOW)
    fields = services.receipt_fields(receipt)
    assert fields["notified_on_time"] is False
    assert fields["notification_due"] == "2026-11-22T09:00:00+00:00"


def test_no_authority_deadline_for_a_plain_model(engine: Engine, catalog: Catalog) -> None:
    plain = incident(catalog, product="lumen-medium-2", product_version=None)
    with make_sessionmaker(engine)() as session:
        receipt = services.submit_incident(session, catalog, plain, now=NOW)
        fields = services.receipt_fields(receipt)
    assert fields["authority_report_due"] is None
    assert receipt.case.next_due_at is None


def test_high_risk_system_gets_article_73_deadline(engine: Engine, tmp_path: Path) -> None:
    catalog = load_catalog(catalog_with_high_risk_system(tmp_path))
    data = incident(catalog, product="lumen-recruit", product_version=None, category="death")
    with make_sessionmaker(engine)() as session:
        receipt = services.submit_incident(session, catalog, data, now=NOW)
    fields = services.receipt_fields(receipt)
    expected = due_at(NOW, "10d", rule="exact", timezone="Europe/Paris", holidays="FR")
    assert fields["authority_report_due"] == expected.isoformat()


def test_information_request_is_due_in_14_days(engine: Engine, catalog: Catalog) -> None:
    with make_sessionmaker(engine)() as session:
        receipt = services.submit_information_request(
            session, catalog, request_for(catalog), now=NOW
        )
    fields = services.receipt_fields(receipt)
    assert fields["reference"] == "REQ-2026-000001"
    assert fields["response_due"] == "2026-12-10T15:30:12+00:00"
    assert "notification_due" not in fields


def test_references_count_per_kind_and_year(engine: Engine, catalog: Catalog) -> None:
    sessions = make_sessionmaker(engine)
    next_year = datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)
    with sessions() as session:
        refs = [
            services.submit_incident(session, catalog, incident(catalog), now=NOW).reference,
            services.submit_information_request(
                session, catalog, request_for(catalog), now=NOW
            ).reference,
            services.submit_incident(session, catalog, incident(catalog), now=NOW).reference,
            services.submit_incident(
                session, catalog, incident(catalog, now=next_year), now=next_year
            ).reference,
        ]
    assert refs == ["INC-2026-000001", "REQ-2026-000001", "INC-2026-000002", "INC-2027-000001"]


def test_references_unique_under_concurrent_submissions(engine: Engine, catalog: Catalog) -> None:
    """Eight threads submitting at once never share a reference nor skip one."""
    sessions = make_sessionmaker(engine)
    references: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    data = incident(catalog)

    def work() -> None:
        try:
            for _ in range(10):
                with sessions() as session:
                    ref = services.submit_incident(session, catalog, data, now=NOW).reference
                with lock:
                    references.append(ref)
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(references) == [f"INC-2026-{n:06d}" for n in range(1, 81)]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 80
        assert verify_chain(session) == []


def test_find_case_needs_reference_and_token(engine: Engine, catalog: Catalog) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        receipt = services.submit_incident(session, catalog, incident(catalog), now=NOW)
    with sessions() as session:
        assert services.find_case(session, receipt.reference, receipt.access_token) is not None
        assert services.find_case(session, receipt.reference, "wrong") is None
        assert services.find_case(session, receipt.reference, None) is None
        assert services.find_case(session, receipt.reference, "") is None
        assert services.find_case(session, "INC-2026-000002", receipt.access_token) is None
        assert services.find_case(session, "nonsense", receipt.access_token) is None


def test_message_is_added_audited_and_announced(engine: Engine, catalog: Catalog) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        receipt = services.submit_incident(session, catalog, incident(catalog), now=NOW)
    later = NOW + timedelta(hours=2)
    with sessions() as session:
        case = services.find_case(session, receipt.reference, receipt.access_token)
        assert case is not None
        services.add_message(session, case, "The plant is running again.", now=later)
    with sessions() as session:
        case = services.find_case(session, receipt.reference, receipt.access_token)
        assert case is not None
        view = services.submitter_view(case, catalog.policy)
        assert view["messages"] == [
            {
                "author": "submitter",
                "body": "The plant is running again.",
                "sent_at": later.isoformat(),
            }
        ]
        assert view["updated_at"] == later.isoformat()
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        assert actions == ["case-received", "message-added"]
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 3
        assert verify_chain(session) == []


def test_submitter_view_explains_each_deadline(engine: Engine, catalog: Catalog) -> None:
    with make_sessionmaker(engine)() as session:
        receipt = services.submit_incident(session, catalog, incident(catalog), now=NOW)
        view = services.submitter_view(receipt.case, catalog.policy)
    assert view["kind"] == "incident"
    assert view["submitted"]["aware_at"] == "2026-11-25T09:00:00+00:00"
    assert view["submitted"]["member_states"] == ["FR", "BE"]
    notice = view["deadlines"][0]
    assert notice["name"] == "incident-notification"
    assert notice["due_at"] == "2026-11-27T09:00:00+00:00"
    assert notice["due_local"] == "2026-11-27T10:00:00+01:00"
    assert any("48 hours" in step for step in notice["explanation"])
    assert notice["explanation"][-1].startswith("Met on")


def test_audit_log_refuses_update_and_delete(engine: Engine, catalog: Catalog) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        services.submit_incident(session, catalog, incident(catalog), now=NOW)
    for statement in (
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
    ):
        with sessions() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
