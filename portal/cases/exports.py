"""Exports for the legal team: cases as CSV or JSON, and a draft of an incident's authority report.

The draft follows the order of the fields of the Commission's incident template (what a report
carries, `../shared/reference/ai-act.md` section 4), fills each from the case where the case
holds it, and marks the rest "To complete" so that nothing is silently left out. The template
has no field for when the provider became aware or when the report is sent: the draft adds both,
after the template's fields, because the legal team must be able to show them.

CSV cells that a spreadsheet would run as a formula (starting with =, +, - or @) are prefixed
with an apostrophe: submitters write some of these texts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from portal.cases.dashboard import case_summary, categories_of, products_of
from portal.cases.models import Case
from portal.cases.retention import case_kept_until
from portal.cases.wording import AWARENESS_SOURCES, local_moment, utc_iso
from portal.catalog import Catalog, Policy

TO_COMPLETE = "To complete"
CSV_COLUMNS = (
    "reference",
    "kind",
    "status",
    "received_at",
    "updated_at",
    "products",
    "category",
    "topic",
    "organisation",
    "next_deadline",
    "next_due_at",
    "next_due_local",
    "time_left",
    "overdue",
    "kept_until",
)
# The Commission template's fields, in its order: (key, label).
REPORT_FIELDS = (
    ("incident_dates", "Start and end dates of the incident"),
    ("harm", "The harm and who was affected"),
    ("chain_of_events", "The chain of events"),
    ("model", "The model or system and its version"),
    ("involvement", "Material showing the model's involvement"),
    ("response", "Response taken or intended"),
    ("recommendations", "Recommendations"),
    ("root_cause", "Root cause"),
    ("related_patterns", "Related patterns (near misses)"),
    ("submitter", "Submitter's capacity, organisation and contact"),
    ("member_states", "Member States concerned"),
    ("affected_persons", "Number of people affected"),
    ("report_type", "Report type"),
)
_REPORT_TYPES = {
    "authority-report": "initial",
    "intermediate-report": "follow-up",
    "final-report": "final",
}


def cases_csv(cases: Iterable[Case], *, now: datetime, timezone: str, policy: Policy) -> str:
    """One row per case: its state, what it is about, its next deadline, how long it is kept."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case in cases:
        summary = case_summary(case, now=now)
        due = case.next_due_at
        row = {
            **summary,
            "products": " ".join(summary["products"]),
            "organisation": _organisation(case),
            "next_due_local": local_moment(due, timezone) if due else "",
            "overdue": "yes" if summary["overdue"] else "no",
            "kept_until": case_kept_until(case, policy),
        }
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def cases_json(cases: Iterable[Case], *, now: datetime, policy: Policy) -> str:
    """Every case with what was submitted, its deadlines, its messages and how long it is kept."""
    items = []
    for case in cases:
        item = case_summary(case, now=now)
        item["kept_until"] = case_kept_until(case, policy)
        item["submitted"] = case.submission
        item["messages"] = [
            {"author": m.author, "body": m.body, "sent_at": utc_iso(m.created_at)}
            for m in case.messages
        ]
        items.append(item)
    return json.dumps({"cases": items}, ensure_ascii=False, indent=2) + "\n"


def report_draft(case: Case, catalog: Catalog, *, now: datetime) -> dict[str, Any]:
    """The authority report of incident `case`, field by field in the template's order."""
    if case.kind != "incident":
        raise ValueError(f"{case.reference} is not an incident")
    data = case.submission or {}
    timezone = catalog.policy.timezone
    product_id = (products_of(case) or [""])[0]
    product = catalog.products.get(product_id)
    reporter = data.get("reporter") or {}
    started, ended = data.get("started_at"), data.get("ended_at")
    dates = []
    if started:
        dates.append(f"Started: {_local(started, timezone)}")
    if ended:
        dates.append(f"Ended: {_local(ended, timezone)}")
    harm = [f"Categories: {', '.join(categories_of(case))}"]
    if data.get("harm"):
        harm.append(str(data["harm"]))
    model = f"{product.name} ({product_id})" if product else product_id
    if data.get("product_version"):
        model += f", version {data['product_version']}"
    provider = getattr(product, "provider", None) if product else None
    submitter = [
        "Capacity: provider",
        f"Organisation: {_name_of(provider) or TO_COMPLETE}",
        f"Contact: {TO_COMPLETE}",
        (
            "Notified to us by: "
            + ", ".join(
                str(part)
                for part in (
                    reporter.get("name"),
                    reporter.get("organisation"),
                    reporter.get("capacity"),
                    reporter.get("email"),
                    reporter.get("phone"),
                )
                if part
            )
        ),
    ]
    values: dict[str, Any] = {
        "incident_dates": "\n".join(dates) or None,
        "harm": "\n".join(harm),
        "chain_of_events": data.get("description"),
        "model": model,
        "involvement": None,
        "response": data.get("measures_taken"),
        "recommendations": None,
        "root_cause": None,
        "related_patterns": None,
        "submitter": "\n".join(submitter),
        "member_states": ", ".join(data.get("member_states") or []) or None,
        "affected_persons": data.get("affected_persons"),
        "report_type": _report_type(case),
    }
    fields = [
        {
            "key": key,
            "label": label,
            "value": values[key],
            "to_complete": values[key] in (None, ""),
        }
        for key, label in REPORT_FIELDS
    ]
    return {
        "reference": case.reference,
        "fields": fields,
        "recorded": {
            "customer_aware_at": data.get("aware_at"),
            "provider_aware_at": utc_iso(case.provider_aware_at or case.received_at),
            "awareness_source": case.awareness_source or "customer-notice",
            "report_due": _report_due(case),
            "drafted_at": utc_iso(now),
        },
    }


def report_markdown(draft: dict[str, Any], *, timezone: str) -> str:
    """The draft as Markdown, one numbered heading per template field."""
    lines = [f"# Draft report to the authority: {draft['reference']}", ""]
    lines += [
        "A draft filled from the case. Check every field, and complete those marked"
        f" \u201c{TO_COMPLETE}\u201d, before sending.",
        "",
    ]
    for number, field in enumerate(draft["fields"], start=1):
        lines += [f"## {number}. {field['label']}", ""]
        value = field["value"]
        lines += [str(value) if value not in (None, "") else f"*{TO_COMPLETE}*", ""]
    recorded = draft["recorded"]
    lines += ["## Recorded by the portal (not in the template)", ""]
    source = AWARENESS_SOURCES.get(recorded.get("awareness_source") or "", "")
    for key, label in (
        ("customer_aware_at", "The customer became aware"),
        (
            "provider_aware_at",
            f"We became aware ({source.lower()})" if source else "We became aware",
        ),
        ("report_due", "This report is due"),
    ):
        value = recorded.get(key)
        lines.append(f"- {label}: {_local(value, timezone) if value else TO_COMPLETE}")
    lines.append("")
    return "\n".join(lines)


def _report_type(case: Case) -> str:
    open_reports = [
        d for d in case.deadlines if d.met_at is None and d.name in _REPORT_TYPES and not d.paused
    ]
    if not open_reports:
        return TO_COMPLETE
    first = min(open_reports, key=lambda d: d.due_at)
    return _REPORT_TYPES[first.name]


def _report_due(case: Case) -> str | None:
    open_reports = [d for d in case.deadlines if d.met_at is None and d.name in _REPORT_TYPES]
    return utc_iso(min(d.due_at for d in open_reports)) if open_reports else None


def _organisation(case: Case) -> str:
    data = case.submission or {}
    person = data.get("reporter") or data.get("requester") or {}
    return str(person.get("organisation") or "") if isinstance(person, dict) else ""


def _name_of(provider: Any) -> str | None:
    if provider is None:
        return None
    if isinstance(provider, str):
        return provider
    for attribute in ("legal_name", "name"):
        value = getattr(provider, attribute, None)
        if isinstance(value, str):
            return value
    return str(provider)


def _local(value: Any, timezone: str) -> str:
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if instant.tzinfo is None:
        return str(value)
    return local_moment(instant, timezone)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
