"""What the receipt and status pages show: instants in a chosen time zone, deadlines in words.

Every deadline is shown twice: as a local time with its offset, and as the deadline engine's
own explanation, redone from the trigger, period, rule, time zone and holidays stored with the
deadline, so the words always match the arithmetic that set the due instant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from portal.catalog import Catalog
from portal.deadlines import explain_due
from portal.web.forms import FormDefinition

log = logging.getLogger(__name__)

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Plain titles for the deadlines a submitter sees, by deadline name (the policy's keys).
DEADLINE_TITLES: Mapping[str, str] = {
    "incident-notification": "Your notice to us (within 48 hours of becoming aware)",
    "information-response": "Our answer to your request",
    "authority-report": "Our initial report to the authority",
    "intermediate-report": "Our next intermediate report to the authority",
    "final-report": "Our final report to the authority",
}

STATUS_TEXTS: Mapping[str, str] = {
    "received": "Received: we have your case and will look at it shortly.",
    "in-progress": "In progress: we are working on it.",
    "clarification-requested": "Waiting for you: we have asked you a question (see the messages).",
    "answered": "Answered: see the messages.",
    "resolved": "Resolved.",
    "closed": "Closed.",
}

KIND_TITLES: Mapping[str, str] = {
    "incident": "Serious incident",
    "information-request": "Request for information",
}


@dataclass(frozen=True)
class DeadlineItem:
    """One deadline as a page shows it."""

    name: str
    title: str
    local: str
    note: str
    steps: tuple[str, ...]


def local_text(instant: datetime, zone_name: str) -> str:
    """`Saturday 28 November 2026 at 14:30 (UTC+01:00)`: the instant on the chosen clock."""
    local = instant.astimezone(ZoneInfo(zone_name))
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if local.second:
        clock += f":{local.second:02d}"
    day = f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"
    return f"{day} at {clock} (UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def deadline_item(deadline: Any, zone_name: str, *, now: datetime | None = None) -> DeadlineItem:
    """A stored deadline (attributes or keys: name, trigger_at, period, rule, timezone,
    holidays, due_at, met_at, paused) with its due time on the chosen clock and in words."""
    get = _getter(deadline)
    name = str(get("name"))
    due = _instant(get("due_at"))
    met = _instant(get("met_at")) if get("met_at") else None
    steps: tuple[str, ...] = ()
    try:
        explanation = explain_due(
            _instant(get("trigger_at")),
            str(get("period")),
            rule=str(get("rule")),
            timezone=str(get("timezone")),
            holidays=str(get("holidays")),
        )
    except (TypeError, ValueError):
        # A deadline we cannot redo (say, a holiday calendar no longer known) still shows its
        # due instant; only the words are left out.
        log.warning("Cannot explain deadline %s", name)
    else:
        steps = explanation.steps
        if explanation.due != due:
            # The clock was stopped (a question to the submitter) and the deadline moved.
            steps = (*steps, f"Clock stops since then moved it to {local_text(due, zone_name)}.")
    if get("paused"):
        steps = (*steps, "The clock is stopped for now: this deadline moves later meanwhile.")
    note = ""
    if met is not None:
        note = f"Met on {local_text(met, zone_name)}."
    elif now is not None and now > due:
        note = "This deadline has passed."
    return DeadlineItem(
        name=name,
        title=DEADLINE_TITLES.get(name, name.replace("-", " ").capitalize()),
        local=local_text(due, zone_name),
        note=note,
        steps=steps,
    )


def submitted_rows(
    definition: FormDefinition,
    submission: Mapping[str, Any],
    catalog: Catalog,
    zone_name: str,
) -> list[dict[str, str]]:
    """What the person sent, label by label, with choices and instants in words."""
    rows = []
    for item in definition.submitted_fields:
        value = _lookup(submission, item.name)
        if value in (None, "", []):
            continue
        values = value if isinstance(value, list) else [value]
        shown = [_shown(item.widget, item.choices, v, catalog, zone_name) for v in values]
        rows.append({"label": item.label, "value": ", ".join(shown)})
    return rows


def message_items(messages: Iterable[Any], zone_name: str) -> list[dict[str, str]]:
    """Messages, oldest first, with who wrote them in plain words."""
    items = []
    for message in messages:
        get = _getter(message)
        author = "You" if get("author") == "submitter" else "Our team"
        items.append(
            {
                "author": author,
                "local": local_text(_instant(get("created_at")), zone_name),
                "body": str(get("body")),
            }
        )
    return items


def _shown(
    widget: str, choices: Mapping[str, str] | None, value: Any, catalog: Catalog, zone: str
) -> str:
    if widget in ("product", "products"):
        product = catalog.get(str(value))
        return product.name if product else str(value)
    if choices and str(value) in choices:
        return choices[str(value)]
    if widget == "datetime":
        try:
            return local_text(_instant(value), zone)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _getter(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get
    return lambda key: getattr(obj, key, None)


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("not an aware instant")
    return value.astimezone(UTC)
