"""The public forms, built from the definitions in `forms/` (labels, help texts, choices).

A definition says how a form looks; the submission schema in `portal.cases.schemas` says what
is valid, for the forms and the JSON API alike. So this module only turns what a browser posts
into the API's shape (nested fields, local times read in the chosen time zone) and never
judges the values itself; a test checks that each definition and its schema name the same
fields.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from wtforms import Field as WTField
from wtforms import StringField, TextAreaField

from portal.catalog import Catalog, Problem, Status
from portal.catalog.loader import YamlProblem, iter_errors, read_document

log = logging.getLogger(__name__)

Widget = Literal[
    "text",
    "email",
    "tel",
    "integer",
    "textarea",
    "datetime",
    "radios",
    "checkboxes",
    "select",
    "product",
    "products",
    "version",
    "timezone",
]
# Widgets whose choices the definition lists; `product`, `products` and `timezone` take theirs
# from the catalog and the time zone database. A `version` is typed, with the catalog's
# versions offered as suggestions.
CHOICE_WIDGETS = frozenset({"radios", "checkboxes", "select"})
MULTIPLE_WIDGETS = frozenset({"checkboxes", "products"})
# Form-only fields: they say how to read the others and are not sent to the schema.
FORM_ONLY_WIDGETS = frozenset({"timezone"})
TIMEZONE_FIELD = "timezone"

_NAME = r"^[a-z_]+(?:\.[a-z_]+)?$"
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldDefinition(_Strict):
    """One input: its API field name (dotted when nested), widget, words and choices."""

    name: str = Field(pattern=_NAME, description="The JSON API field name, e.g. reporter.email.")
    widget: Widget
    label: str = Field(min_length=1)
    required: bool = False
    help: str | None = None
    choices: dict[str, str] | None = Field(
        None, description="Value sent to the API: label shown to the person."
    )

    @model_validator(mode="after")
    def _choices_match_widget(self) -> FieldDefinition:
        if self.widget in CHOICE_WIDGETS and not self.choices:
            raise ValueError(f"a {self.widget} field needs its choices")
        if self.widget not in CHOICE_WIDGETS and self.choices is not None:
            raise ValueError(f"a {self.widget} field takes no choices")
        return self

    @property
    def id(self) -> str:
        """The HTML id of the input, which error summaries link to."""
        return field_id(self.name)

    @property
    def multiple(self) -> bool:
        return self.widget in MULTIPLE_WIDGETS


class SectionDefinition(_Strict):
    """A group of fields under one heading."""

    title: str = Field(min_length=1)
    intro: str | None = None
    fields: list[FieldDefinition] = Field(min_length=1)


class FormDefinition(_Strict):
    """A whole form: `forms/<kind>.yaml`."""

    kind: Literal["incident", "information-request"]
    title: str = Field(min_length=1)
    intro: str | None = None
    submit: str = Field(min_length=1)
    sections: list[SectionDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_unique(self) -> FormDefinition:
        seen: set[str] = set()
        for item in self.fields:
            if item.name in seen:
                raise ValueError(f"the field {item.name} appears twice")
            seen.add(item.name)
        return self

    @property
    def fields(self) -> list[FieldDefinition]:
        return [item for section in self.sections for item in section.fields]

    @property
    def submitted_fields(self) -> list[FieldDefinition]:
        """The fields sent to the schema (all but the form-only ones)."""
        return [item for item in self.fields if item.widget not in FORM_ONLY_WIDGETS]

    def field(self, name: str) -> FieldDefinition | None:
        return next((item for item in self.fields if item.name == name), None)


class FormDefinitionError(Exception):
    """Every problem found in the form definitions, as `path:line:col: message` lines."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(sorted(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def load_definitions(forms_dir: Path | str) -> dict[str, FormDefinition]:
    """Load every `forms/*.yaml` by kind, or raise `FormDefinitionError` naming each problem."""
    problems: list[Problem] = []
    found: dict[str, FormDefinition] = {}
    for path in sorted(Path(forms_dir).glob("*.yaml")):
        try:
            doc = read_document(path)
        except YamlProblem as err:
            problems.append(err.problem)
            continue
        try:
            definition = FormDefinition.model_validate(doc.data)
        except ValidationError as err:
            problems.extend(iter_errors(doc, err, FormDefinition))
            continue
        if definition.kind in found:
            problems.append(doc.problem(("kind",), f"kind: {definition.kind} is defined twice"))
        found[definition.kind] = definition
    for kind in ("incident", "information-request"):
        if kind not in found and not problems:
            problems.append(Problem(str(forms_dir), 1, 1, f"no definition of the {kind} form"))
    if problems:
        raise FormDefinitionError(problems)
    return found


def field_id(name: str) -> str:
    """`reporter.email` -> `field-reporter-email`: a valid id that links can target."""
    return "field-" + name.replace(".", "-").replace("_", "-")


@cache
def timezone_choices() -> tuple[str, ...]:
    """Region/City time zones, sorted, plus UTC: what a person picks their clock from."""
    names = {
        name
        for name in available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    }
    return ("UTC", *sorted(names))


def product_choices(catalog: Catalog, widget: str) -> list[tuple[str, str]]:
    """Catalog products as (id, name): all of them for an incident, none withdrawn for requests."""
    return [
        (product.id, product.name)
        for product in catalog.products.values()
        if widget == "product" or product.status is not Status.WITHDRAWN
    ]


def version_choices(catalog: Catalog) -> list[tuple[str, str]]:
    """Every product's versions as (version, product name), newest first within a product."""
    return [
        (version, product.name)
        for product in catalog.products.values()
        for version in reversed(product.versions)
    ]


def build_form(
    definition: FormDefinition,
    *,
    default_timezone: str,
    preselect: Mapping[str, str] | None = None,
    formdata: Any = None,
) -> FlaskForm:
    """A Flask-WTF form (so with its CSRF token) holding the definition's fields.

    The fields carry no validators: the schema judges the values, once, for the API and the
    forms. `preselect` fills defaults on a fresh form (e.g. `?product=<id>`).
    """
    preselect = preselect or {}
    attrs: dict[str, WTField] = {}
    for item in definition.fields:
        attrs[_attr(item.name)] = _wtfield(item, default_timezone, preselect)
    form_class = type(f"{definition.kind.title().replace('-', '')}Form", (FlaskForm,), attrs)
    # Always explicit: left out, Flask-WTF would read the current request's form.
    form: FlaskForm = form_class(formdata=formdata)
    return form


def bound_field(form: FlaskForm, name: str) -> WTField:
    """The form's field for a definition name (dotted names included)."""
    found: WTField = form[_attr(name)]
    return found


@dataclass(frozen=True)
class Submission:
    """What a posted form becomes: the API-shaped data, and problems found reading it."""

    data: dict[str, Any]
    errors: list[dict[str, str | None]]
    timezone: str


def read_submission(
    definition: FormDefinition, form: FlaskForm, *, default_timezone: str
) -> Submission:
    """Turn posted values into the JSON API's shape; empty optional inputs are left out.

    Local date-times are read in the chosen time zone and sent with their offset. Only what
    cannot be read at all (a date-time that is no date-time) is reported here; every rule
    about the values is the schema's.
    """
    zone_name = _chosen_timezone(definition, form, default_timezone)
    zone = ZoneInfo(zone_name)
    data: dict[str, Any] = {}
    errors: list[dict[str, str | None]] = []
    for item in definition.submitted_fields:
        raw = bound_field(form, item.name).data
        if item.multiple:
            value: Any = [str(v) for v in (raw or []) if str(v).strip()]
            if not value:
                continue
        else:
            text = (raw or "").strip() if isinstance(raw, str) else raw
            if text in ("", None):
                continue
            value = text
            if item.widget == "integer" and re.fullmatch(r"[0-9]{1,15}", text):
                # A browser posts text; the API takes a JSON number. Anything else goes to the
                # schema as typed, which says what is wrong with it.
                value = int(text)
            elif item.widget == "datetime":
                try:
                    value = local_instant(text, zone).isoformat()
                except ValueError:
                    errors.append(
                        {
                            "field": item.name,
                            "message": "must be a date and a time, such as 2026-03-14 09:30",
                        }
                    )
                    continue
        _put(data, item.name, value)
    return Submission(data=data, errors=errors, timezone=zone_name)


def local_instant(text: str, zone: ZoneInfo) -> datetime:
    """Read `2026-03-14T09:30` as a wall-clock time in `zone`, as an aware instant.

    A time skipped when clocks go forward moves forward by the gap; a time that happens twice
    when clocks go back takes the earlier one: the rule of the deadline engine.
    """
    text = text.strip()
    for fmt in _LOCAL_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)  # noqa: DTZ007 - localised just below
        except ValueError:
            continue
        # fold=0 reads a repeated time as the earlier one, and a skipped time with the offset
        # in force before the gap, which lands the gap's length later on the clock.
        return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)
    raise ValueError(f"not a local date and time: {text!r}")


def errors_by_field(
    definition: FormDefinition, errors: Iterable[Mapping[str, str | None]]
) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    """Attach each error (dotted API field) to the form field that shows it.

    Returns the summary (each problem as a sentence naming its field, and the id to link to)
    and the sentences per field name. An error on `member_states.2` belongs to `member_states`; one
    that matches no field is listed in the summary alone, linked to the form. The schema
    speaks of fields by their API names (`is after aware_at`); a form shows their labels.
    """
    summary: list[dict[str, str]] = []
    per_field: dict[str, list[str]] = {}
    names = sorted((item.name for item in definition.fields), key=len, reverse=True)
    for error in errors:
        field = str(error.get("field") or "")
        message = _in_words(definition, str(error.get("message") or "is not valid"))
        owner = next(
            (name for name in names if field == name or field.startswith(name + ".")), None
        )
        item = definition.field(owner) if owner is not None else None
        sentence = _sentence(item.label if item else "", message)
        if item is None:
            summary.append({"message": sentence, "href": "#form"})
        elif sentence not in per_field.setdefault(item.name, []):
            per_field[item.name].append(sentence)
            summary.append({"message": sentence, "href": f"#{item.id}"})
    return summary, per_field


def _in_words(definition: FormDefinition, message: str) -> str:
    # Only names that read as identifiers (aware_at, reporter.email): "product" is also a word.
    for item in definition.fields:
        if not re.search(r"[._]", item.name):
            continue
        message = re.sub(rf"\b{re.escape(item.name)}\b", f"“{item.label}”", message)
    return message.rstrip(".")


def _sentence(label: str, message: str) -> str:
    """`Email address` + `must be a valid email address` -> one plain sentence."""
    if label and re.match(r"(is|are|must|needs|contains|has)\b", message):
        return f"{label} {message}."
    text = f"{label}: {message}" if label else message
    return text[:1].upper() + text[1:] + "."


def _chosen_timezone(definition: FormDefinition, form: FlaskForm, default: str) -> str:
    if definition.field(TIMEZONE_FIELD) is None:
        return default
    chosen = bound_field(form, TIMEZONE_FIELD).data
    return chosen if chosen in timezone_choices() or chosen == default else default


def choices_for(
    item: FieldDefinition, catalog: Catalog, default_timezone: str
) -> list[tuple[str, str]]:
    """The (value, label) pairs a field offers, in order; empty for free inputs."""
    if item.widget == "timezone":
        zones = list(timezone_choices())
        if default_timezone not in zones:
            zones.insert(0, default_timezone)
        return [(zone, zone.replace("_", " ")) for zone in zones]
    if item.widget in ("product", "products"):
        found = product_choices(catalog, item.widget)
    elif item.widget == "version":
        found = version_choices(catalog)
    else:
        found = list((item.choices or {}).items())
    if item.widget in ("select", "product"):
        found = [("", "Choose…"), *found]
    return found


class _ManyField(WTField):  # type: ignore[misc]  # WTForms ships no types
    """Every value posted under one name (a group of checkboxes), as a list of strings.

    Choices are not WTForms' business here: the template renders them from the definition
    and the schema judges the values.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = [str(value) for value in valuelist]


def _wtfield(item: FieldDefinition, default_timezone: str, preselect: Mapping[str, str]) -> WTField:
    # Field(name=...) keeps the dotted API name in the HTML, so a posted form reads like the API.
    common: dict[str, Any] = {"label": item.label, "name": item.name, "id": item.id}
    default = preselect.get(item.name)
    if item.multiple:
        return _ManyField(default=[default] if default else [], **common)
    if item.widget == "timezone":
        return StringField(default=default or default_timezone, **common)
    if item.widget == "textarea":
        return TextAreaField(default=default, **common)
    return StringField(default=default, **common)


def _attr(name: str) -> str:
    # Python attribute names cannot hold dots; the HTML name keeps them.
    return re.sub(r"\W", "__", name)


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
