"""The mail sender: sends what the outbox holds, retrying until the mail server takes it.

Cases write their mail to the `outbox` table in the same transaction as the case, so a mail
server outage loses nothing: `send_pending` claims a batch (a short transaction: several app
processes never send one mail twice), sends it outside any transaction, recording each mail
as sent (or when to retry it: 1, 2, 4 ... minutes, at most an hour apart) as soon as the
mail server answered, so a crash can send again at most the one mail in flight. A `Mailer`
does this when woken after a submission and every `interval` seconds in any case: in a
process of its own under `portal serve` (`portal send-mail --watch`), else in a thread of
each app process. Backends follow warehouse's `mail.backend`: `smtp` for real
mail, `console` (log the recipient and subject only) for development and tests.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from portal.cases.models import OutboxMail, table_of
from portal.cases.notices import LEGAL_TEAM

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)
BATCH = 100  # mails claimed at once
# Seconds a batch may spend sending: half the claim, so no other sender can take its mails.
SEND_BUDGET = CLAIM_FOR.total_seconds() / 2
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class Outgoing:
    """One mail to send."""

    mail_from: str
    to: str
    subject: str
    body: str
    # One attached file (name, text), such as the signed receipt of an acknowledgement.
    attachment: tuple[str, str] | None = None


class Backend(Protocol):
    def send(self, mail: Outgoing) -> None: ...


class ConsoleBackend:
    """Logs that a mail would go out: its subject only (a reference), never the address or
    the body, which come from what the submitter wrote."""

    def send(self, mail: Outgoing) -> None:
        log.info("Mail (console): %s", mail.subject)


class SmtpBackend:
    """Hands each mail to an SMTP server (one connection per batch would save little here)."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def send(self, mail: Outgoing) -> None:
        message = EmailMessage()
        message["From"] = mail.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain=mail.mail_from.rpartition("@")[2] or None)
        message.set_content(mail.body)
        if mail.attachment is not None:
            name, content = mail.attachment
            message.add_attachment(
                content.encode("utf-8"), maintype="application", subtype="json", filename=name
            )
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


def backend_from_config(config: Mapping[str, Any]) -> Backend:
    """`MAIL_BACKEND` = `smtp` (with `SMTP_HOST`, `SMTP_PORT`) or `console`."""
    name = config.get("MAIL_BACKEND", "console")
    if name == "smtp":
        return SmtpBackend(config.get("SMTP_HOST", "localhost"), int(config.get("SMTP_PORT", 25)))
    if name == "console":
        return ConsoleBackend()
    raise ValueError(f"MAIL_BACKEND must be smtp or console, not {name!r}")


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: int


def send_pending(
    sessions: sessionmaker[Session],
    backend: Backend,
    *,
    mail_from: str,
    legal_team: str,
    now: datetime,
    batch: int = BATCH,
    budget: float = SEND_BUDGET,
) -> SendReport:
    """Send one batch of due outbox mail; return how many went out and how many failed.

    Each mail is recorded as sent in its own short transaction as soon as the mail server
    took it: a sender killed mid-batch may send again only the one mail it was sending, and
    the rest of its claim waits for `CLAIM_FOR` to run out, then goes out once. A mail server
    that accepts connections and then says nothing makes each mail wait for the backend's
    timeout: after `budget` seconds the rest of the batch is left for the next run,
    unclaimed and untried, well before another sender may claim it.
    """
    claimed = _claim(sessions, now=now, batch=batch)
    sent = failed = 0
    tried: set[int] = set()
    stop_at = time.monotonic() + budget
    for mail in claimed:
        if time.monotonic() >= stop_at:
            break
        tried.add(mail.id)
        to = legal_team if mail.recipient == LEGAL_TEAM else (mail.to_address or "")
        try:
            attachment = (
                (mail.attachment_name, mail.attachment) if mail.attachment is not None else None
            )
            backend.send(Outgoing(mail_from, to, mail.subject, mail.body, attachment))
        except (OSError, smtplib.SMTPException) as err:
            failed += 1
            _record_failure(sessions, mail, f"{type(err).__name__}: {err}"[:500], now=now)
            # The error may quote the address: it goes to the outbox row, not to the log.
            log.warning(
                "Mail %s for %s not sent (%s); will retry",
                mail.id,
                mail.case_reference,
                type(err).__name__,
            )
        else:
            sent += 1
            _update(sessions, mail.id, sent_at=now, claimed_until=None)
    untried = [mail.id for mail in claimed if mail.id not in tried]
    if untried:
        with sessions() as session:
            outbox = table_of(OutboxMail)
            session.execute(
                update(outbox).where(outbox.c.id.in_(untried)).values(claimed_until=None)
            )
            session.commit()
    return SendReport(sent, failed)


def _claim(sessions: sessionmaker[Session], *, now: datetime, batch: int) -> list[Any]:
    """Mark up to `batch` due mails as ours for `CLAIM_FOR` and return them (Core rows).

    One statement, the queue's usual `UPDATE ... WHERE id IN (SELECT ... LIMIT n)`: on
    SQLite the write lock every submission waits for is held for it alone; on PostgreSQL
    rows another process is claiming are skipped, not waited for.
    """
    outbox = table_of(OutboxMail)
    due = (
        select(outbox.c.id)
        .where(
            outbox.c.sent_at.is_(None),
            outbox.c.next_attempt_at <= now,
            or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
        )
        .order_by(outbox.c.id)
        .limit(batch)
    )
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(claimed_until=now + CLAIM_FOR)
            .returning(
                outbox.c.id,
                outbox.c.case_reference,
                outbox.c.recipient,
                outbox.c.to_address,
                outbox.c.subject,
                outbox.c.body,
                outbox.c.attachment_name,
                outbox.c.attachment,
                outbox.c.attempts,
            )
        )
        mails = list(session.execute(claim))
        session.commit()
    return sorted(mails, key=lambda mail: mail.id)


def _update(sessions: sessionmaker[Session], mail_id: int, **values: Any) -> None:
    outbox = table_of(OutboxMail)
    with sessions() as session:
        session.execute(update(outbox).where(outbox.c.id == mail_id).values(**values))
        session.commit()


def _record_failure(
    sessions: sessionmaker[Session], mail: Any, error: str, *, now: datetime
) -> None:
    """Try again in 1, 2, 4 ... minutes, at most an hour apart."""
    attempts = mail.attempts + 1
    delay = min(timedelta(minutes=2 ** (attempts - 1)), MAX_BACKOFF)
    _update(
        sessions,
        mail.id,
        attempts=attempts,
        next_attempt_at=now + delay,
        claimed_until=None,
        last_error=error,
    )


class Mailer:
    """Drains the outbox when woken and every `interval` seconds in any case.

    Either in a thread of an app process (`wake` starts it; each submission wakes it) or, as
    `portal serve` does, in the main thread of a process of its own (`run`, polling every
    `interval` seconds). Waking is debounced by `settle` seconds so that a burst of
    submissions is claimed in one batch.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        backend: Backend,
        *,
        mail_from: str,
        legal_team: str,
        interval: float = 60.0,
        settle: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._backend = backend
        self._mail_from = mail_from
        self._legal_team = legal_team
        self._interval = interval
        self._settle = settle
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Start the thread if needed (after a fork, too) and ask it to send soon."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self.run, name="portal-mailer", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end after the batch it is sending; wait for its thread, if any."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        """Send due mail until `stop`: when woken (after `settle`) or every `interval`."""
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            if self._stop.is_set():
                return
            self._stop.wait(self._settle)
            self._wake.clear()
            try:
                self.send_due()
            except Exception:  # the edge of a thread: keep sending later whatever happened
                log.exception("Mail sender failed; will retry")

    def send_due(self) -> tuple[int, int]:
        """Send batches until none is full or one has a failure; return (sent, failed)."""
        sent = failed = 0
        while not self._stop.is_set():
            report = send_pending(
                self._sessions,
                self._backend,
                mail_from=self._mail_from,
                legal_team=self._legal_team,
                now=self._clock(),
            )
            sent += report.sent
            failed += report.failed
            if report.sent + report.failed < BATCH or report.failed:
                break
        return sent, failed


def mailer_from_config(
    sessions: sessionmaker[Session], config: Mapping[str, Any], **options: Any
) -> Mailer:
    """A `Mailer` for the app's settings: `MAIL_BACKEND`, `MAIL_FROM`, `LEGAL_TEAM_EMAIL`."""
    return Mailer(
        sessions,
        backend_from_config(config),
        mail_from=config["MAIL_FROM"],
        legal_team=config["LEGAL_TEAM_EMAIL"],
        **options,
    )
