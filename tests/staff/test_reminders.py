"""`portal remind` against a real SMTP server (aiosmtpd): once per deadline and threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import incident_body, request_body

from portal.cases import accounts, actions, services
from portal.cases.db import make_engine, make_sessionmaker
from portal.cases.schemas import IncidentSubmission, InformationRequestSubmission
from portal.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _instance_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands find their keys as the app does: here, in the test's folder."""
    monkeypatch.setenv("PORTAL_DATA_KEY_FILE", str(tmp_path / "keys" / "data-key"))
    monkeypatch.setenv("PORTAL_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-key.pem"))


def _remind(database_url: str, port: int):
    env = {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_CATALOG_DIR": str(ROOT / "catalog"),
        "PORTAL_MAIL_BACKEND": "smtp",
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(port),
        "PORTAL_MAIL_SENDER_THREAD": "false",
    }
    return CliRunner().invoke(cli, ["remind"], env=env)


def test_reminders_are_sent_once_per_deadline_and_threshold(database_url, catalog, smtp):
    inbox, port = smtp
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions() as session:
        for email, role in (
            ("h@example.com", "handler"),
            ("a@example.com", "admin"),
            ("v@example.com", "viewer"),
            ("gone@example.com", "handler"),
        ):
            accounts.add_user(session, email, role, "a long enough password", actor="t", now=now)
        accounts.disable_user(session, "gone@example.com", actor="t", now=now)
        # An initial report due in about 23 hours (2 days from a receipt 25 hours ago).
        received = now - timedelta(hours=25)
        incident = IncidentSubmission.model_validate(
            incident_body(
                aware_at=(received - timedelta(hours=1)).isoformat(),
                started_at=(received - timedelta(hours=2)).isoformat(),
            ),
            context={"catalog": catalog, "now": received},
        )
        soon = services.submit_incident(session, catalog, incident, now=received).reference
        # An answer overdue since yesterday (14 days from a receipt 15 days ago).
        asked = InformationRequestSubmission.model_validate(
            request_body(), context={"catalog": catalog, "now": now}
        )
        late = services.submit_information_request(
            session, catalog, asked, now=now - timedelta(days=15)
        ).reference
        # Nothing to say about one due in a week, or one already answered.
        services.submit_information_request(session, catalog, asked, now=now - timedelta(days=7))
        answered = services.submit_information_request(
            session, catalog, asked, now=now - timedelta(days=20)
        ).reference
        case = actions.find_case_for_staff(session, answered)
        actions.act(
            session, catalog, case, {"action": "answer", "body": "Done."}, actor="t", now=now
        )
        session.query  # noqa: B018 - keep the session open for the outbox below
    # The submitters' own mail (receipts) is not what this test counts.
    with engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("UPDATE outbox SET sent_at = :now"), {"now": now})

    first = _remind(database_url, port)
    assert first.exit_code == 0, first.output
    assert "2 new reminders queued for 2 handlers" in first.output
    assert sorted(m["To"] for m in inbox.messages) == ["a@example.com", "h@example.com"]
    body = inbox.messages[0].get_content()
    assert late in body and soon in body
    assert "overdue by 24 h" in body
    assert "due in 22 h" in body or "due in 23 h" in body

    second = _remind(database_url, port)
    assert second.exit_code == 0
    assert "0 new reminders" in second.output
    assert len(inbox.messages) == 2

    # Extending the overdue answer arms its reminders again, for the new due instant.
    with sessions() as session:
        case = actions.find_case_for_staff(session, late)
        actions.act(
            session,
            catalog,
            case,
            {
                "action": "extend",
                "due_at": (now + timedelta(hours=5)).isoformat(),
                "reason": "Leave.",
            },
            actor="t",
            now=now,
        )
    third = _remind(database_url, port)
    assert "1 new reminders queued" in third.output
    # The requester is told of the extension; each handler gets one new reminder.
    to_handlers = [m for m in inbox.messages if m["To"] in ("a@example.com", "h@example.com")]
    assert len(to_handlers) == 4
    assert "due in 4 h" in to_handlers[-1].get_content()
    assert [m["To"] for m in inbox.messages if m not in to_handlers] == ["ada@example.com"]
    engine.dispose()
