"""Which authority clocks an incident opens, and which of them runs out first.

An incident may fall in several categories (a death at a water plant is `death` and
`critical-infrastructure`). Each category opens the initial-report clock of every class the
product belongs to: `gpai-systemic-risk` when the product is such a model or is built on one
(its `based_on` chain, followed to the end), `high-risk-ai-system` for a high-risk AI
system. The provider must meet the earliest of them, so that is the one a case tracks, with
the category and model that set it. Pure functions of the catalog: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portal.catalog import Catalog, Classification, Policy, Product
from portal.catalog.models import DeadlinePolicy
from portal.deadlines import due_at

SYSTEMIC_RISK = "gpai-systemic-risk"
HIGH_RISK = "high-risk-ai-system"


@dataclass(frozen=True)
class AuthorityClock:
    """One initial-report clock: the policy rule, and what opened it."""

    rule: DeadlinePolicy
    category: str
    product_class: str  # SYSTEMIC_RISK or HIGH_RISK
    model: str  # the product whose class opened it: the product itself or a model below it

    def basis(self) -> str:
        """In words, for the case page and the audit trail."""
        return f"category {self.category}, {self.product_class} ({self.model})"


def systemic_risk_models(catalog: Catalog, product: Product) -> list[str]:
    """The product and every model under it (`based_on`, followed to the end) classed as
    `gpai-systemic-risk`, nearest first."""
    found: list[str] = []
    seen: set[str] = set()
    queue = [product.id]
    while queue:
        current = catalog.products.get(queue.pop(0))
        if current is None or current.id in seen:
            continue
        seen.add(current.id)
        if current.classification is Classification.GPAI_SYSTEMIC_RISK:
            found.append(current.id)
        queue.extend(current.based_on)
    return found


def authority_clocks(
    catalog: Catalog, product: Product, categories: list[str]
) -> list[AuthorityClock]:
    """Every initial-report clock the categories open for this product."""
    reports = catalog.policy.deadlines.authority_report
    tables: list[tuple[str, str, Mapping[str, DeadlinePolicy]]] = []
    models = systemic_risk_models(catalog, product)
    if models:  # the same table for any of them: name the nearest
        tables.append((SYSTEMIC_RISK, models[0], _by_name(reports.gpai_systemic_risk)))
    if product.classification is Classification.AI_SYSTEM and product.high_risk:
        tables.append((HIGH_RISK, product.id, _by_name(reports.high_risk_ai_system)))
    return [
        AuthorityClock(table[category], category, product_class, model)
        for product_class, model, table in tables
        for category in categories
        if category in table
    ]


def earliest_authority_report(
    catalog: Catalog, product: Product, categories: list[str], aware_at: datetime
) -> tuple[AuthorityClock, datetime] | None:
    """The clock that runs out first from the provider's awareness, and when; None when no
    category opens one. Ties go to the first category given."""
    policy = catalog.policy
    clocks = authority_clocks(catalog, product, categories)
    timed = [(due(clock.rule, aware_at, policy), n, clock) for n, clock in enumerate(clocks)]
    if not timed:
        return None
    when, _, clock = min(timed, key=lambda item: (item[0], item[1]))
    return clock, when


def due(rule: DeadlinePolicy, trigger: datetime, policy: Policy) -> datetime:
    """When `rule` runs out from `trigger` under the policy's zone and holidays."""
    return due_at(
        trigger,
        rule.period,
        rule=rule.rule,
        timezone=policy.timezone,
        holidays=policy.holiday_country,
    )


def _by_name(table: Mapping[Any, DeadlinePolicy]) -> dict[str, DeadlinePolicy]:
    return {str(category): rule for category, rule in table.items()}
