"""AI Act consistency rules over validated products.

Each rule is a small function that yields problems; its docstring names the article it
implements, so the legal team can check it. Rules that look at one product get the product and
its `Document` (for positions); rules across the catalog get every product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from datetime import timedelta
from pathlib import Path

from portal.catalog.loader import Document, display_path
from portal.catalog.models import (
    ANNEX_XI_KEY,
    ANNEX_XII_KEY,
    PARAMETER_RANGES,
    Classification,
    Policy,
    Product,
    RebuttalOutcome,
    Status,
    SystemicRiskBasis,
)
from portal.catalog.problems import Problem
from portal.catalog.provider import Provider

SYSTEMIC_RISK_FLOP = 1e25
# Art. 52(1): the Commission is notified "in any event within two weeks".
COMMISSION_NOTICE = timedelta(weeks=2)

# Licences approved by the Open Source Initiative that the legal team has met in practice;
# a proprietary or non-commercial licence never qualifies for the exemption of Art. 53(2).
OPEN_SOURCE_LICENCES = frozenset(
    {
        "Apache-2.0",
        "MIT",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "ISC",
        "MPL-2.0",
        "GPL-2.0-only",
        "GPL-2.0-or-later",
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "LGPL-2.1-only",
        "LGPL-2.1-or-later",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "EPL-2.0",
        "0BSD",
        "Unlicense",
        "UPL-1.0",
    }
)


def _tag(extra: object, key: str) -> str | None:
    """The legal item a field fills, from its JSON Schema extras."""
    value = extra.get(key) if isinstance(extra, dict) else None
    return value if isinstance(value, str) else None


def _flop(value: float) -> str:
    """3.2e+25 reads better as 3.2e25, the way the legal team writes it."""
    return f"{value:.3g}".replace("e+", "e")


ProductRule = Callable[[Product, Document, Policy], Iterator[Problem]]


def check_compute_threshold(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 51(2), 52(2) and 52(3): above 10^25 FLOP a model is presumed to have systemic risk.

    Only a rebuttal the Commission has accepted lifts the presumption: while the arguments are
    pending, or once they are rejected, the model stays gpai-systemic-risk.
    """
    flop = product.training_flop
    if (
        flop is None
        or flop <= SYSTEMIC_RISK_FLOP
        or product.classification is Classification.GPAI_SYSTEMIC_RISK
    ):
        return
    rebuttal = product.systemic_risk_rebuttal
    if rebuttal is None:
        yield doc.problem(
            ("classification",),
            f"classification: training compute of {_flop(flop)} FLOP is above 1e25, so the model "
            "is presumed to have systemic risk (Art. 51(2)): use gpai-systemic-risk, or record "
            "systemic_risk_rebuttal (Art. 52(2))",
        )
    elif rebuttal.outcome is not RebuttalOutcome.ACCEPTED:
        state = (
            "still pending"
            if rebuttal.outcome is RebuttalOutcome.PENDING
            else "rejected by the Commission"
        )
        yield doc.problem(
            ("classification",),
            f"classification: training compute of {_flop(flop)} FLOP is above 1e25 and the "
            f"rebuttal is {state}, so the model stays gpai-systemic-risk: only an accepted "
            "rebuttal lifts the presumption (Art. 52(2) and (3))",
        )


def check_rebuttal(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 52(2) and (3): a rebuttal answers the compute presumption, and its outcome is kept.

    An accepted rebuttal lifts the presumption, so a model classified on that very presumption
    contradicts it; a decision has a date, and a pending rebuttal has none.
    """
    rebuttal = product.systemic_risk_rebuttal
    if rebuttal is None:
        return
    where = ("systemic_risk_rebuttal", "outcome")
    if (
        rebuttal.outcome is RebuttalOutcome.ACCEPTED
        and product.systemic_risk_basis is SystemicRiskBasis.PRESUMED_COMPUTE
    ):
        yield doc.problem(
            where,
            "systemic_risk_rebuttal.outcome: the Commission accepted the rebuttal, so the "
            "presumption of Art. 51(2) no longer applies: classify the model as gpai, or change "
            "systemic_risk_basis (Art. 52(3))",
        )
    if rebuttal.outcome is RebuttalOutcome.PENDING and rebuttal.decided_on is not None:
        yield doc.problem(
            ("systemic_risk_rebuttal", "decided_on"),
            "systemic_risk_rebuttal.decided_on: a pending rebuttal has no decision yet; set "
            "outcome to accepted or rejected",
        )
    if rebuttal.outcome is not RebuttalOutcome.PENDING and rebuttal.decided_on is None:
        yield doc.problem(
            where,
            f"systemic_risk_rebuttal.decided_on: required once the outcome is {rebuttal.outcome}",
        )


def check_commission_notice(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 52(1): the Commission is notified within two weeks of meeting the 10^25 FLOP threshold.

    The two weeks run from the day the threshold is met, or the day it becomes known that it
    will be met. This holds for every model above the threshold or presumed on that basis,
    whatever becomes of a rebuttal: the arguments of Art. 52(2) come with the notification.
    A model designated by the Commission (Art. 52(4)) was not notified by the provider.
    """
    flop = product.training_flop
    above = flop is not None and flop > SYSTEMIC_RISK_FLOP
    presumed = product.systemic_risk_basis is SystemicRiskBasis.PRESUMED_COMPUTE
    if not product.is_model or not (above or presumed):
        return
    met, notified = product.threshold_met_on, product.commission_notified_on
    if met is None:
        yield doc.problem(
            ("classification",),
            "threshold_met_on: required for a model whose training compute is above 1e25 FLOP: "
            "the day the threshold was met, or became known to be met (Art. 52(1))",
        )
    if notified is None:
        yield doc.problem(
            ("classification",),
            "commission_notified_on: required for a model whose training compute is above 1e25 "
            "FLOP: the Commission must be notified within two weeks of the threshold being met "
            "or known to be met (Art. 52(1))",
        )
    elif met is not None and notified - met > COMMISSION_NOTICE:
        yield doc.problem(
            ("commission_notified_on",),
            f"commission_notified_on: {notified} is {(notified - met).days} days after "
            f"threshold_met_on {met}; the Commission must be notified within two weeks "
            "(Art. 52(1))",
        )


def check_systemic_risk_basis(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 51(1): systemic risk is presumed from compute (51(2)) or designated (51(1)(b))."""
    basis = product.systemic_risk_basis
    if product.classification is Classification.GPAI_SYSTEMIC_RISK:
        if basis is None:
            yield doc.problem(
                ("classification",),
                "systemic_risk_basis: required for gpai-systemic-risk: presumed-compute "
                "(Art. 51(2)) or commission-designation (Art. 51(1)(b))",
            )
        elif basis is SystemicRiskBasis.PRESUMED_COMPUTE:
            flop = product.training_flop
            if flop is None or flop <= SYSTEMIC_RISK_FLOP:
                where = ("documentation", "compute", "training_flop")
                shown = "not given" if flop is None else f"{_flop(flop)} FLOP"
                yield doc.problem(
                    where if flop is not None else ("systemic_risk_basis",),
                    "systemic_risk_basis: presumed-compute needs "
                    f"documentation.compute.training_flop above 1e25 (Art. 51(2)); it is {shown}",
                )
    elif basis is not None:
        yield doc.problem(
            ("systemic_risk_basis",),
            "systemic_risk_basis: only for gpai-systemic-risk products",
        )


def check_open_source(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 53(2): the open-source exemption needs a free, open-source licence and public weights.

    Art. 53(2) also excludes models with systemic risk, which have their own classification.
    """
    if product.classification is not Classification.GPAI_OPEN_SOURCE:
        return
    if product.open_source_release is None:
        yield doc.problem(
            ("classification",),
            "open_source_release: required for gpai-open-source: the public addresses of the "
            "weights (weights_url), the architecture (architecture_url) and the usage "
            "information (usage_url) (Art. 53(2))",
        )
    if product.licence not in OPEN_SOURCE_LICENCES:
        shown = product.licence or "not given"
        yield doc.problem(
            ("licence",) if product.licence else ("classification",),
            f"licence: gpai-open-source needs a free and open-source licence (e.g. Apache-2.0, "
            f"MIT); it is {shown} (Art. 53(2))",
        )
    if not product.weights_public:
        yield doc.problem(
            ("weights_public",) if "weights_public" in doc.data else ("classification",),
            "weights_public: gpai-open-source needs publicly available weights (Art. 53(2))",
        )


def check_annex_xii(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 53(1)(b) and Annex XII: gpai and gpai-systemic-risk models document every item.

    Open-source models are exempt (Art. 53(2)); AI systems are not models.
    """
    if product.classification not in (
        Classification.GPAI,
        Classification.GPAI_SYSTEMIC_RISK,
    ):
        return
    for name, field_ in Product.model_fields.items():
        item = _tag(field_.json_schema_extra, ANNEX_XII_KEY)
        if item and getattr(product, name) is None:
            yield doc.problem(
                (), f"{name}: required for {product.classification} (Annex XII, item {item})"
            )
    for section_name in type(product.documentation).model_fields:
        section = getattr(product.documentation, section_name)
        for name, field_ in type(section).model_fields.items():
            item = _tag(field_.json_schema_extra, ANNEX_XII_KEY)
            if item and getattr(section, name) is None:
                yield doc.problem(
                    ("documentation", section_name),
                    f"documentation.{section_name}.{name}: required for {product.classification} "
                    f"(Annex XII, item {item})",
                )


def check_annex_xi_evaluation(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 55(1)(a) and Annex XI, section 2: a systemic-risk model documents its evaluations.

    The results, the evaluation strategy, the adversarial testing and the system architecture.
    """
    if product.classification is not Classification.GPAI_SYSTEMIC_RISK:
        return
    section = product.documentation.evaluations
    for name, field_ in type(section).model_fields.items():
        item = _tag(field_.json_schema_extra, ANNEX_XI_KEY)
        if item and getattr(section, name) is None:
            point = item.removeprefix("2(").removesuffix(")")
            yield doc.problem(
                ("documentation", "evaluations"),
                f"documentation.evaluations.{name}: required for gpai-systemic-risk "
                f"(Annex XI, section 2, point {point})",
            )


def check_capabilities(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 53(1)(b)(i) and the provider's terms: every model states its capabilities and limits.

    Open-source models too: the terms promise this documentation for every covered product.
    """
    if not product.is_model:
        return
    for name in ("capabilities", "limitations"):
        if getattr(product.documentation.use, name) is None:
            yield doc.problem(
                ("documentation", "use"),
                f"documentation.use.{name}: required for every general-purpose AI model "
                "(Art. 53(1)(b)(i))",
            )


def check_training_content(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 53(1)(d): every general-purpose model has a public summary of its training content.

    Open-source models too (Art. 53(2) does not exempt them from point (d)).
    """
    if product.is_model and product.training_content_summary is None:
        yield doc.problem(
            (),
            f"training_content_summary: required for {product.classification}: the public "
            "summary of the content used for training (Art. 53(1)(d))",
        )
    elif not product.is_model and product.training_content_summary is not None:
        yield doc.problem(
            ("training_content_summary",),
            "training_content_summary: only for general-purpose AI models (Art. 53(1)(d)); an "
            "AI system relies on the summaries of the models it is built on",
        )


def check_sizes(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Annex XII 2(b): the maximum size of inputs and outputs is given for each modality."""
    props = product.documentation.properties
    for key, modalities in (
        ("max_input_size", props.input_modalities),
        ("max_output_size", props.output_modalities),
    ):
        sizes = getattr(props, key)
        if sizes is None or modalities is None:
            continue
        where = ("documentation", "properties", key)
        for modality in modalities:
            if modality not in sizes:
                yield doc.problem(
                    where,
                    f"documentation.properties.{key}: no maximum size for {modality} "
                    "(Annex XII, item 2(b))",
                )
        for modality in sizes:
            if modality not in modalities:
                yield doc.problem(
                    (*where, modality),
                    f"documentation.properties.{key}: {modality} is not one of the modalities "
                    f"listed in {key.replace('max_', '').replace('_size', '')}_modalities",
                    key=True,
                )


def check_parameter_range(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Annex XII 1(f): the range of parameters shown agrees with the number of parameters."""
    props = product.documentation.properties
    if props.parameters is None or props.parameter_range is None:
        return
    low, high = PARAMETER_RANGES[props.parameter_range]
    if props.parameters < low or (high is not None and props.parameters >= high):
        right = next(
            code
            for code, (lo, hi) in PARAMETER_RANGES.items()
            if props.parameters >= lo and (hi is None or props.parameters < hi)
        )
        yield doc.problem(
            ("documentation", "properties", "parameter_range"),
            f"documentation.properties.parameter_range: {props.parameter_range} does not hold "
            f"{props.parameters:,} parameters; it is {right}",
        )


def check_market_dates(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 3(9) and 111(3): a product reaches the EU market on or after its first release."""
    if product.union_market_release_date < product.release_date:
        yield doc.problem(
            ("union_market_release_date",),
            f"union_market_release_date: {product.union_market_release_date} is before the "
            f"release_date {product.release_date}",
        )


def check_status_dates(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Provider's terms: reasonable prior notice before a deprecation or withdrawal takes effect.

    The minimum notice is the policy's `withdrawal_notice_min_days`.
    """
    if product.status is Status.AVAILABLE:
        for key in ("notice_date", "effective_date"):
            if getattr(product, key) is not None:
                yield doc.problem((key,), f"{key}: only for deprecated or withdrawn products")
        return
    missing = [k for k in ("notice_date", "effective_date") if getattr(product, k) is None]
    for key in missing:
        yield doc.problem(("status",), f"{key}: required when status is {product.status}")
    if missing:
        return
    assert product.notice_date is not None and product.effective_date is not None
    minimum = policy.withdrawal_notice_min_days
    if product.effective_date - product.notice_date < timedelta(days=minimum):
        days = (product.effective_date - product.notice_date).days
        yield doc.problem(
            ("effective_date",),
            f"effective_date: only {days} days after notice_date; the policy requires at least "
            f"{minimum} days of notice",
        )


def check_changes(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Code of Practice, Measure 1.1: documentation versions are kept in order, none rewritten.

    Versions strictly increase, dates never go back, and none is before the release date.
    """
    previous = None
    for i, change in enumerate(product.changes):
        if change.date < product.release_date:
            yield doc.problem(
                ("changes", i, "date"),
                f"changes[{i}].date: {change.date} is before the release_date "
                f"{product.release_date}",
            )
        if previous is not None:
            if change.version <= previous.version:
                yield doc.problem(
                    ("changes", i, "version"),
                    f"changes[{i}].version: {change.version} must be greater than the version "
                    f"before it ({previous.version})",
                )
            if change.date < previous.date:
                yield doc.problem(
                    ("changes", i, "date"),
                    f"changes[{i}].date: {change.date} is before the change before it "
                    f"({previous.date})",
                )
        previous = change


def check_high_risk(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 6: only an AI system can be high-risk; models are classified under Chapter V."""
    if product.high_risk is not None and product.classification is not Classification.AI_SYSTEM:
        yield doc.problem(("high_risk",), "high_risk: only for ai-system products")


def warn_high_risk(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 6 and the provider's terms: the terms say the provider offers no high-risk system.

    A warning, not a problem: the classification may be right and the terms out of date, which
    is for the legal team to settle; until then high-risk duties (Chapter III) apply.
    """
    if product.classification is Classification.AI_SYSTEM and product.high_risk:
        yield doc.problem(
            ("high_risk",),
            "high_risk: this is a high-risk AI system (Art. 6), but the provider's terms say it "
            "offers none: correct the classification or the terms; Chapter III and the "
            "Art. 73 incident clocks apply meanwhile",
        )


PRODUCT_RULES: tuple[ProductRule, ...] = (
    check_compute_threshold,
    check_rebuttal,
    check_systemic_risk_basis,
    check_commission_notice,
    check_open_source,
    check_annex_xii,
    check_annex_xi_evaluation,
    check_capabilities,
    check_training_content,
    check_sizes,
    check_parameter_range,
    check_market_dates,
    check_status_dates,
    check_changes,
    check_high_risk,
)
# What `portal check` prints as warnings: the catalog stays valid and is published.
PRODUCT_WARNINGS: tuple[ProductRule, ...] = (warn_high_risk,)


def check_copyright_policy(
    provider: Provider | None, doc: Document | None, path: Path, products: Iterable[Product]
) -> Iterator[Problem]:
    """Art. 53(1)(c): a provider of general-purpose AI models has a copyright policy.

    One for all its models, in `provider.yaml`; a page named there must exist beside it.
    """
    models = [p for p in products if p.is_model]
    if not models:
        return
    if provider is None or doc is None:
        yield Problem(
            display_path(path),
            1,
            1,
            "copyright_policy: required once the catalog has a general-purpose AI model "
            f"({models[0].id}): create this file with name and copyright_policy (Art. 53(1)(c))",
        )
        return
    policy = provider.copyright_policy
    if policy is None:
        yield doc.problem(
            (),
            "copyright_policy: required once the catalog has a general-purpose AI model "
            f"({models[0].id}) (Art. 53(1)(c))",
        )
    elif policy.page is not None and not (path.parent / policy.page).is_file():
        yield doc.problem(
            ("copyright_policy", "page"),
            f"copyright_policy.page: no file {policy.page} beside {path.name}",
        )


def check_ids(
    products: Mapping[str, tuple[Product, Document]], stems: Mapping[str, str]
) -> Iterator[Problem]:
    """Each product has one file, named after its id, so its URLs never clash (Art. 53(1)(b))."""
    for key, (product, doc) in products.items():
        stem = stems[key]
        if product.id != stem:
            yield doc.problem(
                ("id",), f"id: '{product.id}' must equal the file name without .yaml ('{stem}')"
            )


def check_based_on(
    products: Mapping[str, tuple[Product, Document]], unloaded: Set[str] = frozenset()
) -> Iterator[Problem]:
    """Art. 3(63) and 25: a fine-tune or AI system names the catalog models it builds on.

    Every id exists, a product does not build on itself, and there is no cycle. Ids of files
    that failed to load (`unloaded`) are known: their own problems are reported already.
    """
    ids = {product.id for product, _ in products.values()}
    for product, doc in products.values():
        for i, parent in enumerate(product.based_on):
            if parent not in ids and parent not in unloaded:
                yield doc.problem(
                    ("based_on", i), f"based_on[{i}]: no product with id '{parent}' in the catalog"
                )
            elif parent == product.id:
                yield doc.problem(
                    ("based_on", i), f"based_on[{i}]: a product cannot build on itself"
                )
    graph = {p.id: [b for b in p.based_on if b in ids and b != p.id] for p, _ in products.values()}
    docs = {p.id: d for p, d in products.values()}
    for cycle in _cycles(graph):
        first = cycle[0]
        i = graph[first].index(cycle[1] if len(cycle) > 1 else first)
        path = " -> ".join([*cycle, first])
        yield docs[first].problem(
            ("based_on", i), f"based_on[{i}]: products build on each other in a cycle: {path}"
        )


def _cycles(graph: Mapping[str, list[str]]) -> Iterator[list[str]]:
    """Each cycle once, as the list of its nodes starting from its smallest id."""
    seen: set[tuple[str, ...]] = set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    ring = tuple(path)
                    low = ring.index(min(ring))
                    canon = ring[low:] + ring[:low]
                    if canon not in seen:
                        seen.add(canon)
                        yield list(canon)
                elif nxt not in path and nxt > start:
                    stack.append((nxt, [*path, nxt]))
