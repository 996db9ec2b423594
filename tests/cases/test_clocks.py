"""Which authority clocks an incident opens: several categories, the earliest one, and the
systemic-risk model under a product (`portal.cases.clocks`, pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import catalog_with_high_risk_system

from portal.cases import clocks
from portal.catalog import Catalog, load_catalog

PARIS = ZoneInfo("Europe/Paris")
CRITICAL = "critical-infrastructure"
LARGE = "lumen-large-3"
AWARE = datetime(2026, 3, 27, 10, 0, tzinfo=UTC)  # two days before the switch to summer time


@pytest.mark.parametrize(
    ("product", "categories", "days", "category", "model"),
    [
        ("lumen-large-3", ["death"], 10, "death", "lumen-large-3"),
        ("lumen-large-3", ["death", CRITICAL], 2, CRITICAL, "lumen-large-3"),
        ("lumen-large-3", ["health", "cybersecurity-breach"], 5, "cybersecurity-breach", LARGE),
        ("lumen-large-3", ["health", "fundamental-rights"], 15, "health", "lumen-large-3"),
        # An AI system built on a systemic-risk model: that model's clocks, naming it.
        ("lumen-chat", ["death"], 10, "death", "lumen-large-3"),
        ("lumen-chat", ["fundamental-rights", "death"], 10, "death", "lumen-large-3"),
    ],
)  # fmt: skip
def test_the_earliest_clock_of_all_categories_wins(
    catalog: Catalog, product: str, categories: list[str], days: int, category: str, model: str
) -> None:
    found = clocks.earliest_authority_report(catalog, catalog.products[product], categories, AWARE)
    assert found is not None
    clock, due = found
    assert (clock.category, clock.model) == (category, model)
    # Whole days on the provider's calendar: across the switch to summer time, an hour fewer.
    assert due == (AWARE.astimezone(PARIS) + timedelta(days=days)).astimezone(UTC)
    assert due - AWARE == timedelta(days=days, hours=-1)
    assert clock.basis().startswith(f"category {category}, ")


def test_a_high_risk_system_opens_the_article_73_clocks(tmp_path: Path) -> None:
    """On a model without systemic risk; the sample catalog has no such system."""
    catalog = load_catalog(catalog_with_high_risk_system(tmp_path))
    recruit = catalog.products["lumen-recruit"]
    found = clocks.earliest_authority_report(catalog, recruit, ["health", CRITICAL], AWARE)
    assert found is not None
    clock, due = found
    assert (clock.product_class, clock.category, clock.model) == (
        clocks.HIGH_RISK,
        CRITICAL,
        "lumen-recruit",
    )
    assert due == (AWARE.astimezone(PARIS) + timedelta(days=2)).astimezone(UTC)


@pytest.mark.parametrize("product", ["lumen-medium-2", "lumen-code-2", "lumen-small-3-fr"])
def test_models_without_systemic_risk_open_no_authority_clock(
    catalog: Catalog, product: str
) -> None:
    assert clocks.authority_clocks(catalog, catalog.products[product], ["death"]) == []
    assert (
        clocks.earliest_authority_report(catalog, catalog.products[product], ["death"], AWARE)
        is None
    )


def test_the_based_on_chain_is_followed_to_the_end(catalog: Catalog) -> None:
    assert clocks.systemic_risk_models(catalog, catalog.products["lumen-chat"]) == ["lumen-large-3"]
    assert clocks.systemic_risk_models(catalog, catalog.products["lumen-code-2"]) == []
    assert clocks.systemic_risk_models(catalog, catalog.products["lumen-ultra"]) == ["lumen-ultra"]


def test_every_category_of_a_systemic_risk_model_opens_its_own_clock(catalog: Catalog) -> None:
    opened = clocks.authority_clocks(
        catalog, catalog.products["lumen-ultra"], ["death", "health", "critical-infrastructure"]
    )
    assert [(c.category, c.rule.period) for c in opened] == [
        ("death", "10d"),
        ("health", "15d"),
        ("critical-infrastructure", "2d"),
    ]
