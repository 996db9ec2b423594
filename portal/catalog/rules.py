"""AI Act consistency rules over validated products.

Each rule is a small function that yields problems; its docstring names the article it
implements, so the legal team can check it. Rules that look at one product get the product and
its `Document` (for positions); rules across the catalog get every product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Set
from datetime import timedelta

from portal.catalog.loader import Document
from portal.catalog.models import (
    ANNEX_XII_KEY,
    Classification,
    Policy,
    Product,
    Status,
    SystemicRiskBasis,
)
from portal.catalog.problems import Problem

SYSTEMIC_RISK_FLOP = 1e25

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


def _flop(value: float) -> str:
    """3.2e+25 reads better as 3.2e25, the way the legal team writes it."""
    return f"{value:.3g}".replace("e+", "e")


ProductRule = Callable[[Product, Document, Policy], Iterator[Problem]]


def check_compute_threshold(product: Product, doc: Document, policy: Policy) -> Iterator[Problem]:
    """Art. 51(2), 52(2): above 10^25 FLOP a model is presumed to have systemic risk.

    Unless the provider has recorded arguments rebutting the presumption.
    """
    flop = product.training_flop
    if (
        flop is not None
        and flop > SYSTEMIC_RISK_FLOP
        and product.classification is not Classification.GPAI_SYSTEMIC_RISK
        and product.systemic_risk_rebuttal is None
    ):
        yield doc.problem(
            ("classification",),
            f"classification: training compute of {_flop(flop)} FLOP is above 1e25, so the model "
            "is presumed to have systemic risk (Art. 51(2)): use gpai-systemic-risk, or record "
            "systemic_risk_rebuttal (Art. 52(2))",
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
    for section_name in type(product.documentation).model_fields:
        section = getattr(product.documentation, section_name)
        for name, field_ in type(section).model_fields.items():
            extra = field_.json_schema_extra
            item = extra.get(ANNEX_XII_KEY) if isinstance(extra, dict) else None
            if item and getattr(section, name) is None:
                yield doc.problem(
                    ("documentation", section_name),
                    f"documentation.{section_name}.{name}: required for {product.classification} "
                    f"(Annex XII, item {item})",
                )
    if product.licence is None:
        yield doc.problem(
            (),
            f"licence: required for {product.classification} (Annex XII, item 1(h))",
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


PRODUCT_RULES: tuple[ProductRule, ...] = (
    check_compute_threshold,
    check_systemic_risk_basis,
    check_open_source,
    check_annex_xii,
    check_status_dates,
    check_changes,
    check_high_risk,
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
