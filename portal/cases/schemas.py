"""What a submitter may send: every validation rule of the forms and the JSON API, in one place.

Validate with the catalog and the current instant in pydantic's validation context:

    IncidentSubmission.model_validate(data, context={"catalog": catalog, "now": now})

`errors_of(exc)` turns a `ValidationError` into `[{"field": "reporter.email", "message":
"..."}]`: one entry per bad field, dotted path, plain words. The HTML forms use the same
models, so the API and the forms can never disagree on what is valid.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from portal.catalog import Catalog, Status
from portal.catalog.models import INCIDENT_CATEGORIES, IncidentCategory

log = logging.getLogger(__name__)

TOPICS = ("integration", "systemic-risk-assessment", "conformity-assessment")
Topic = Literal["integration", "systemic-risk-assessment", "conformity-assessment"]
# The 27 Member States, by ISO 3166-1 code; EL is the EU's own code for Greece.
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR EL HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
# How far in the future a submitter's clock may be: clocks drift, awareness cannot come later.
FUTURE_TOLERANCE = timedelta(minutes=5)
LONG_TEXT = 20_000
SHORT_TEXT = 200
MAX_PRODUCTS = 20
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
__all__ = [
    "EU_COUNTRIES",
    "INCIDENT_CATEGORIES",
    "TOPICS",
    "IncidentSubmission",
    "InformationRequestSubmission",
    "MessageSubmission",
    "Person",
    "Reporter",
    "errors_of",
]


# Control characters other than tab and newlines, and lone surrogates (which no encoder
# accepts): a form never sends them and PostgreSQL cannot store NUL.
_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _clean_text(value: Any) -> Any:
    """Refuse characters no one types (NUL, control codes, lone surrogates) in any text."""
    if isinstance(value, str) and _UNWANTED.search(value):
        raise ValueError("contains a control character; remove it and try again")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _instant(value: Any) -> datetime:
    """An ISO 8601 date and time with a UTC offset, such as 2026-03-01T14:30:00+01:00."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and 0 < len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                "must be a date and time in ISO 8601 with a UTC offset,"
                " such as 2026-03-01T14:30:00+01:00"
            ) from None
    else:
        raise ValueError(
            "must be a date and time in ISO 8601 with a UTC offset,"
            " such as 2026-03-01T14:30:00+01:00"
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(
            "needs a UTC offset (such as +01:00 or Z) so that the moment is unambiguous"
        )
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is not a date and time we can work with") from None
    if utc < EARLIEST or utc.year > 9000:
        raise ValueError("is not a plausible date and time")
    return utc


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("must be a valid email address, such as name@example.com") from None


def _phone(value: str) -> str:
    allowed = set("0123456789+-(). /")
    if not set(value) <= allowed or sum(c.isdigit() for c in value) < 4:
        raise ValueError("must be a telephone number, such as +33 1 23 45 67 89")
    return value


LongText = Annotated[
    str,
    BeforeValidator(_clean_text),
    Field(min_length=1, max_length=LONG_TEXT),
    AfterValidator(_not_blank),
]
ShortText = Annotated[
    str,
    BeforeValidator(_clean_text),
    Field(min_length=1, max_length=SHORT_TEXT),
    AfterValidator(_not_blank),
]
Email = Annotated[str, BeforeValidator(_clean_text), Field(max_length=254), AfterValidator(_email)]
Phone = Annotated[
    str, BeforeValidator(_clean_text), Field(min_length=1, max_length=40), AfterValidator(_phone)
]
# In JSON, as the API gives every instant: ISO 8601 in UTC (`2026-03-01T13:30:00+00:00`).
Instant = Annotated[
    datetime, BeforeValidator(_instant), PlainSerializer(datetime.isoformat, when_used="json")
]
ProductId = Annotated[str, BeforeValidator(_clean_text), Field(min_length=1, max_length=64)]


class _Submission(BaseModel):
    """Unknown fields are refused: a misspelt optional field must not vanish silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Person(_Submission):
    """Who asks: the organisation and a person to answer."""

    organisation: ShortText
    name: ShortText
    email: Email
    phone: Phone | None = None


class Reporter(Person):
    """Who notifies an incident, and in what capacity (deployer, provider, ...)."""

    capacity: ShortText | None = None


class IncidentSubmission(_Submission):
    """A customer's notice of a serious incident involving a covered product."""

    product: ProductId
    product_version: ShortText | None = None
    category: IncidentCategory
    aware_at: Instant
    started_at: Instant | None = None
    ended_at: Instant | None = None
    description: LongText
    harm: LongText | None = None
    affected_persons: Annotated[StrictInt, Field(ge=0, le=10_000_000_000)] | None = None
    member_states: Annotated[list[str], Field(max_length=len(EU_COUNTRIES))] | None = None
    measures_taken: LongText | None = None
    reporter: Reporter

    @field_validator("product")
    @classmethod
    def _known_product(cls, value: str, info: ValidationInfo) -> str:
        catalog = _catalog(info)
        if value not in catalog.products:
            raise ValueError(f"{value!r} is not a product of our catalog")
        return value

    @field_validator("product_version")
    @classmethod
    def _known_version(cls, value: str | None, info: ValidationInfo) -> str | None:
        product = _catalog(info).products.get(info.data.get("product", ""))
        if value is not None and product is not None and value not in product.versions:
            known = ", ".join(product.versions)
            raise ValueError(f"{value!r} is not a version of {product.name} (known: {known})")
        return value

    @field_validator("aware_at")
    @classmethod
    def _not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        if value > _now(info) + FUTURE_TOLERANCE:
            raise ValueError("is in the future; give the moment you became aware of the incident")
        return value

    @field_validator("started_at")
    @classmethod
    def _started_before_aware(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        aware = info.data.get("aware_at")
        if value is not None and aware is not None and value > aware:
            raise ValueError("is after aware_at; an incident starts before anyone is aware of it")
        return value

    @field_validator("ended_at")
    @classmethod
    def _ended_after_started(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        started = info.data.get("started_at")
        if value is not None and started is not None and value < started:
            raise ValueError("is before started_at; an incident cannot end before it starts")
        return value

    @field_validator("member_states", mode="before")
    @classmethod
    def _eu_countries(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        codes: list[str] = []
        for code in value:
            if not isinstance(code, str):
                raise ValueError("must list EU country codes, such as FR or DE")
            upper = code.strip().upper()
            if upper not in EU_COUNTRIES:
                raise ValueError(
                    f"{code[:10]!r} is not the code of an EU Member State (such as FR or DE)"
                )
            if upper not in codes:
                codes.append(upper)
        return codes


class InformationRequestSubmission(_Submission):
    """A customer's request for additional information about one or more covered products."""

    products: Annotated[list[ProductId], Field(min_length=1, max_length=MAX_PRODUCTS)]
    topic: Topic
    questions: LongText
    requester: Person

    @field_validator("products")
    @classmethod
    def _available_products(cls, value: list[str], info: ValidationInfo) -> list[str]:
        catalog = _catalog(info)
        unique: list[str] = []
        for product_id in value:
            product = catalog.products.get(product_id)
            if product is None:
                raise ValueError(f"{product_id!r} is not a product of our catalog")
            if product.status is Status.WITHDRAWN:
                raise ValueError(
                    f"{product.name} has been withdrawn; ask about a product still offered"
                )
            if product_id not in unique:
                unique.append(product_id)
        return unique


class MessageSubmission(_Submission):
    """A follow-up message from the submitter on their case."""

    body: LongText


# Plain words for pydantic's error types; a validator's own ValueError speaks for itself.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field we know; check its spelling",
    "string_type": "must be text",
    "list_type": "must be a list",
    "model_type": "must be an object with named fields",
    "model_attributes_type": "must be an object with named fields",
    "dict_type": "must be an object with named fields",
    "int_type": "must be a whole number",
    "literal_error": "must be one of: {expected}",
}


def errors_of(exc: ValidationError) -> list[dict[str, str | None]]:
    """`[{field, message}]` for every error of `exc`: dotted paths and plain words.

    A field appears once, with its first error. An error about the whole body (for instance
    a JSON array instead of an object) has `field` None.
    """
    errors: list[dict[str, str | None]] = []
    seen: set[str | None] = set()
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        # Pydantic names the branch of an optional field (`int`, `function-after[...]`).
        loc = [part for part in loc if not _is_branch(part)]
        field = ".".join(loc) or None
        if field in seen:
            continue
        seen.add(field)
        message = _message(error)
        if field is None:
            message = f"The body {message}." if message.startswith("must") else message
        errors.append({"field": field, "message": message})
    return errors


def _is_branch(part: str) -> bool:
    return part in {"int", "str", "list[str]", "constrained-int", "datetime"} or "[" in part


def _message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    is_text = isinstance(error.get("input"), str)
    if kind in ("string_too_long", "too_long"):
        unit = "characters" if is_text else "items"
        return f"is too long: at most {ctx.get('max_length')} {unit}"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty" if is_text else "must list at least one item"
    if kind in ("greater_than_equal", "less_than_equal"):
        return "must be a whole number between 0 and 10,000,000,000"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        return _MESSAGES[kind].format(expected=expected)
    return _MESSAGES.get(kind, "is not valid")


def _catalog(info: ValidationInfo) -> Catalog:
    context = info.context or {}
    catalog = context.get("catalog")
    if not isinstance(catalog, Catalog):
        raise TypeError("validate with context={'catalog': catalog, 'now': now}")
    return catalog


def _now(info: ValidationInfo) -> datetime:
    context = info.context or {}
    now = context.get("now")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError("validate with context={'catalog': catalog, 'now': aware datetime}")
    return now
