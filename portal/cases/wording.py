"""Plain-English names and dates shared by the mails, the API and the HTML pages."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

KIND_NAMES = {
    "incident": "serious-incident notice",
    "information-request": "request for information",
}
# As the submitter reads them (receipts, status pages, their mails).
DEADLINE_TITLES = {
    "incident-notification": "Notice of the incident to us (from your awareness of it)",
    "authority-report": "Our initial report to the authority (from our receipt of your notice)",
    "information-response": "Our answer to your request (from our receipt of it)",
}
# As the legal team reads them (the workspace, its calendar, its mails).
STAFF_DEADLINE_TITLES = {
    "incident-notification": "Customer's notice to us (from their awareness of the incident)",
    "authority-report": "Initial report to the authority",
    "final-report": "Final report to the authority",
    "information-response": "Answer to the request",
}


def deadline_title(name: str) -> str:
    """A deadline's name as its submitter reads it."""
    return DEADLINE_TITLES.get(name, name)


def staff_deadline_title(name: str) -> str:
    """A deadline's name as the legal team reads it (`intermediate-report-2`: its number)."""
    if name.startswith("intermediate-report-"):
        return f"Intermediate report {name.rsplit('-', 1)[-1]} to the authority"
    if name == "intermediate-report":
        return "Intermediate report to the authority"
    return STAFF_DEADLINE_TITLES.get(name, name)


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def utc_iso(instant: datetime) -> str:
    """ISO 8601 in UTC, as the API gives every instant (`2026-03-01T13:30:00+00:00`)."""
    return instant.astimezone(UTC).isoformat()


def local_iso(instant: datetime, timezone: str) -> str:
    """ISO 8601 on the local clock of `timezone`, with its offset."""
    return instant.astimezone(ZoneInfo(timezone)).isoformat()


def local_moment(instant: datetime, timezone: str) -> str:
    """`Saturday 28 November 2026 at 10:00 (Europe/Paris, UTC+01:00)`."""
    local = instant.astimezone(ZoneInfo(timezone))
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if local.second:
        clock += f":{local.second:02d}"
    day = f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"
    return f"{day} at {clock} ({timezone}, UTC{sign}{hours:02d}:{mins:02d})"
