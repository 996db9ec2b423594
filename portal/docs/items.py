"""The documentation of one product view, as rows the templates print: labels, values, links.

A general-purpose model's documentation follows Annex XII, in the Annex's order; an AI system's
follows Art. 13(3), the instructions for use, because Annex XII is owed for models only. Both
are built from a view that `audience.view` already filtered, so nothing here can reveal an item
meant for the authorities. Values that are web addresses become links.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portal.catalog.form import ANNEX_XII, ART_13, LABELS, SECTIONS, annex_xii_items, art_13_items
from portal.catalog.form import Item as FormItem

# The same shape as the catalog's `Url`: only https addresses become links.
_URL = re.compile(r"^https://[^\s/]+\.[^\s]+$")
_CAPABILITIES = ("capabilities", "limitations")


def documentation(content: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the documentation part of a product or version page shows."""
    system = content["classification"] == "ai-system"
    table = art_13_items() if system else annex_xii_items()
    shown = {i.path for fields in table.values() for i in fields}
    # A model's capabilities and limitations lead its documentation (Art. 53(1)(b)(i)); a
    # system's are Art. 13(3)(b), already in the table.
    capabilities = [] if system else [("documentation", "use", n) for n in _CAPABILITIES]
    shown.update(capabilities)
    evaluations = _get(content, ("documentation", "evaluations", "results")) or []
    return {
        "basis": "Art. 13(3) of the AI Act (instructions for use)"
        if system
        else "Annex XII of the AI Act",
        "items": _numbered(content, table, ART_13 if system else ANNEX_XII),
        "capabilities": [
            entry(LABELS[".".join(path[1:])], value)
            for path in capabilities
            if (value := _get(content, path)) is not None
        ],
        "further": further_items(content, shown),
        "evaluations": [_evaluation(e) for e in evaluations],
        "release": release_links(content),
    }


def _numbered(
    content: Mapping[str, Any], table: Mapping[str, list[FormItem]], titles: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The items of Annex XII or Art. 13(3) in order: each with its values, or why it is empty."""
    out = []
    for code, fields in table.items():
        entries = [
            entry(item.label, value)
            for item in fields
            if (value := _get(content, item.path)) is not None and value != []
        ]
        out.append(
            {
                "code": code,
                "title": titles[code],
                "entries": entries,
                "missing": None if entries else _not_provided(content),
            }
        )
    return out


def further_items(content: Mapping[str, Any], shown: set[tuple[str, ...]]) -> list[dict[str, Any]]:
    """Documentation items not already shown above that downstream providers may read."""
    out = []
    for section, title in SECTIONS.items():
        values = content.get("documentation", {}).get(section)
        if not values:
            continue
        entries = [
            entry(LABELS.get(f"{section}.{name}", name), value)
            for name, value in values.items()
            if ("documentation", section, name) not in shown
            and value is not None
            # Evaluation results have a table of their own.
            and (section, name) != ("evaluations", "results")
        ]
        if entries:
            out.append({"title": title, "entries": entries})
    return out


def facts(content: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The product's key facts, as rows with a label, a value and, for a licence, its link."""
    keys = (
        "provider",
        "release_date",
        "union_market_release_date",
        "obligations_apply_from",
        "versions",
        "licence",
        "weights_public",
        "high_risk",
    )
    rows = []
    for key in keys:
        if content.get(key) in (None, []):
            continue
        row = entry(LABELS[key], content[key])
        if key == "licence":
            row["href"] = content.get("licence_url")
        rows.append(row)
    return rows


def release_links(content: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The public addresses of an open-source model (Art. 53(2)), as links."""
    release = content.get("open_source_release") or {}
    return [
        {"label": LABELS[f"open_source_release.{name}"], "value": url, "href": url}
        for name, url in release.items()
    ]


def entry(label: str, value: Any) -> dict[str, Any]:
    """One row: its label, the value in plain words, and a link when the value is an address."""
    href = value if isinstance(value, str) and _URL.match(value) else None
    return {"label": label, "value": display(value), "href": href}


def display(value: Any) -> str:
    """A value in plain words: lists joined, numbers grouped, booleans as yes or no."""
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(display(v) for v in value) or "none"
    if isinstance(value, dict):
        # Sizes per modality: "text: 131,072 tokens; image: 8 images".
        return "; ".join(f"{k}: {display(v)}" for k, v in value.items())
    return str(value)


def _evaluation(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": result["name"],
        "measures": result["measures"],
        "result": result["result"],
        "href": result.get("url"),
    }


def _not_provided(content: Mapping[str, Any]) -> str:
    classification = content["classification"]
    if classification == "gpai-open-source":
        return (
            "Not provided: this open-source model is exempt from this duty (Art. 53(2)); "
            "its weights, architecture and usage information are public."
        )
    if classification == "ai-system" and content.get("high_risk") is not True:
        return "Not provided: this system is not high-risk, so Art. 13 does not require it."
    return "Not provided."


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
