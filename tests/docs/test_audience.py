"""The audience rule: nothing meant only for the authorities reaches any output of the site."""

from __future__ import annotations

import datetime as dt
import shutil
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from portal.catalog import load_catalog
from portal.catalog.audience import hidden_fields, public_schema, view
from portal.catalog.form import LABELS, items
from portal.catalog.models import AIO, DP, Product, RebuttalOutcome
from portal.cli import cli
from portal.docs.publish import build_site

ROOT = Path(__file__).resolve().parents[2]
MARKER = "QXSECRETQX"
# Numbers and dates cannot carry the marker: plant values found nowhere else instead.
MARKER_FLOP = 9.87654321e25
MARKER_NUMBER = 98765.4321
MARKER_DATE = "2099-12-31"
NUMBER_FORMS = ("9.87654321", "98765432", "9.88e", "98765.4321", "98,765", "2099-12-31")


def test_hidden_fields_come_from_the_models() -> None:
    hidden = hidden_fields(DP)
    assert ("documentation", "training", "design") in hidden
    assert ("documentation", "compute", "training_flop") in hidden
    assert ("documentation", "data", "acquisition") in hidden
    assert ("documentation", "data", "provenance") not in hidden
    assert ("systemic_risk_rebuttal", "arguments") in hidden
    assert hidden_fields(AIO) == []


def test_every_field_has_a_plain_label() -> None:
    missing = [item.key for item in items() if item.key not in LABELS]
    assert missing == []


def test_public_schema_has_no_hidden_section() -> None:
    schema = public_schema()
    documentation = schema["$defs"]["Documentation"]["properties"]
    assert set(documentation) == {
        "general",
        "properties",
        "distribution",
        "use",
        "data",
        "evaluations",
    }
    assert set(schema["$defs"]["Evaluations"]["properties"]) == {"results"}
    assert "acquisition" not in schema["$defs"]["Data"]["properties"]
    assert "systemic_risk_rebuttal" not in schema["properties"]


def _plant(data: dict[str, Any], path: tuple[str, ...], model: type[Product]) -> None:
    """Set the field at `path` to a marker of its type, creating sections on the way."""
    systemic = data.get("classification") == "gpai-systemic-risk"
    node, cls = data, model
    for key in path[:-1]:
        node = node.setdefault(key, {})
        cls = _model(cls.model_fields[key].annotation)
    annotation = cls.model_fields[path[-1]].annotation
    args = set(typing.get_args(annotation)) | {annotation}
    if float in args:
        node[path[-1]] = MARKER_FLOP if path[-1] == "training_flop" else MARKER_NUMBER
    elif dt.date in args:
        node[path[-1]] = MARKER_DATE
    elif RebuttalOutcome in args:
        # The planted compute is above 1e25: only an accepted rebuttal lifts the presumption,
        # and a systemic-risk model keeps its class only without one (Art. 52(2)-(3)).
        outcome = RebuttalOutcome.REJECTED if systemic else RebuttalOutcome.ACCEPTED
        node[path[-1]] = outcome.value
    else:
        node[path[-1]] = f"{MARKER} {'.'.join(path)}"


def _model(annotation: Any) -> Any:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and hasattr(arg, "model_fields"):
            return arg
    raise AssertionError(annotation)


@pytest.fixture(scope="module")
def marked_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample catalog with a marker in every field downstream providers may not read."""
    root = tmp_path_factory.mktemp("marked") / "catalog"
    shutil.copytree(ROOT / "catalog", root)
    for path in (root / "products").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        for field_path in hidden_fields(DP):
            _plant(data, field_path, Product)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return root


def test_markers_are_planted_and_visible_to_the_ai_office(marked_catalog: Path) -> None:
    catalog = load_catalog(marked_catalog)
    for product in catalog.products.values():
        planted = (marked_catalog / "products" / f"{product.id}.yaml").read_text().count(MARKER)
        assert planted >= 10
        assert str(view(product, AIO)).count(MARKER) == planted
        assert view(product, AIO)["documentation"]["compute"]["training_flop"] == MARKER_FLOP
        assert MARKER not in str(view(product, DP))
    result = CliRunner().invoke(
        cli,
        ["export", "lumen-large-3", "--audience", "ai-office", "--catalog", str(marked_catalog)],
    )
    assert result.exit_code == 0 and MARKER in result.stdout


@pytest.mark.parametrize("audience", ["downstream", "downstream-provider"])
def test_downstream_export_has_no_marker(marked_catalog: Path, audience: str) -> None:
    for fmt in ("md", "json"):
        result = CliRunner().invoke(
            cli,
            [
                "export",
                "lumen-large-3",
                "--audience",
                audience,
                "--format",
                fmt,
                "--catalog",
                str(marked_catalog),
            ],
        )
        assert result.exit_code == 0, result.output
        assert MARKER not in result.stdout
        assert not [n for n in NUMBER_FORMS if n in result.stdout]


def test_marker_appears_nowhere_in_the_built_site(marked_catalog: Path, tmp_path: Path) -> None:
    """Pages, search index, sitemap, catalog.json, feed: every file of the built output."""
    site = tmp_path / "site"
    build_site(site, config_file=ROOT / "mkdocs.yml", catalog_dir=marked_catalog)
    checked = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert {
        "search/search_index.json",
        "sitemap.xml",
        "catalog.json",
        "changes/feed.xml",
    } <= checked
    assert "products/lumen-large-3/index.html" in checked
    leaks = []
    for path in site.rglob("*"):
        if path.is_file() and not path.name.endswith((".js", ".map")) or path.suffix == ".json":
            text = path.read_text(encoding="utf-8", errors="replace")
            leaks += [(path.name, n) for n in (MARKER, *NUMBER_FORMS) if n in text]
    assert leaks == []
