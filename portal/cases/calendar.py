"""An iCalendar (RFC 5545) feed of open deadlines, for the legal team's calendars.

Each open, running deadline of a case that is not closed is one event ending at its due
instant (events last 30 minutes, so they show in day views). The UID is stable per deadline,
so a calendar that refreshes the feed moves an extended deadline instead of duplicating it.
Instants are written in UTC, which every calendar program converts to its own clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases.models import Case, Deadline
from portal.cases.wording import KIND_NAMES, local_moment, staff_deadline_title

EVENT_LENGTH = timedelta(minutes=30)
# Deadlines long past stay in the feed for a while: an overdue deadline is still work.
LOOK_BACK = timedelta(days=90)
LIMIT = 5000


def deadlines_ics(
    session: Session,
    *,
    now: datetime,
    timezone: str,
    base_url: str = "",
    domain: str = "aiact-portal",
) -> str:
    """The feed as text, with CRLF line ends and lines folded at 75 octets."""
    rows = session.execute(
        select(Deadline, Case.reference, Case.kind, Case.status)
        .join(Case, Case.id == Deadline.case_id)
        .where(
            Deadline.met_at.is_(None),
            Deadline.paused.is_(False),
            Deadline.due_at >= now - LOOK_BACK,
            Case.status != "closed",
        )
        .order_by(Deadline.due_at, Deadline.id)
        .limit(LIMIT)
    ).all()
    stamp = _utc(now)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//aiact-portal//deadlines//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:AI Act portal deadlines",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
    ]
    for deadline, reference, kind, status in rows:
        title = staff_deadline_title(deadline.name)
        description = (
            f"{KIND_NAMES.get(kind, kind).capitalize()} {reference}, {status}."
            f" Due {local_moment(deadline.due_at, timezone)}."
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:deadline-{deadline.id}@{domain}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(deadline.due_at - EVENT_LENGTH)}",
            f"DTEND:{_utc(deadline.due_at)}",
            f"SUMMARY:{_text(f'{reference}: {title}')}",
            f"DESCRIPTION:{_text(description)}",
        ]
        if base_url:
            lines.append(f"URL:{base_url.rstrip('/')}/staff/cases/{reference}")
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{_text(f'{reference}: {title}')}",
            "TRIGGER:-PT24H",
            "END:VALARM",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 section 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts = []
    current = b""
    limit = 75
    for char in line:
        piece = char.encode()
        if len(current) + len(piece) > limit:
            parts.append(current.decode())
            current = b""
            limit = 74  # continuation lines start with a space
        current += piece
    parts.append(current.decode())
    return "\r\n ".join(parts)
