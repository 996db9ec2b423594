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
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, computed_field, field_validator

from portal.catalog.fields import (
    AIO,
    ALL,
    ANNEX_XI_KEY,
    ANNEX_XII_KEY,
    ART_13_KEY,
    AUDIENCE_KEY,
    AUDIENCES,
    AUTHORITIES,
    DP,
    NCA,
    Slug,
    SpdxId,
    Text,
    Url,
    audience,
)
from portal.catalog.fields import Strict as _Strict
from portal.catalog.training_content import TrainingContentSummary

__all__ = [
    "AIO",
    "ALL",
    "ANNEX_XII_KEY",
    "ANNEX_XI_KEY",
    "ART_13_KEY",
    "AUDIENCES",
    "AUDIENCE_KEY",
    "AUTHORITIES",
    "DP",
    "NCA",
    "Product",
    "Policy",
]

# Art. 113(b) and 111(3): the rules for general-purpose AI models apply from 2 August 2025;
# a model placed on the market before that day must comply by 2 August 2027.
GPAI_RULES_APPLY = dt.date(2025, 8, 2)
GPAI_TRANSITION_ENDS = dt.date(2027, 8, 2)


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


class RebuttalOutcome(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# The ranges of the total number of parameters, as the Model Documentation Form lists them.
ParameterRange = Literal[
    "under-1b", "1b-10b", "10b-100b", "100b-500b", "500b-1t", "1t-10t", "over-10t"
]
PARAMETER_RANGES: dict[str, tuple[int, int | None]] = {
    "under-1b": (0, 10**9),
    "1b-10b": (10**9, 10**10),
    "10b-100b": (10**10, 10**11),
    "100b-500b": (10**11, 5 * 10**11),
    "500b-1t": (5 * 10**11, 10**12),
    "1t-10t": (10**12, 10**13),
    "over-10t": (10**13, None),
}
# A modality named in lowercase words (text, image, audio, code, embedding).
Modality = Annotated[str, StringConstraints(pattern=r"^[a-z]+(?: [a-z]+)*$", max_length=40)]


class General(_Strict):
    """Form section 1, General information."""

    legal_name: Text | None = Field(
        None,
        description="The provider's legal name, as registered.",
        json_schema_extra=audience(*ALL, art_13="3(a)"),
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
    parameter_range: ParameterRange | None = Field(
        None,
        description="The range of the total number of parameters, as the Model Documentation "
        "Form lists them: under-1b, 1b-10b, 10b-100b, 100b-500b, 500b-1t, 1t-10t, over-10t.",
        json_schema_extra=audience(*ALL, annex_xii="1(f)"),
    )
    input_modalities: list[Text] | None = Field(
        None,
        min_length=1,
        description="Kinds of input the model takes (e.g. text, image, audio) and their formats.",
        json_schema_extra=audience(*ALL, annex_xii="1(g)", art_13="3(b)(vi)"),
    )
    output_modalities: list[Text] | None = Field(
        None,
        min_length=1,
        description="Kinds of output the model gives (e.g. text, code) and their formats.",
        json_schema_extra=audience(*ALL, annex_xii="1(g)", art_13="3(b)(vii)"),
    )
    context_window_tokens: int | None = Field(
        None,
        gt=0,
        description="Maximum size of the input, in tokens (the context window).",
        json_schema_extra=audience(*ALL, annex_xii="2(b)"),
    )
    max_input_size: dict[Modality, Text] | None = Field(
        None,
        min_length=1,
        description="Maximum size of the input, for each input modality (e.g. text: 131,072 "
        "tokens; image: 8 images of at most 10 MB each).",
        json_schema_extra=audience(*ALL, annex_xii="2(b)", art_13="3(b)(vi)"),
    )
    max_output_size: dict[Modality, Text] | None = Field(
        None,
        min_length=1,
        description="Maximum size of one output, for each output modality (e.g. text: 16,384 "
        "tokens).",
        json_schema_extra=audience(*ALL, annex_xii="2(b)"),
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

    capabilities: Text | None = Field(
        None,
        description="What the model or system does well, in plain words, so that an integrator "
        "understands it (Art. 53(1)(b)(i); the provider's terms name capabilities and "
        "limitations). Required for every model.",
        json_schema_extra=audience(*ALL, art_13="3(b)"),
    )
    limitations: Text | None = Field(
        None,
        description="What it does badly or must not be relied on for: known failure modes, "
        "languages or domains of lower quality. Required for every model.",
        json_schema_extra=audience(*ALL, art_13="3(b)"),
    )
    acceptable_use_policy: Url | None = Field(
        None,
        description="The address where the acceptable use policy is published.",
        json_schema_extra=audience(*ALL, annex_xii="1(b)"),
    )
    intended_uses: Text | None = Field(
        None,
        description="The tasks the model is intended for, and uses that are restricted or "
        "prohibited.",
        json_schema_extra=audience(*ALL, annex_xii="1(a)", art_13="3(b)(i)"),
    )
    human_oversight: Text | None = Field(
        None,
        description="AI systems: the human oversight measures, and the tools that help people "
        "read the outputs (Art. 13(3)(d)).",
        json_schema_extra=audience(*ALL, art_13="3(d)"),
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
        json_schema_extra=audience(*ALL, annex_xii="1(e)", art_13="3(e)"),
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
    inference_flop: float | None = Field(
        None,
        gt=0,
        description="Benchmarked amount of computation used for inference, in floating-point "
        "operations, for the unit of work named in inference_methodology (e.g. 1.4e12 per "
        "1,000 output tokens).",
        json_schema_extra=audience(*AUTHORITIES),
    )
    inference_methodology: Text | None = Field(
        None,
        description="How the inference compute was benchmarked, and for what unit of work.",
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


class Evaluation(_Strict):
    """One evaluation of the model: a benchmark or a test, and its result."""

    name: Text = Field(description="The evaluation's name (e.g. MMLU-Pro, 5-shot).")
    measures: Text = Field(description="What it measures, in plain words.")
    result: Text = Field(description="The result, with its unit (e.g. 71.2 % accuracy).")
    url: Url | None = Field(None, description="Where the protocol or the full results are.")


class Evaluations(_Strict):
    """Evaluation and testing (Annex XI, section 2, for systemic-risk models)."""

    results: list[Evaluation] | None = Field(
        None,
        min_length=1,
        description="Evaluations with their results. Optional, except for gpai-systemic-risk "
        "models.",
        json_schema_extra=audience(*ALL, annex_xi="2(1)"),
    )
    strategy: Text | None = Field(
        None,
        description="The evaluation strategy: protocols, tools and methods, and the criteria "
        "for the results (Annex XI, section 2, point 1).",
        json_schema_extra=audience(*AUTHORITIES, annex_xi="2(1)"),
    )
    adversarial_testing: Text | None = Field(
        None,
        description="Internal and external adversarial testing (red teaming), model adaptations, "
        "alignment and fine-tuning (Annex XI, section 2, point 2).",
        json_schema_extra=audience(*AUTHORITIES, annex_xi="2(2)"),
    )
    system_architecture: Text | None = Field(
        None,
        description="How the software components build on or feed into each other and fit into "
        "the overall processing (Annex XI, section 2, point 3).",
        json_schema_extra=audience(*AUTHORITIES, annex_xi="2(3)"),
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
    evaluations: Evaluations = Field(
        default_factory=Evaluations,
        description="Evaluation and testing (Annex XI, section 2); the results are public, the "
        "rest is for the authorities.",
        json_schema_extra=audience(*ALL),
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
    """Arguments that a model above the threshold has no systemic risk after all (Art. 52(2)).

    Only the Commission's acceptance lifts the presumption of Art. 51(2): while the arguments
    are pending, and after a rejection, the model stays gpai-systemic-risk.
    """

    arguments: Text = Field(description="The arguments, in short, or where they are kept.")
    sent_date: dt.date = Field(description="The day the arguments were sent to the Commission.")
    outcome: RebuttalOutcome = Field(
        description="pending (no decision yet), accepted (the Commission agreed the model has "
        "no systemic risk) or rejected."
    )
    decided_on: dt.date | None = Field(
        None, description="The day of the Commission's decision, once accepted or rejected."
    )


class OpenSourceRelease(_Strict):
    """Where the public information of an open-source model is (Art. 53(2))."""

    weights_url: Url = Field(description="Where the weights can be downloaded.")
    architecture_url: Url = Field(description="Where the model architecture is described.")
    usage_url: Url = Field(description="Where the information on the use of the model is.")


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
    threshold_met_on: dt.date | None = Field(
        None,
        description="The day the training compute passed 1e25 FLOP, or the day it became known "
        "that it would (Art. 52(1)); needed when the compute is above 1e25 or the basis is "
        "presumed-compute.",
        json_schema_extra=audience(*AUTHORITIES),
    )
    commission_notified_on: dt.date | None = Field(
        None,
        description="The day the Commission was notified that the model meets the threshold: "
        "at most two weeks after threshold_met_on (Art. 52(1)).",
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
    union_market_release_date: dt.date = Field(
        description="The day the product was first placed on the EU market (YYYY-MM-DD); the "
        "same day as release_date when it was released in the EU first. It decides when the "
        "obligations apply (Art. 111(3)).",
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
    licence_url: Url | None = Field(
        None,
        description="Where the full text of the licence or terms can be read.",
        json_schema_extra=audience(*ALL, annex_xii="1(h)"),
    )
    weights_public: bool = Field(
        False,
        description="true if the model weights are publicly available.",
        json_schema_extra=audience(*ALL),
    )
    open_source_release: OpenSourceRelease | None = Field(
        None,
        description="gpai-open-source models: the public addresses of the weights, the "
        "architecture description and the usage information (Art. 53(2)).",
        json_schema_extra=audience(*ALL),
    )
    training_content_summary: TrainingContentSummary | None = Field(
        None,
        description="The public summary of the content used for training, in the sections of "
        "the Commission's template (Art. 53(1)(d)). Required for every general-purpose model; "
        "the site publishes it at /products/<id>/training-content/.",
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

    @property
    def is_model(self) -> bool:
        """A general-purpose AI model of any kind, as opposed to an AI system."""
        return self.classification is not Classification.AI_SYSTEM

    # Derived, never typed: the legal team cannot get it wrong, and every page agrees.
    @computed_field(  # type: ignore[prop-decorator]
        description="Derived: the day the obligations for general-purpose AI models apply to "
        "this model. Placed on the EU market before 2 August 2025: 2 August 2027 (Art. 111(3)); "
        "otherwise the day it was placed on the market. None for AI systems.",
        json_schema_extra=audience(*ALL),
    )
    @property
    def obligations_apply_from(self) -> dt.date | None:
        if not self.is_model:
            return None
        placed = self.union_market_release_date
        return GPAI_TRANSITION_ENDS if placed < GPAI_RULES_APPLY else placed


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
    "widespread-infringement",
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


YEARS_PATTERN = r"^[1-9][0-9]*y$"
Years = Annotated[str, StringConstraints(pattern=YEARS_PATTERN)]


class Retention(_Strict):
    """How long records are kept: never deleted earlier (Code of Practice, Measures 1.1, 9.4)."""

    incident_files: Years = Field(
        "5y",
        alias="incident-files",
        description="A serious-incident file, from the day it is closed (Measure 9.4: at least "
        "5 years).",
    )
    documentation_versions: Years = Field(
        "10y",
        alias="documentation-versions",
        description="Every version of a model's documentation, from the day the model is "
        "placed on the market (Measure 1.1: 10 years).",
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
    retention: Retention = Field(
        default_factory=Retention,
        description="How long incident files and documentation versions are kept.",
    )

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

    def incident_file_kept_until(self, closed_on: dt.date) -> dt.date:
        """The first day an incident file closed on `closed_on` may be deleted."""
        return add_years(closed_on, _years(self.retention.incident_files))

    def documentation_kept_until(self, product: Product) -> dt.date:
        """The first day the documentation versions of `product` may be deleted."""
        years = _years(self.retention.documentation_versions)
        return add_years(product.union_market_release_date, years)

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


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later; 29 February becomes 1 March (never earlier)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def _years(period: str) -> int:
    return int(period.removesuffix("y"))
