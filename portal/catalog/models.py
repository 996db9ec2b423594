"""Pydantic models of the catalog files: one `Product` per YAML file, and the `Policy`.

Field names are the YAML keys exactly, so a lawyer can search for them. Every documentation
field declares its audience (`audience(...)`), following the Code of Practice's Model
Documentation Form; rendering and exports filter on it, so an AI Office-only item can never
reach a downstream provider by accident.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

DP = "downstream-provider"
AIO = "ai-office"
NCA = "national-authority"
AUDIENCES = (DP, AIO, NCA)
ALL = (DP, AIO, NCA)
AUTHORITIES = (AIO, NCA)

# The audience of a field lives in its JSON Schema, so editors and the published schema show it.
AUDIENCE_KEY = "x-audience"
# Annex XII items that `gpai` and `gpai-systemic-risk` products must fill (Art. 53(1)(b)).
ANNEX_XII_KEY = "x-annex-xii"


class Classification(StrEnum):
    GPAI = "gpai"
    GPAI_OPEN_SOURCE = "gpai-open-source"
    GPAI_SYSTEMIC_RISK = "gpai-systemic-risk"
    AI_SYSTEM = "ai-system"


class Status(StrEnum):
    AVAILABLE = "available"
    DEPRECATED = "deprecated"
    WITHDRAWN = "withdrawn"


class SystemicRiskBasis(StrEnum):
    PRESUMED_COMPUTE = "presumed-compute"
    COMMISSION_DESIGNATION = "commission-designation"


Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=64)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
SpdxId = Annotated[str, StringConstraints(pattern=r"^(?:LicenseRef-)?[A-Za-z0-9][A-Za-z0-9.+-]*$")]


def audience(*who: str, annex_xii: str | None = None) -> dict[str, Any]:
    """JSON Schema extras marking who may read a field, and the Annex XII item it fills."""
    extra: dict[str, Any] = {AUDIENCE_KEY: list(who)}
    if annex_xii:
        extra[ANNEX_XII_KEY] = annex_xii
    return extra


class _Strict(BaseModel):
    """Unknown keys are errors (a misspelt key must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=False)


class General(_Strict):
    """Form section 1, General information."""

    legal_name: Text | None = Field(
        None,
        description="The provider's legal name, as registered.",
        json_schema_extra=audience(*ALL),
    )
    authenticity: Text | None = Field(
        None,
        description="How to check that a copy of the model is genuine: a hash of the weights, "
        "or the official endpoint that serves it.",
        json_schema_extra=audience(*ALL),
    )


class Properties(_Strict):
    """Form section 2, Model properties (Annex XII 1(f), 1(g), 2(b))."""

    architecture: Text | None = Field(
        None,
        description="The model's architecture in plain words (e.g. decoder-only transformer, "
        "mixture of experts).",
        json_schema_extra=audience(*ALL, annex_xii="1(f)"),
    )
    design_specification: Text | None = Field(
        None,
        description="The main design choices of the model and the reasons for them.",
        json_schema_extra=audience(*ALL),
    )
    parameters: int | None = Field(
        None,
        gt=0,
        description="Total number of parameters.",
        json_schema_extra=audience(*ALL, annex_xii="1(f)"),
    )
    input_modalities: list[Text] | None = Field(
        None,
        min_length=1,
        description="Kinds of input the model takes (e.g. text, image, audio) and their formats.",
        json_schema_extra=audience(*ALL, annex_xii="1(g)"),
    )
    output_modalities: list[Text] | None = Field(
        None,
        min_length=1,
        description="Kinds of output the model gives (e.g. text, code) and their formats.",
        json_schema_extra=audience(*ALL, annex_xii="1(g)"),
    )
    context_window_tokens: int | None = Field(
        None,
        gt=0,
        description="Maximum size of the input, in tokens (the context window).",
        json_schema_extra=audience(*ALL, annex_xii="2(b)"),
    )
    max_output_tokens: int | None = Field(
        None,
        gt=0,
        description="Maximum size of one output, in tokens.",
        json_schema_extra=audience(*ALL),
    )


class Distribution(_Strict):
    """Form section 3, Distribution and licences (Annex XII 1(c), 1(h))."""

    channels: list[Text] | None = Field(
        None,
        min_length=1,
        description="How the model is distributed: API, cloud marketplaces, downloadable weights, "
        "on-premises.",
        json_schema_extra=audience(*ALL, annex_xii="1(c)"),
    )
    licence_terms: Text | None = Field(
        None,
        description="Where the licence or terms of use can be read, and any conditions worth "
        "knowing.",
        json_schema_extra=audience(*ALL, annex_xii="1(h)"),
    )


class Use(_Strict):
    """Form section 4, Use (Annex XII 1(a), 1(b), 1(d), 1(e), 2(a))."""

    acceptable_use_policy: Text | None = Field(
        None,
        description="The acceptable use policy, or where it is published.",
        json_schema_extra=audience(*ALL, annex_xii="1(b)"),
    )
    intended_uses: Text | None = Field(
        None,
        description="The tasks the model is intended for, and uses that are restricted or "
        "prohibited.",
        json_schema_extra=audience(*ALL, annex_xii="1(a)"),
    )
    ai_system_types: Text | None = Field(
        None,
        description="The type and nature of AI systems the model can be integrated into.",
        json_schema_extra=audience(*ALL, annex_xii="1(a)"),
    )
    integration_means: Text | None = Field(
        None,
        description="Technical means for integration: instructions, infrastructure and tools.",
        json_schema_extra=audience(*ALL, annex_xii="2(a)"),
    )
    external_interaction: Text | None = Field(
        None,
        description="How the model interacts, or can be used to interact, with hardware or "
        "software that is not part of the model (tools, function calling, retrieval).",
        json_schema_extra=audience(*ALL, annex_xii="1(d)"),
    )
    required_hardware_software: Text | None = Field(
        None,
        description="Hardware and software needed to use the model, with the versions that matter.",
        json_schema_extra=audience(*ALL, annex_xii="1(e)"),
    )


class Training(_Strict):
    """Form section 5, Training process: for the AI Office and national authorities only."""

    design: Text | None = Field(
        None,
        description="How the model was trained: the main steps, methods and techniques.",
        json_schema_extra=audience(*AUTHORITIES),
    )
    decision_rationale: Text | None = Field(
        None,
        description="Why the key design and training choices were made.",
        json_schema_extra=audience(*AUTHORITIES),
    )


class Data(_Strict):
    """Form section 6, Data: some items for downstream providers, the rest for authorities."""

    type_and_modality: Text | None = Field(
        None,
        description="Type and modality of the training, testing and validation data.",
        json_schema_extra=audience(*ALL, annex_xii="2(c)"),
    )
    provenance: Text | None = Field(
        None,
        description="Where the data comes from (web crawl, licensed, user data, synthetic).",
        json_schema_extra=audience(*ALL, annex_xii="2(c)"),
    )
    curation_methods: Text | None = Field(
        None,
        description="How the data was cleaned, filtered and curated.",
        json_schema_extra=audience(*ALL, annex_xii="2(c)"),
    )
    acquisition: Text | None = Field(
        None,
        description="How the data was obtained and selected (crawler behaviour, licences).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    data_points: Text | None = Field(
        None,
        description="Number of data points (e.g. tokens), with the unit used.",
        json_schema_extra=audience(*AUTHORITIES),
    )
    scope: Text | None = Field(
        None,
        description="Scope and main characteristics of the data (domains, languages, periods).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    unsuitable_source_detection: Text | None = Field(
        None,
        description="Measures to detect unsuitable sources (e.g. illegal content).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    bias_detection: Text | None = Field(
        None,
        description="Measures to detect and correct identifiable biases.",
        json_schema_extra=audience(*AUTHORITIES),
    )


class Compute(_Strict):
    """Form section 7, Computational resources: for the AI Office and national authorities only."""

    training_time: Text | None = Field(
        None,
        description="Duration of training (e.g. '90 days on 6,000 GPUs').",
        json_schema_extra=audience(*AUTHORITIES),
    )
    training_flop: float | None = Field(
        None,
        gt=0,
        description="Cumulative compute used for training, in floating-point operations "
        "(e.g. 3.2e24). Above 1e25 the model is presumed to have systemic risk (Art. 51(2)).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    methodology: Text | None = Field(
        None,
        description="How the training compute was measured or estimated.",
        json_schema_extra=audience(*AUTHORITIES),
    )


class Energy(_Strict):
    """Form section 8, Energy consumption: for the AI Office and national authorities only."""

    training_mwh: float | None = Field(
        None,
        ge=0,
        description="Energy used for training, in megawatt-hours.",
        json_schema_extra=audience(*AUTHORITIES),
    )
    methodology: Text | None = Field(
        None,
        description="How the energy use was measured or estimated.",
        json_schema_extra=audience(*AUTHORITIES),
    )


class Documentation(_Strict):
    """The Model Documentation Form, in its eight sections."""

    general: General = Field(
        default_factory=General,
        description="Section 1: general information.",
        json_schema_extra=audience(*ALL),
    )
    properties: Properties = Field(
        default_factory=Properties,
        description="Section 2: model properties.",
        json_schema_extra=audience(*ALL),
    )
    distribution: Distribution = Field(
        default_factory=Distribution,
        description="Section 3: distribution and licences.",
        json_schema_extra=audience(*ALL),
    )
    use: Use = Field(
        default_factory=Use,
        description="Section 4: use.",
        json_schema_extra=audience(*ALL),
    )
    training: Training = Field(
        default_factory=Training,
        description="Section 5: training process (authorities only).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    data: Data = Field(
        default_factory=Data,
        description="Section 6: data (some items for authorities only).",
        json_schema_extra=audience(*ALL),
    )
    compute: Compute = Field(
        default_factory=Compute,
        description="Section 7: computational resources (authorities only).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    energy: Energy = Field(
        default_factory=Energy,
        description="Section 8: energy consumption (authorities only).",
        json_schema_extra=audience(*AUTHORITIES),
    )


class Change(_Strict):
    """One published version of the documentation."""

    date: dt.date = Field(description="The day this version was published (YYYY-MM-DD).")
    version: int = Field(
        ge=1,
        description="Documentation version number: 1, 2, 3... Each change gets the next one; "
        "the last change is the current version.",
    )
    summary: Text = Field(description="What changed, in one or two plain sentences.")
    substantial: bool = Field(
        description="true if customers must be told promptly (a substantial change to the "
        "downstream documentation); false for a minor correction.",
    )


class SystemicRiskRebuttal(_Strict):
    """Arguments that a model above the threshold has no systemic risk after all (Art. 52(2))."""

    arguments: Text = Field(description="The arguments, in short, or where they are kept.")
    sent_date: dt.date = Field(description="The day the arguments were sent to the Commission.")


class Product(_Strict):
    """A covered product: one file `catalog/products/<id>.yaml`."""

    id: Slug = Field(
        description="Short identifier in lowercase letters, digits and dashes; must equal the "
        "file name without `.yaml`. It appears in URLs and never changes.",
        json_schema_extra=audience(*ALL),
    )
    name: Text = Field(
        description="Product name as customers know it.", json_schema_extra=audience(*ALL)
    )
    provider: Text = Field(
        description="The provider placing the product on the market.",
        json_schema_extra=audience(*ALL),
    )
    classification: Classification = Field(
        description="AI Act classification: gpai (general-purpose AI model), gpai-open-source "
        "(free and open-source model with public weights, Art. 53(2)), gpai-systemic-risk "
        "(model with systemic risk, Art. 51), or ai-system.",
        json_schema_extra=audience(*ALL),
    )
    systemic_risk_basis: SystemicRiskBasis | None = Field(
        None,
        description="For gpai-systemic-risk: presumed-compute (training compute above 1e25 FLOP, "
        "Art. 51(2)) or commission-designation (Art. 51(1)(b)).",
        json_schema_extra=audience(*ALL),
    )
    systemic_risk_rebuttal: SystemicRiskRebuttal | None = Field(
        None,
        description="Arguments sent to the Commission that the model exceptionally has no "
        "systemic risk despite its compute (Art. 52(2)).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    status: Status = Field(
        Status.AVAILABLE,
        description="available, deprecated or withdrawn. A deprecated or withdrawn product needs "
        "notice_date and effective_date.",
        json_schema_extra=audience(*ALL),
    )
    notice_date: dt.date | None = Field(
        None,
        description="The day customers were told of the deprecation or withdrawal.",
        json_schema_extra=audience(*ALL),
    )
    effective_date: dt.date | None = Field(
        None,
        description="The day the deprecation or withdrawal takes effect.",
        json_schema_extra=audience(*ALL),
    )
    release_date: dt.date = Field(
        description="The day the product was first released (YYYY-MM-DD).",
        json_schema_extra=audience(*ALL, annex_xii="1(c)"),
    )
    union_market_release_date: dt.date | None = Field(
        None,
        description="The day the product was first placed on the EU market, if different.",
        json_schema_extra=audience(*ALL),
    )
    versions: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1,
        description="Model versions customers can use, oldest first (e.g. 25.01, 25.03).",
        json_schema_extra=audience(*ALL, annex_xii="1(e)"),
    )
    based_on: list[Slug] = Field(
        default_factory=list,
        description="Ids of catalog models this product is built on: the parent of a fine-tune, "
        "or the models an AI system uses.",
        json_schema_extra=audience(*ALL),
    )
    high_risk: bool | None = Field(
        None,
        description="AI systems only: true if the system is high-risk (Art. 6). Serious "
        "incidents of high-risk systems follow Art. 73.",
        json_schema_extra=audience(*ALL),
    )
    licence: SpdxId | None = Field(
        None,
        description="SPDX licence identifier (e.g. Apache-2.0), or LicenseRef-<name> for "
        "proprietary terms.",
        json_schema_extra=audience(*ALL, annex_xii="1(h)"),
    )
    weights_public: bool = Field(
        False,
        description="true if the model weights are publicly available.",
        json_schema_extra=audience(*ALL),
    )
    documentation: Documentation = Field(
        default_factory=Documentation,
        description="The Model Documentation Form, in eight sections.",
        json_schema_extra=audience(*ALL),
    )
    changes: list[Change] = Field(
        default_factory=list,
        description="Published versions of the documentation, oldest first.",
        json_schema_extra=audience(*ALL),
    )

    @field_validator("versions")
    @classmethod
    def _versions_unique(cls, versions: list[str]) -> list[str]:
        seen = [v for i, v in enumerate(versions) if v in versions[:i]]
        if seen:
            raise ValueError(f"version {seen[0]} is listed twice")
        return versions

    @property
    def current_change(self) -> Change | None:
        """The change that published the current documentation version."""
        return self.changes[-1] if self.changes else None

    @property
    def training_flop(self) -> float | None:
        return self.documentation.compute.training_flop


PERIOD_PATTERN = r"^[1-9][0-9]*[hdw]$"
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN)]
Rule = Literal["exact", "eu-1182-71"]


class DeadlinePolicy(_Strict):
    """One deadline: how long, and how the period is counted."""

    period: Period = Field(
        description="Length: a whole number then h (hours), d (days) or w (weeks)."
    )
    rule: Rule = Field(
        "exact",
        description="exact (elapsed time) or eu-1182-71 (Regulation 1182/71: the first hour or "
        "day is not counted, a period in days ends at midnight and skips weekends and holidays).",
    )


IncidentCategory = Literal[
    "death",
    "health",
    "critical-infrastructure",
    "fundamental-rights",
    "property-or-environment",
    "cybersecurity-breach",
]
INCIDENT_CATEGORIES: tuple[str, ...] = IncidentCategory.__args__  # type: ignore[attr-defined]


class AuthorityReports(_Strict):
    """The provider's initial report to the authority, by product class and incident category."""

    gpai_systemic_risk: dict[IncidentCategory, DeadlinePolicy] = Field(
        default_factory=dict,
        alias="gpai-systemic-risk",
        description="For incidents involving a gpai-systemic-risk model (Code of Practice, "
        "Measure 9.3).",
    )
    high_risk_ai_system: dict[IncidentCategory, DeadlinePolicy] = Field(
        default_factory=dict,
        alias="high-risk-ai-system",
        description="For incidents involving an ai-system with high_risk: true (Art. 73).",
    )


class Deadlines(_Strict):
    """Every deadline the portal tracks."""

    incident_notification: DeadlinePolicy = Field(
        DeadlinePolicy(period="48h"),
        alias="incident-notification",
        description="The customer's notice of a serious incident, from the customer's awareness.",
    )
    information_response: DeadlinePolicy = Field(
        DeadlinePolicy(period="14d"),
        alias="information-response",
        description="The provider's answer to a request for information, from its receipt.",
    )
    intermediate_report: DeadlinePolicy = Field(
        DeadlinePolicy(period="4w"),
        alias="intermediate-report",
        description="Intermediate reports on a systemic-risk incident, at least this often "
        "while unresolved (Code, Measure 9.3).",
    )
    final_report: DeadlinePolicy = Field(
        DeadlinePolicy(period="60d"),
        alias="final-report",
        description="Final report on a systemic-risk incident, from its resolution.",
    )
    authority_report: AuthorityReports = Field(
        default_factory=AuthorityReports,
        alias="authority-report",
        description="The provider's initial report to the authority, from the notice's receipt.",
    )


class Policy(_Strict):
    """`catalog/policies.yaml`: time zone, holidays and every deadline, editable by lawyers."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    timezone: str = Field(
        "Europe/Paris",
        description="IANA time zone in which days are counted and times shown.",
    )
    holiday_country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        "FR", description="Country whose public holidays are not working days (ISO 3166 code)."
    )
    withdrawal_notice_min_days: int = Field(
        30,
        ge=0,
        description="Minimum number of days between the notice of a deprecation or withdrawal "
        "and the day it takes effect.",
    )
    deadlines: Deadlines = Field(default_factory=Deadlines, description="Every deadline.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if not re.match(r"^[A-Za-z0-9_+/-]+$", name):
            raise ValueError(f"{name!r} is not a time zone name such as Europe/Paris")
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r}; use a name such as Europe/Paris"
            ) from None
        return name

    def authority_report(self, product: Product, category: str) -> DeadlinePolicy | None:
        """The initial-report deadline for an incident, or None when none applies."""
        reports = self.deadlines.authority_report
        if product.classification is Classification.GPAI_SYSTEMIC_RISK:
            table = reports.gpai_systemic_risk
        elif product.classification is Classification.AI_SYSTEM and product.high_risk:
            table = reports.high_risk_ai_system
        else:
            return None
        found: DeadlinePolicy | None = table.get(category)  # type: ignore[call-overload]
        return found
