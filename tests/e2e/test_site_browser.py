"""The site in a real browser under the portal's CSP: search, open a product, see its class."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.portalReport(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(page: Page, site_url: str) -> tuple[Page, dict[str, list[str]]]:
    """A page that fails any request off the local server and records every CSP violation."""
    seen: dict[str, list[str]] = {"csp": [], "console": [], "blocked": [], "errors": []}

    def route(r: Route) -> None:
        if r.request.url.startswith(site_url):
            r.continue_()
        else:
            seen["blocked"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.expose_function("portalReport", lambda text: seen["csp"].append(text))
    page.add_init_script(WATCH_CSP)

    def console(msg: Any) -> None:
        if msg.type == "error":
            seen["console"].append(msg.text)

    page.on("console", console)
    page.on("pageerror", lambda err: seen["errors"].append(str(err)))
    return page, seen


def test_search_a_product_and_see_its_classification(
    watched: tuple[Page, dict[str, list[str]]], site_url: str
) -> None:
    page, seen = watched
    page.goto(site_url)
    expect(page.locator("h1")).to_contain_text("AI Act portal")

    query = page.locator("input[data-md-component=search-query]")
    query.click()
    query.press_sequentially("Lumen Ultra", delay=30)
    result = page.locator(".md-search-result__link[href*='products/lumen-ultra/']").first
    expect(result).to_be_visible(timeout=10_000)
    result.click()

    expect(page).to_have_url(
        re.compile(re.escape(f"{site_url}products/lumen-ultra/") + r"(\?.*)?$")
    )
    expect(page.locator("h1")).to_contain_text("Lumen Ultra")
    badge = page.locator("article .portal-badge").first
    expect(badge).to_have_text("GPAI model with systemic risk")
    expect(page.locator("article")).to_contain_text("designated by the Commission")

    page.locator("label[for=__palette_1]").click()
    expect(page.locator("body")).to_have_attribute("data-md-color-scheme", "slate")

    page.locator(".md-tabs__link", has_text="Products").click()
    expect(page).to_have_url(f"{site_url}products/")
    page.locator(".portal-filter a[data-filter=ai-system]").click()
    visible = page.locator(".portal-products tbody tr:visible")
    expect(visible).to_have_count(1)  # Lumen Chat
    expect(page.locator("body")).to_have_attribute("data-md-color-scheme", "slate")

    assert seen == {"csp": [], "console": [], "blocked": [], "errors": []}


def test_each_kind_of_page_loads_cleanly(
    watched: tuple[Page, dict[str, list[str]]], site_url: str
) -> None:
    """A full load of each kind of page: no CSP violation, no console error, no outside request."""
    page, seen = watched
    for path in (
        "products/lumen-large-3/",
        "products/lumen-large-3/v2/",
        "classifications/gpai-systemic-risk/",
        "changes/",
        "deadlines/",
    ):
        response = page.goto(site_url + path)
        assert response is not None and response.ok, path
        expect(page.locator("h1").first).to_be_visible()
    assert seen == {"csp": [], "console": [], "blocked": [], "errors": []}
