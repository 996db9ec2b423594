"""The words of the Model Documentation Form and Annex XII: section titles and item labels.

The models say who may read a field and which Annex XII item it fills; this module says what a
person reading the Form calls it. A test checks that every field has a label here, so a new
field cannot reach a page or an export without plain words.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from portal.catalog.models import ANNEX_XII_KEY, ART_13_KEY, Documentation, Product

SECTIONS: dict[str, str] = {
    "general": "1. General information",
    "properties": "2. Model properties",
    "distribution": "3. Distribution and licences",
    "use": "4. Use",
    "training": "5. Training process",
    "data": "6. Data",
    "compute": "7. Computational resources",
    "energy": "8. Energy consumption",
    "evaluations": "Evaluation and testing",
}

# Labels of product fields and documentation items, keyed by their dotted path.
LABELS: dict[str, str] = {
    "id": "Identifier",
    "name": "Name",
    "provider": "Provider",
    "classification": "Classification",
    "systemic_risk_basis": "Basis of the systemic-risk classification",
    "systemic_risk_rebuttal": "Arguments against systemic risk (Art. 52(2))",
    "systemic_risk_rebuttal.arguments": "Arguments against systemic risk (Art. 52(2))",
    "systemic_risk_rebuttal.sent_date": "Arguments sent to the Commission on",
    "status": "Status",
    "notice_date": "Notice given on",
    "effective_date": "Takes effect on",
    "release_date": "Release date",
    "union_market_release_date": "Placed on the EU market on",
    "obligations_apply_from": "AI Act obligations for this model apply from",
    "threshold_met_on": "Compute threshold met on (Art. 52(1))",
    "commission_notified_on": "Commission notified on (Art. 52(1))",
    "systemic_risk_rebuttal.outcome": "Commission's decision on the arguments",
    "systemic_risk_rebuttal.decided_on": "Commission decided on",
    "versions": "Model versions",
    "based_on": "Built on",
    "high_risk": "High-risk AI system",
    "licence": "Licence",
    "licence_url": "Full text of the licence",
    "open_source_release": "Public release (Art. 53(2))",
    "open_source_release.weights_url": "Public weights",
    "open_source_release.architecture_url": "Description of the architecture",
    "open_source_release.usage_url": "Information on the use of the model",
    "training_content_summary": "Public summary of training content",
    "weights_public": "Weights publicly available",
    "general.legal_name": "Provider's legal name",
    "general.authenticity": "How to check authenticity",
    "properties.architecture": "Architecture",
    "properties.design_specification": "Design specification",
    "properties.parameters": "Number of parameters",
    "properties.parameter_range": "Number of parameters (range of the Form)",
    "properties.input_modalities": "Input modalities and formats",
    "properties.output_modalities": "Output modalities and formats",
    "properties.context_window_tokens": "Maximum input size (context window, tokens)",
    "properties.max_input_size": "Maximum input size, per modality",
    "properties.max_output_size": "Maximum output size, per modality",
    "distribution.channels": "Distribution channels",
    "distribution.licence_terms": "Licence terms",
    "use.capabilities": "Capabilities",
    "use.limitations": "Limitations",
    "use.acceptable_use_policy": "Acceptable use policy",
    "use.human_oversight": "Human oversight measures",
    "use.intended_uses": "Intended and restricted uses",
    "use.ai_system_types": "Types of AI systems it can be integrated into",
    "use.integration_means": "Technical means for integration",
    "use.external_interaction": "Interaction with outside hardware and software",
    "use.required_hardware_software": "Required hardware and software",
    "training.design": "Design of the training process",
    "training.decision_rationale": "Rationale of key decisions",
    "data.type_and_modality": "Type and modality of data",
    "data.provenance": "Provenance of data",
    "data.curation_methods": "Curation methods",
    "data.acquisition": "How data was obtained and selected",
    "data.data_points": "Number of data points",
    "data.scope": "Scope and characteristics of data",
    "data.unsuitable_source_detection": "Detection of unsuitable sources",
    "data.bias_detection": "Detection of biases",
    "compute.training_time": "Training time",
    "compute.training_flop": "Training compute (FLOP)",
    "compute.methodology": "Compute measurement method",
    "compute.inference_flop": "Inference compute (FLOP)",
    "compute.inference_methodology": "Inference compute measurement method",
    "energy.training_mwh": "Energy used for training (MWh)",
    "energy.methodology": "Energy measurement method",
    "evaluations.results": "Evaluation results",
    "evaluations.strategy": "Evaluation strategy",
    "evaluations.adversarial_testing": "Adversarial testing",
    "evaluations.system_architecture": "System architecture",
}

# Annex XII, the minimum owed to downstream providers, in the Annex's own order.
ANNEX_XII: dict[str, str] = {
    "1(a)": "Intended tasks, and the type and nature of AI systems it can be integrated into",
    "1(b)": "Acceptable use policies",
    "1(c)": "Release date and methods of distribution",
    "1(d)": "Interaction with hardware or software outside the model",
    "1(e)": "Versions of relevant software",
    "1(f)": "Architecture and number of parameters",
    "1(g)": "Modalities and formats of inputs and outputs",
    "1(h)": "Licence",
    "2(a)": "Technical means for integration",
    "2(b)": "Modalities, formats and maximum sizes of inputs and outputs",
    "2(c)": "Training, testing and validation data: type, provenance and curation",
}


# Art. 13(3), the instructions for use of an AI system, in the Article's own order. The pages of
# an AI system show these instead of Annex XII, which is for general-purpose models.
ART_13: dict[str, str] = {
    "3(a)": "Identity and contact details of the provider",
    "3(b)": "Characteristics, capabilities and limitations of performance",
    "3(b)(i)": "Intended purpose",
    "3(b)(vi)": "Specifications for the input data",
    "3(b)(vii)": "Information to interpret the output",
    "3(c)": "Changes to the system and its performance",
    "3(d)": "Human oversight measures",
    "3(e)": "Computational and hardware resources, expected lifetime and maintenance",
    "3(f)": "Mechanisms to collect, store and interpret the logs",
}


@dataclass(frozen=True)
class Item:
    """One item of the Form: where it lives, its label, its Annex XII and Art. 13(3) items."""

    path: tuple[str, ...]
    label: str
    annex_xii: str | None
    art_13: str | None = None

    @property
    def key(self) -> str:
        """The dotted path under `documentation` (or at the top for product fields)."""
        return ".".join(self.path[1:] if self.path[0] == "documentation" else self.path)


def label(key: str) -> str:
    """The plain label of a dotted field path; the path itself when none is known."""
    return LABELS.get(key, key)


@functools.cache
def items() -> tuple[Item, ...]:
    """Every documentation-like item: product fields first, then the eight Form sections."""
    return tuple(_items())


def _items() -> Iterator[Item]:
    for name, field_ in Product.model_fields.items():
        if name in ("documentation", "changes"):
            continue
        extra = field_.json_schema_extra
        yield Item((name,), label(name), _tag(extra, ANNEX_XII_KEY), _tag(extra, ART_13_KEY))
    for section, section_field in Documentation.model_fields.items():
        model = section_field.annotation
        assert isinstance(model, type)
        for name, field_ in model.model_fields.items():
            extra = field_.json_schema_extra
            yield Item(
                ("documentation", section, name),
                label(f"{section}.{name}"),
                _tag(extra, ANNEX_XII_KEY),
                _tag(extra, ART_13_KEY),
            )


@functools.cache
def annex_xii_items() -> dict[str, list[Item]]:
    """Annex XII item code -> the fields that fill it, in the Annex's order (do not modify)."""
    found: dict[str, list[Item]] = {code: [] for code in ANNEX_XII}
    for item in items():
        if item.annex_xii:
            found[item.annex_xii].append(item)
    return found


@functools.cache
def art_13_items() -> dict[str, list[Item]]:
    """Art. 13(3) item code -> the fields that fill it, in the Article's order (do not modify)."""
    found: dict[str, list[Item]] = {code: [] for code in ART_13}
    for item in items():
        if item.art_13:
            found[item.art_13].append(item)
    return found


def _tag(extra: object, key: str) -> str | None:
    if isinstance(extra, dict):
        code = extra.get(key)
        return code if isinstance(code, str) else None
    return None
