"""The Model Documentation Form of one product, filled for one audience, as Markdown or JSON.

For answering an authority's request: the AI Office and national authorities receive every
item marked for them; downstream providers receive what the site shows. The audience filter is
`audience.view`, the same one every page goes through.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from portal.catalog.audience import view
from portal.catalog.form import LABELS, SECTIONS, label
from portal.catalog.models import AIO, DP, NCA, Product

log = logging.getLogger(__name__)

FORMATS = ("md", "json")
AUDIENCE_NAMES = {
    DP: "downstream providers",
    AIO: "the AI Office",
    NCA: "national competent authorities",
}


def export_form(product: Product, audience: str, fmt: str = "md") -> str:
    """The Form for `product`, keeping only the items `audience` may read."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use md or json")
    data = view(product, audience)
    if fmt == "json":
        return (
            json.dumps({"audience": audience, "product": data}, indent=2, ensure_ascii=False) + "\n"
        )
    return _markdown(data, audience)


def _markdown(data: dict[str, Any], audience: str) -> str:
    lines = [
        f"# Model Documentation Form: {data['name']}",
        "",
        f"For {AUDIENCE_NAMES[audience]}. Items not meant for this audience are left out.",
        "",
        "## Product",
        "",
        "| Item | Value |",
        "|---|---|",
    ]
    for key, value in data.items():
        if key in ("documentation", "changes"):
            continue
        lines.append(f"| {label(key)} | {_cell(value)} |")
    for section, title in SECTIONS.items():
        values = data.get("documentation", {}).get(section)
        if values is None:
            continue
        lines += ["", f"## {title}", "", "| Item | Value |", "|---|---|"]
        for name, value in values.items():
            lines.append(f"| {LABELS.get(f'{section}.{name}', name)} | {_cell(value)} |")
    changes = data.get("changes") or []
    if changes:
        lines += [
            "",
            "## Versions of this documentation",
            "",
            "| Version | Date | Substantial | Summary |",
            "|---|---|---|---|",
        ]
        for c in changes:
            substantial = "yes" if c["substantial"] else "no"
            lines.append(
                f"| {c['version']} | {c['date']} | {substantial} | {_cell(c['summary'])} |"
            )
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        text = "not provided"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list):
        # Evaluation results are a list of small tables: one "name: ...; result: ..." each.
        text = ", ".join(_cell(v) if isinstance(v, dict) else str(v) for v in value) or "none"
    elif isinstance(value, dict):
        text = "; ".join(f"{label(k)}: {_cell(v)}" for k, v in value.items())
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", "<br>")
