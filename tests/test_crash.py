"""Crash test: SIGKILL `portal serve` under concurrent submissions, restart, and count.

Every submission that got a receipt, through the API or the HTML form, must be there after
the restart, readable with its reference and access code; no reference may appear twice;
and no acknowledgement mail goes out twice: a receipt is a promise.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support import Inbox, PortalServer, incident_body, request_body

from portal.cases.db import make_engine, make_sessionmaker
from portal.cases.models import Case, OutboxMail

pytestmark = pytest.mark.slow

FORM = {
    "product": "lumen-large-3",
    "category": "death",
    "timezone": "Europe/Paris",
    "aware_at": "2026-11-26T08:00",
    "description": "The model gave a lethal dosage.",
    "member_states": "FR",
    "affected_persons": "2",
    "reporter.organisation": "Example Health SAS",
    "reporter.name": "Camille Martin",
    "reporter.email": "camille@example.com",
    "reporter.capacity": "deployer",
}


@pytest.fixture
def server(database_url: str, tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[PortalServer]:
    _, smtp_port = smtp
    running = PortalServer(
        database_url,
        tmp_path,
        PORTAL_MAIL_BACKEND="smtp",
        PORTAL_SMTP_HOST="127.0.0.1",
        PORTAL_SMTP_PORT=str(smtp_port),
        PORTAL_LEGAL_TEAM_EMAIL="legal@example.org",
    )
    yield running
    running.stop()


def _through_the_form(port: int) -> tuple[str, str] | None:
    """File the incident form as a browser would; its receipt, or None without one."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    url = f"http://127.0.0.1:{port}/report-incident"
    with opener.open(url, timeout=10) as page:
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.read().decode())
    assert token, "no CSRF token on the form"
    data = urllib.parse.urlencode({**FORM, "csrf_token": token.group(1)}).encode()
    with opener.open(url, data=data, timeout=10) as answer:
        html = answer.read().decode()
    reference = re.search(r'id="reference">([^<]+)<', html)
    code = re.search(r'id="access-token">([^<]+)<', html)
    assert reference and code, html[:500]
    return reference.group(1), code.group(1)


def _through_the_api(server: PortalServer, kind: int) -> tuple[str, str] | None:
    path, body = (
        ("/api/v1/incidents", incident_body())
        if kind
        else ("/api/v1/information-requests", request_body())
    )
    status, answer = server.request("POST", path, body)
    return (str(answer["reference"]), str(answer["access_token"])) if status == 201 else None


def test_every_receipt_survives_sigkill(
    server: PortalServer, database_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    server.start()
    receipts: list[tuple[str, str]] = []
    by_form: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def submit(kind: int) -> None:
        while not stop.is_set():
            try:
                receipt = (
                    _through_the_form(server.port) if kind == 2 else _through_the_api(server, kind)
                )
            except (OSError, http.client.HTTPException, ValueError):
                continue  # the server is gone: this submission got no receipt
            if receipt:
                with lock:
                    receipts.append(receipt)
                    if kind == 2:
                        by_form.append(receipt[0])

    threads = [threading.Thread(target=submit, args=(n % 3,)) for n in range(9)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while (len(receipts) < 60 or len(by_form) < 10) and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(15)
    acknowledged = list(receipts)
    assert len(acknowledged) >= 60, "too few submissions before the kill to mean anything"
    assert len(by_form) >= 10, "too few form submissions before the kill"

    server.start()
    for reference, token in acknowledged:
        status, view = server.request("GET", f"/api/v1/cases/{reference}", token=token)
        assert status == 200, reference
        assert view["reference"] == reference
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(Case))
        distinct = session.scalar(select(func.count(func.distinct(Case.reference))))
    assert total == distinct
    assert len({ref for ref, _ in acknowledged}) == len(acknowledged)
    assert total is not None and total >= len(acknowledged)

    # The restarted sender sends what is due; what the killed one had claimed waits for its
    # claim to run out (minutes), so it is in doubt here, never sent twice.
    def acknowledgements() -> list[OutboxMail]:
        with sessions() as session:
            return list(
                session.scalars(select(OutboxMail).where(OutboxMail.recipient != "legal-team"))
            )

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        waiting = [m for m in acknowledgements() if m.sent_at is None and not _claimed(m, now)]
        if not waiting:
            break
        time.sleep(0.2)
    assert not waiting, f"{len(waiting)} acknowledgements neither sent nor claimed"
    time.sleep(0.5)  # the last mail's delivery to the inbox's thread
    delivered = Counter(
        str(m["Subject"]).rsplit(": ", 1)[-1]
        for m in inbox.messages
        if str(m["Subject"]).startswith("We received your")
    )
    assert max(delivered.values()) == 1, delivered.most_common(3)
    rows = acknowledgements()
    sent = {m.case_reference for m in rows if m.sent_at is not None}
    assert sent <= set(delivered), "an acknowledgement recorded as sent never arrived"
    assert {ref for ref, _ in acknowledged} <= {m.case_reference for m in rows}
    engine.dispose()


def _claimed(mail: OutboxMail, now: datetime) -> bool:
    return mail.claimed_until is not None and mail.claimed_until > now
