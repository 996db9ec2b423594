"""What each classification and status means, in plain words, and how a product reached its own.

The explanation is built from the downstream view of a product only (its classification,
systemic-risk basis, licence, public weights, high-risk flag and parents), so it can never
reveal a figure meant for the authorities, such as the training compute itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClassInfo:
    """A classification as the site explains it."""

    code: str
    title: str
    short: str
    meaning: str
    duties: tuple[str, ...]


CLASSIFICATIONS: dict[str, ClassInfo] = {
    info.code: info
    for info in (
        ClassInfo(
            "gpai",
            "General-purpose AI model",
            "GPAI model",
            "A model trained on broad data that can do many different tasks well and can be "
            "built into many kinds of AI systems (Art. 3(63)).",
            (
                "We keep technical documentation for the AI Office and national authorities, "
                "and give it to them on request (Art. 53(1)(a), Annex XI).",
                "We give downstream providers the documentation they need to integrate the "
                "model and meet their own duties (Art. 53(1)(b), Annex XII): it is on this site.",
                "We have a policy to comply with EU copyright law (Art. 53(1)(c)).",
                "We publish a summary of the content used for training (Art. 53(1)(d)).",
            ),
        ),
        ClassInfo(
            "gpai-open-source",
            "Open-source general-purpose AI model",
            "Open-source GPAI model",
            "A general-purpose AI model released under a free and open-source licence, with "
            "its weights, architecture and usage information public (Art. 53(2)).",
            (
                "It is exempt from the documentation duties of Art. 53(1)(a) and (b): the "
                "public weights and information take their place, so some items below may "
                "be marked as not provided.",
                "We still have a copyright policy and publish a summary of the training "
                "content (Art. 53(1)(c) and (d)).",
                "The exemption never applies to a model with systemic risk.",
            ),
        ),
        ClassInfo(
            "gpai-systemic-risk",
            "General-purpose AI model with systemic risk",
            "GPAI model with systemic risk",
            "A general-purpose AI model with high-impact capabilities: presumed when its "
            "training compute is above 10^25 FLOP (Art. 51(2)), or designated by the "
            "Commission (Art. 51(1)(b)).",
            (
                "Every duty of a general-purpose AI model (Art. 53), including the "
                "documentation on this site.",
                "We evaluate the model, assess and reduce systemic risks, and protect it with "
                "adequate cybersecurity (Art. 55(1)).",
                "We report serious incidents to the AI Office without undue delay "
                "(Art. 55(1)(c)): tell us of any within 48 hours.",
            ),
        ),
        ClassInfo(
            "ai-system",
            "AI system",
            "AI system",
            "A machine-based system, such as a chat assistant, that infers from its input how "
            "to generate outputs (Art. 3(1)). It may be built on our models.",
            (
                "A high-risk AI system follows Chapter III of the Act; its serious incidents are "
                "reported under Art. 73.",
                "A system built on our own model is supervised by the AI Office (Art. 75(1)).",
                "Systems that interact with people tell them they are talking to an AI (Art. 50).",
            ),
        ),
    )
}

STATUSES: dict[str, str] = {
    "available": "Available",
    "deprecated": "Deprecated",
    "withdrawn": "Withdrawn",
}


def rule_path(product: Mapping[str, Any]) -> list[str]:
    """The steps that lead to a product's classification, each with its legal basis."""
    code = product["classification"]
    if code == "ai-system":
        steps = ["a system that generates outputs from its input: AI system, Art. 3(1)"]
        if product.get("high_risk") is True:
            steps.append(
                "listed as high-risk: high-risk AI system, Art. 6; serious incidents under Art. 73"
            )
        elif product.get("high_risk") is False:
            steps.append("not high-risk under Art. 6")
        if product.get("based_on"):
            steps.append(
                "built on our own general-purpose models: supervised by the AI Office, Art. 75(1)"
            )
        return steps
    steps = ["trained on broad data, able to do many tasks: general-purpose AI model, Art. 3(63)"]
    if code == "gpai-systemic-risk":
        if product.get("systemic_risk_basis") == "commission-designation":
            steps.append("designated by the Commission: systemic risk, Art. 51(1)(b)")
        else:
            steps.append("training compute above 10^25 FLOP: presumed systemic risk, Art. 51(2)")
        steps.append("extra duties of Art. 55 apply")
    elif code == "gpai-open-source":
        licence = product.get("licence") or "an open-source licence"
        steps.append(
            f"free and open-source licence ({licence}) and public weights: exempt from the "
            "documentation duties, Art. 53(2)"
        )
    else:
        steps.append("not classified as having systemic risk: the duties of Art. 53")
    return steps
