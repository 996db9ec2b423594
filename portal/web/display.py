"""What the receipt and status pages show: the submitter's view of a case, on a chosen clock.

The deadlines, their titles and their explanations in words come from the case's submitter
view (`portal.cases.views`), the same one the JSON API returns, so a page and the API can
never tell a submitter two different things; this module only puts instants on the clock of
the time zone the person chose and turns the submission back into the form's labels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portal.cases.wording import local_moment
from portal.catalog import Catalog
from portal.web.forms import FormDefinition

log = logging.getLogger(__name__)

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


def deadline_items(view: Mapping[str, Any], zone: str, *, now: datetime) -> list[DeadlineItem]:
    """The view's deadlines, due instants on `zone`'s clock, with the engine's own words."""
    items = []
    for deadline in view.get("deadlines") or []:
        due = instant(deadline["due_at"])
        note = ""
        if not deadline.get("met_at") and now > due:
            note = "This deadline has passed."
        elif deadline.get("paused"):
            note = "The clock is stopped for now."
        items.append(
            DeadlineItem(
                name=str(deadline["name"]),
                title=str(deadline.get("title") or deadline["name"]),
                local=local_moment(due, zone),
                note=note,
                steps=tuple(str(step) for step in deadline.get("explanation") or ()),
            )
        )
    return items


def message_items(view: Mapping[str, Any], zone: str) -> list[dict[str, str]]:
    """The view's messages, oldest first, with who wrote them in plain words."""
    return [
        {
            "author": "You" if message.get("author") == "submitter" else "Our team",
            "local": local_moment(instant(message["sent_at"]), zone),
            "body": str(message.get("body", "")),
        }
        for message in view.get("messages") or []
    ]


def submitted_rows(
    definition: FormDefinition,
    submission: Mapping[str, Any],
    catalog: Catalog,
    zone: str,
) -> list[dict[str, str]]:
    """What the person sent, label by label, with choices and instants in words."""
    rows = []
    for item in definition.submitted_fields:
        value = _lookup(submission, item.name)
        if value in (None, "", []):
            continue
        values = value if isinstance(value, list) else [value]
        shown = [_shown(item.widget, item.choices, v, catalog, zone) for v in values]
        rows.append({"label": item.label, "value": ", ".join(shown)})
    return rows


def instant(value: Any) -> datetime:
    """An aware instant from the view's ISO 8601 text (or an aware datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("not an aware instant")
    return value.astimezone(UTC)


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
            return local_moment(instant(value), zone)
        except ValueError:
            return str(value)
    return str(value)


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
