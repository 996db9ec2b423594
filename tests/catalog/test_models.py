"""Model-level promises: audiences, descriptions, the schema and the import boundary."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import BaseModel

from portal.catalog import load_catalog
from portal.catalog.loader import read_document
from portal.catalog.models import (
    AIO,
    AUDIENCE_KEY,
    DP,
    Documentation,
    Policy,
    Product,
)
from portal.catalog.schema import policy_schema, product_schema

ROOT = Path(__file__).parent.parent.parent


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, field in model.model_fields.items():
        out.append((prefix + name, field))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.extend(_fields(annotation, f"{prefix}{name}."))
    return out


def test_every_field_has_a_description() -> None:
    for model in (Product, Policy):
        for name, field in _fields(model):
            assert field.description, f"{model.__name__}.{name} has no description"


def test_every_documentation_field_declares_its_audience() -> None:
    for name, field in _fields(Documentation):
        extra = field.json_schema_extra
        assert isinstance(extra, dict) and extra.get(AUDIENCE_KEY), name


def test_authority_only_sections_never_reach_downstream_providers() -> None:
    """Form sections 5, 7 and 8 are for the AI Office and national authorities only."""
    for section in ("training", "compute", "energy"):
        for name, field in _fields(Documentation):
            if name == section or name.startswith(section + "."):
                assert DP not in field.json_schema_extra[AUDIENCE_KEY], name  # type: ignore[index]
                assert AIO in field.json_schema_extra[AUDIENCE_KEY], name  # type: ignore[index]


def test_data_items_follow_the_form() -> None:
    downstream = {
        name
        for name, field in _fields(Documentation)
        if name.startswith("data.") and DP in field.json_schema_extra[AUDIENCE_KEY]  # type: ignore[index]
    }
    assert downstream == {"data.type_and_modality", "data.provenance", "data.curation_methods"}


def test_sample_products_validate_against_the_published_schema() -> None:
    schema = product_schema()
    paths = sorted((ROOT / "catalog" / "products").glob("*.yaml"))
    assert len(paths) >= 5, "the sample catalog's products are missing"
    for path in paths:
        jsonschema.validate(read_document(path).data, schema)


def test_policy_schema_names_the_yaml_keys() -> None:
    properties = policy_schema()["$defs"]["Deadlines"]["properties"]
    assert "incident-notification" in properties and "authority-report" in properties


def test_sample_policy_deadlines(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "catalog", tmp_path / "catalog")
    shutil.copy(
        ROOT / "tests" / "fixtures" / "lumen-recruit.yaml", tmp_path / "catalog" / "products"
    )
    catalog = load_catalog(tmp_path / "catalog")
    assert [w.message.split(":")[0] for w in catalog.warnings] == ["high_risk"]
    policy = catalog.policy
    assert (policy.timezone, policy.holiday_country) == ("Europe/Paris", "FR")
    assert policy.deadlines.incident_notification.period == "48h"
    assert policy.deadlines.information_response.period == "14d"
    large, chat, recruit = (
        catalog.products[i] for i in ("lumen-large-3", "lumen-chat", "lumen-recruit")
    )
    expected = {
        "death": "10d",
        "health": "15d",
        "critical-infrastructure": "2d",
        "cybersecurity-breach": "5d",
        "widespread-infringement": "2d",
    }
    for category, period in expected.items():
        assert policy.authority_report(large, category).period == period  # type: ignore[union-attr]
    assert policy.authority_report(chat, "death") is None  # not high-risk
    assert policy.authority_report(recruit, "death").period == "10d"  # type: ignore[union-attr]
    assert policy.authority_report(recruit, "cybersecurity-breach") is None
    assert policy.authority_report(recruit, "widespread-infringement").period == "2d"  # type: ignore[union-attr]


def test_obligations_apply_from_is_derived() -> None:
    """Art. 111(3): placed on the market before 2 August 2025 -> 2 August 2027."""
    products = load_catalog(ROOT / "catalog").products
    assert str(products["lumen-medium-2"].obligations_apply_from) == "2027-08-02"
    assert str(products["lumen-large-3"].obligations_apply_from) == "2025-09-15"
    assert products["lumen-chat"].obligations_apply_from is None


def test_retention_dates_follow_the_policy() -> None:
    """Code Measures 9.4 and 1.1: incident files 5 years from closing, documentation 10 years."""
    import datetime as dt

    catalog = load_catalog(ROOT / "catalog")
    policy = catalog.policy
    assert policy.incident_file_kept_until(dt.date(2026, 3, 1)) == dt.date(2031, 3, 1)
    assert policy.incident_file_kept_until(dt.date(2028, 2, 29)) == dt.date(2033, 3, 1)
    large = catalog.products["lumen-large-3"]
    assert policy.documentation_kept_until(large) == dt.date(2035, 9, 15)


def test_sample_catalog_covers_every_case() -> None:
    products = load_catalog(ROOT / "catalog").products.values()
    assert {p.classification.value for p in products} == {
        "gpai",
        "gpai-open-source",
        "gpai-systemic-risk",
        "ai-system",
    }
    assert any(p.based_on and p.classification.value != "ai-system" for p in products)
    assert any(p.based_on and p.classification.value == "ai-system" for p in products)
    assert any(p.status.value != "available" and p.notice_date for p in products)
    changes = [c for p in products for c in p.changes]
    assert any(c.substantial for c in changes) and any(not c.substantial for c in changes)


def test_catalog_and_deadlines_import_no_framework() -> None:
    """The catalog and the deadline arithmetic load anywhere: no Flask, MkDocs or SQLAlchemy."""
    code = (
        "import sys, portal.catalog, portal.catalog.schema, portal.catalog.rules;"
        "import importlib.util as u;"
        "u.find_spec('portal.deadlines') and __import__('portal.deadlines');"
        "print(sorted({'flask', 'mkdocs', 'sqlalchemy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
