"""The form definitions in `forms/`: they load, and name exactly the schema's fields."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, get_args, get_origin
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from portal.cases import schemas
from portal.catalog import load_catalog
from portal.web.forms import (
    FORM_ONLY_WIDGETS,
    FormDefinitionError,
    errors_by_field,
    load_definitions,
    local_instant,
    product_choices,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS: dict[str, type[BaseModel]] = {
    "incident": schemas.IncidentSubmission,
    "information-request": schemas.InformationRequestSubmission,
}
# Optional in the annotation, required by the model's own check: the API's one-value
# `category` (excluded from what is stored, and not on the form) may stand in for it.
REQUIRED_BY_THE_MODEL = {"categories"}


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return load_definitions(ROOT / "forms")


def _leaf_fields(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Every field of `model` by dotted name, nested models opened up, with its annotation."""
    found: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.exclude:  # accepted from API clients, never stored or asked for
            continue
        nested = _model_in(info.annotation)
        if nested is not None:
            found.update(_leaf_fields(nested, f"{prefix}{name}."))
        else:
            found[f"{prefix}{name}"] = info.annotation
    return found


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _literal_values(annotation: Any) -> set[str] | None:
    if get_origin(annotation) is typing.Literal:
        return {str(v) for v in get_args(annotation)}
    for arg in get_args(annotation):
        found = _literal_values(arg)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_definition_names_every_schema_field_and_no_other(definitions, kind):
    definition = definitions[kind]
    submitted = {item.name for item in definition.submitted_fields}
    assert submitted == set(_leaf_fields(SCHEMAS[kind]))
    assert {item.widget for item in definition.fields} - FORM_ONLY_WIDGETS


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_required_marks_follow_the_schema(definitions, kind):
    """A field the schema requires is marked required on the form, and only those."""
    required = set()
    for name in _leaf_fields(SCHEMAS[kind]):
        model: type[BaseModel] = SCHEMAS[kind]
        parts = name.split(".")
        ok = True
        for part in parts:
            info = model.model_fields[part]
            ok = ok and (info.is_required() or name in REQUIRED_BY_THE_MODEL)
            model = _model_in(info.annotation) or model
        if ok:
            required.add(name)
    marked = {item.name for item in definitions[kind].submitted_fields if item.required}
    assert marked == required


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_choices_of_closed_lists_are_the_schema_values(definitions, kind):
    """Categories and topics: the form offers every value the schema takes, and no other."""
    fields = _leaf_fields(SCHEMAS[kind])
    checked = 0
    for item in definitions[kind].fields:
        values = _literal_values(fields.get(item.name))
        if values is not None:
            assert item.choices is not None, item.name
            assert set(item.choices) == values, item.name
            checked += 1
    assert checked >= 1


def test_member_states_are_the_27_eu_countries(definitions):
    choices = definitions["incident"].field("member_states").choices
    assert len(choices) == 27
    assert set(choices) <= schemas.EU_COUNTRIES


def test_product_choices_leave_withdrawn_products_out_of_requests():
    catalog = load_catalog(ROOT / "catalog")
    withdrawn = {p.id for p in catalog.products.values() if p.status == "withdrawn"}
    assert withdrawn, "the sample catalog has a withdrawn product"
    assert {pid for pid, _ in product_choices(catalog, "product")} == set(catalog.products)
    requestable = {pid for pid, _ in product_choices(catalog, "products")}
    assert requestable == set(catalog.products) - withdrawn


def test_a_broken_definition_is_reported_at_its_line(tmp_path):
    (tmp_path / "incident.yaml").write_text(
        "kind: incident\n"
        "title: Report\n"
        "submit: Send\n"
        "sections:\n"
        "  - title: One\n"
        "    fields:\n"
        "      - name: category\n"
        "        widget: radios\n"
        "        label: Type\n"
        "      - name: product\n"
        "        widget: dropdown\n"
        "        label: Product\n"
    )
    with pytest.raises(FormDefinitionError) as caught:
        load_definitions(tmp_path)
    lines = str(caught.value).splitlines()
    assert any(":7:" in line and "needs its choices" in line for line in lines), lines
    assert any(":11:" in line and "widget" in line for line in lines), lines


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-11-26T14:30", "2026-11-26T14:30:00+01:00"),
        ("2026-07-01 09:05", "2026-07-01T09:05:00+02:00"),
        ("2026-12-31T23:59:59", "2026-12-31T23:59:59+01:00"),
        # Clocks go forward at 02:00 on 29 March 2026: 02:30 never happens; it moves by the gap.
        ("2026-03-29T02:30", "2026-03-29T03:30:00+02:00"),
        # Clocks go back at 03:00 on 25 October 2026: 02:30 happens twice; the earlier is taken.
        ("2026-10-25T02:30", "2026-10-25T02:30:00+02:00"),
    ],
)
def test_local_times_are_read_in_the_chosen_zone(typed, expected):
    assert local_instant(typed, ZoneInfo("Europe/Paris")).isoformat() == expected


@pytest.mark.parametrize("typed", ["", "yesterday", "2026-13-01T10:00", "26/11/2026 10:00"])
def test_what_is_not_a_local_time_is_refused(typed):
    with pytest.raises(ValueError):
        local_instant(typed, ZoneInfo("Europe/Paris"))


def test_errors_link_to_their_fields_and_speak_of_labels(definitions):
    definition = definitions["incident"]
    summary, per_field = errors_by_field(
        definition,
        [
            {"field": "reporter.email", "message": "must be a valid email address"},
            {"field": "started_at", "message": "is after aware_at; an incident starts before"},
            {"field": None, "message": "must be an object with named fields"},
        ],
    )
    assert summary[0] == {
        "message": "Email address must be a valid email address.",
        "href": "#field-reporter-email",
    }
    assert per_field["started_at"] == [
        "When the incident started is after “When you became aware of the incident”;"
        " an incident starts before."
    ]
    assert summary[2] == {"message": "Must be an object with named fields.", "href": "#form"}
