"""Outbox mail through a real SMTP server (aiosmtpd on localhost): sent once, retried on failure."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from support import Inbox, free_port, incident_body

from portal.cases import services
from portal.cases.db import make_sessionmaker
from portal.cases.models import OutboxMail
from portal.cases.schemas import IncidentSubmission
from portal.cases.wording import staff_deadline_title
from portal.catalog import Catalog
from portal.mail import CLAIM_FOR, Outgoing, SmtpBackend, send_pending

NOW = datetime(2026, 11, 26, 15, 30, 12, tzinfo=UTC)


def _submit(engine: Engine, catalog: Catalog) -> str:
    data = IncidentSubmission.model_validate(
        incident_body(), context={"catalog": catalog, "now": NOW}
    )
    with make_sessionmaker(engine)() as session:
        receipt = services.submit_incident(session, catalog, data, now=NOW)
    return receipt.access_token


def test_acknowledgement_and_legal_notice_are_sent_once(
    engine: Engine, catalog: Catalog, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    token = _submit(engine, catalog)
    sessions = make_sessionmaker(engine)
    backend = SmtpBackend("127.0.0.1", port)
    options = {"mail_from": "portal@example.org", "legal_team": "legal@example.org"}
    report = send_pending(sessions, backend, now=NOW, **options)
    assert (report.sent, report.failed) == (2, 0)
    assert sorted(m["To"] for m in inbox.messages) == ["ada@example.com", "legal@example.org"]
    for message in inbox.messages:
        body = message.get_payload(decode=True).decode()
        assert "INC-2026-000001" in body
        assert token not in body
        assert "water plant" not in body
    bodies = {m["To"]: m.get_payload(decode=True).decode() for m in inbox.messages}
    # Each in its reader's words: the customer's deadline, then the team's.
    assert (
        "Notice of the incident to us (from your awareness of it): due" in bodies["ada@example.com"]
    )
    assert (
        "Customer's notice to us (from their awareness of the incident): due"
        in bodies["legal@example.org"]
    )
    assert "Initial report to the authority: due" in bodies["legal@example.org"]
    again = send_pending(sessions, backend, now=NOW + timedelta(minutes=1), **options)
    assert (again.sent, again.failed) == (0, 0)
    assert len(inbox.messages) == 2


def test_mail_server_outage_loses_nothing(
    engine: Engine, catalog: Catalog, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    _submit(engine, catalog)
    sessions = make_sessionmaker(engine)
    options = {"mail_from": "portal@example.org", "legal_team": "legal@example.org"}
    down = SmtpBackend("127.0.0.1", free_port(), timeout=2)
    report = send_pending(sessions, down, now=NOW, **options)
    assert (report.sent, report.failed) == (0, 2)
    with sessions() as session:
        mails = session.scalars(select(OutboxMail)).all()
        assert all(m.sent_at is None and m.attempts == 1 and m.last_error for m in mails)
    up = SmtpBackend("127.0.0.1", port)
    # Not yet: the retry waits a minute.
    assert send_pending(sessions, up, now=NOW + timedelta(seconds=30), **options).sent == 0
    assert send_pending(sessions, up, now=NOW + timedelta(minutes=2), **options).sent == 2
    assert len(inbox.messages) == 2


def test_a_silent_mail_server_leaves_the_rest_of_the_batch_for_later(
    engine: Engine, catalog: Catalog, smtp: tuple[Inbox, int]
) -> None:
    """A server that takes the connection and never answers: each mail waits for the
    backend's timeout, so the batch stops after its budget, long before its claim runs out,
    and the mails it did not try are free for the next run, with no attempt counted."""
    inbox, port = smtp
    _submit(engine, catalog)
    sessions = make_sessionmaker(engine)
    options = {"mail_from": "portal@example.org", "legal_team": "legal@example.org"}
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        hanging = SmtpBackend("127.0.0.1", silent.getsockname()[1], timeout=0.5)
        report = send_pending(sessions, hanging, now=NOW, budget=0.2, **options)
    assert (report.sent, report.failed) == (0, 1)
    with sessions() as session:
        mails = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        assert [m.attempts for m in mails] == [1, 0]
        assert all(m.claimed_until is None and m.sent_at is None for m in mails)
    up = SmtpBackend("127.0.0.1", port)
    assert send_pending(sessions, up, now=NOW, **options).sent == 1  # the untried one, now
    assert send_pending(sessions, up, now=NOW + timedelta(minutes=2), **options).sent == 1
    assert len(inbox.messages) == 2


class _DiesAfterFirstMail(SmtpBackend):
    """Sends one mail, then the process "dies" (the exception nothing in the sender catches)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.sent = 0

    def send(self, mail: Outgoing) -> None:
        if self.sent == 1:
            raise KeyboardInterrupt
        super().send(mail)
        self.sent += 1


def test_a_sender_killed_mid_batch_sends_nothing_twice(
    engine: Engine, catalog: Catalog, smtp: tuple[Inbox, int]
) -> None:
    """What went out is recorded at once; the rest of the claim waits for it to run out."""
    inbox, port = smtp
    _submit(engine, catalog)
    _submit(engine, catalog)
    sessions = make_sessionmaker(engine)
    options = {"mail_from": "portal@example.org", "legal_team": "legal@example.org"}
    with pytest.raises(KeyboardInterrupt):
        send_pending(sessions, _DiesAfterFirstMail("127.0.0.1", port), now=NOW, **options)
    assert len(inbox.messages) == 1
    up = SmtpBackend("127.0.0.1", port)
    assert send_pending(sessions, up, now=NOW + timedelta(minutes=1), **options).sent == 0
    later = NOW + CLAIM_FOR + timedelta(seconds=1)
    assert send_pending(sessions, up, now=later, **options).sent == 3
    subjects = [(m["To"], m["Subject"]) for m in inbox.messages]
    assert len(subjects) == len(set(subjects)) == 4


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("incident-notification", "Customer's notice to us (from their awareness of the incident)"),
        ("authority-report", "Initial report to the authority"),
        ("intermediate-report", "Intermediate report to the authority"),
        ("intermediate-report-2", "Intermediate report 2 to the authority"),
        ("final-report", "Final report to the authority"),
        ("information-response", "Answer to the request"),
        ("something-new", "something-new"),
    ],
)
def test_the_team_reads_each_deadline_in_its_own_words(name: str, title: str) -> None:
    assert staff_deadline_title(name) == title
