"""The sample site, built once: pages, classifications, links, feed, catalog.json, CSP safety."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import jsonschema
import pytest

from portal.catalog import Catalog, load_catalog
from portal.catalog.audience import hidden_fields, view
from portal.docs.legal import CLASSIFICATIONS, STATUSES

Reader = Callable[[Path], Any]

ATOM = "{http://www.w3.org/2005/Atom}"
SITE_URL = "http://127.0.0.1:8000/"
# Served by the Flask app on the same origin, not by the static site.
APP_ROUTES = ("/report-incident", "/request-information", "/status")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "catalog")


def test_a_page_per_product_and_version(sample_site: Path, html: Reader, catalog: Catalog) -> None:
    for product in catalog.products.values():
        page = html(sample_site / "products" / product.id / "index.html")
        assert product.name in page.text
        for change in product.changes:
            version = sample_site / "products" / product.id / f"v{change.version}" / "index.html"
            # Whitespace aside: a document the summary names is a link of its own.
            assert change.summary.replace(" ", "") in html(version).text.replace(" ", "")
    for code in CLASSIFICATIONS:
        assert (sample_site / "classifications" / code / "index.html").is_file()
    for path in ("index.html", "products/index.html", "changes/index.html", "deadlines/index.html"):
        assert (sample_site / path).is_file()


def test_classification_and_status_on_each_product_page(
    sample_site: Path, html: Reader, catalog: Catalog
) -> None:
    for product in catalog.products.values():
        page = html(sample_site / "products" / product.id / "index.html")
        badges = {a["data-classification"] for a in page.with_class("portal-badge")}
        assert badges == {product.classification.value}, product.id
        statuses = {a["class"] for a in page.with_class("portal-status")}
        assert statuses == {f"portal-status portal-status--{product.status.value}"}
        assert STATUSES[product.status.value] in page.text
        assert CLASSIFICATIONS[product.classification.value].title in page.text


def test_rule_path_explains_the_legal_basis(sample_site: Path, html: Reader) -> None:
    large = html(sample_site / "products/lumen-large-3/index.html").text
    assert "training compute above 10^25 FLOP: presumed systemic risk, Art. 51(2)" in large
    ultra = html(sample_site / "products/lumen-ultra/index.html").text
    assert "designated by the Commission: systemic risk, Art. 51(1)(b)" in ultra
    open_source = html(sample_site / "products/lumen-small-3-fr/index.html").text
    assert "Not provided: this open-source model is exempt" in open_source


def test_products_table_lists_every_product_once(
    sample_site: Path, html: Reader, catalog: Catalog
) -> None:
    page = html(sample_site / "products/index.html")
    links = {a["href"] for a in page.find("a") if a.get("href", "").count("/") == 1}
    assert {f"{pid}/" for pid in catalog.products} <= links
    rows = [a["data-classification"] for a in page.with_class("portal-badge")]
    assert sorted(rows) == sorted(p.classification.value for p in catalog.products.values())
    filters = {a["data-filter"] for a in page.find("a") if "data-filter" in a}
    assert filters == {"", *CLASSIFICATIONS}


def test_product_pages_link_to_the_forms_with_the_product(
    sample_site: Path, html: Reader, catalog: Catalog
) -> None:
    for pid in catalog.products:
        hrefs = {
            a.get("href") for a in html(sample_site / "products" / pid / "index.html").find("a")
        }
        assert f"/report-incident?product={pid}" in hrefs
        assert f"/request-information?product={pid}" in hrefs
    home = {a.get("href") for a in html(sample_site / "index.html").find("a")}
    assert {"/report-incident", "/request-information", "deadlines/"} <= home


def _catalog_addresses(catalog: Catalog) -> set[str]:
    """Every https address the catalog publishes (licences, policies, evaluations, weights)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value.startswith("https://"):
            found.add(value)

    for product in catalog.products.values():
        walk(view(product))
    return found


def test_every_internal_link_resolves(sample_site: Path, html: Reader, catalog: Catalog) -> None:
    """Links stay on the site, except the catalog's own public addresses, each over https."""
    pages = {p: html(p) for p in sample_site.rglob("*.html")}
    addresses = _catalog_addresses(catalog)
    assert len(addresses) > 10
    broken = []
    for path, page in pages.items():
        base = SITE_URL + path.parent.relative_to(sample_site).as_posix() + "/"
        if path.name != "index.html":
            base = SITE_URL + path.relative_to(sample_site).as_posix()
        for tag, attrs in page.elements:
            ref = attrs.get("href") if tag in ("a", "link") else attrs.get("src")
            if not ref or tag not in ("a", "link", "script", "img") or ref.startswith("mailto:"):
                continue
            url = urlsplit(urljoin(base, ref))
            if f"{url.scheme}://{url.netloc}/" != SITE_URL:
                if ref not in addresses:
                    broken.append((path, ref, "external"))
                continue
            if url.path in APP_ROUTES:
                continue
            target = sample_site / url.path.lstrip("/")
            if url.path.endswith("/"):
                target = target / "index.html"
            if not target.is_file():
                broken.append((path, ref, "missing"))
            elif url.fragment and target.suffix == ".html":
                if url.fragment not in (pages.get(target) or html(target)).ids:
                    broken.append((path, ref, "anchor"))
    assert broken == []


def test_no_inline_script_or_style_anywhere(sample_site: Path, html: Reader) -> None:
    """The CSP allows neither; Material's inline scripts were moved into static files."""
    for path in sample_site.rglob("*.html"):
        page = html(path)
        assert page.inline_scripts == [], path
        assert not [a for _, a in page.elements if "style" in a], path
        assert not page.find("style"), path


def test_feed_is_atom_with_exactly_the_substantial_changes(
    sample_site: Path, html: Reader, catalog: Catalog
) -> None:
    root = ET.parse(sample_site / "changes/feed.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None
    expected = {
        f"{SITE_URL}products/{p.id}/v{c.version}/"
        for p in catalog.products.values()
        for c in p.changes
        if c.substantial
    }
    entries = root.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(ids) == len(expected) and set(ids) == expected
    updated = [e.findtext(f"{ATOM}updated") or "" for e in entries]
    assert updated == sorted(updated, reverse=True)
    for entry in entries:
        assert entry.findtext(f"{ATOM}title") and entry.find(f"{ATOM}link") is not None
        link = entry.find(f"{ATOM}link")
        assert link is not None
        page = sample_site / urlsplit(link.attrib["href"]).path.lstrip("/") / "index.html"
        assert page.is_file()


def test_catalog_json_validates_against_its_schema(
    sample_site: Path, html: Reader, catalog: Catalog
) -> None:
    data = json.loads((sample_site / "catalog.json").read_text())
    schema = json.loads((sample_site / "catalog.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)
    assert [p["id"] for p in data["products"]] == list(catalog.products)
    for product in data["products"]:
        for path in hidden_fields():
            node = product
            for key in path[:-1]:
                node = node.get(key) or {}
            assert path[-1] not in node, path
    leak = dict(data["products"][0], documentation={"training": {"design": "x"}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"products": [leak]}, schema)


def test_version_pages_show_what_changed(sample_site: Path, html: Reader) -> None:
    page = html(sample_site / "products/lumen-large-3/v2/index.html")
    assert "Maximum input size (context window, tokens) 65,536 131,072" in page.text
    assert "Compared with version 1" in page.text


def test_search_index_holds_products_but_not_version_pages(
    sample_site: Path, html: Reader, catalog: Catalog
) -> None:
    docs = json.loads((sample_site / "search/search_index.json").read_text())["docs"]
    locations = {d["location"].split("#")[0] for d in docs}
    assert {f"products/{pid}/" for pid in catalog.products} <= locations
    assert not [loc for loc in locations if "/v" in loc]


def test_sitemap_lists_the_generated_pages(
    sample_site: Path, html: Reader, catalog: Catalog
) -> None:
    sitemap = (sample_site / "sitemap.xml").read_text()
    for pid in catalog.products:
        assert f"<loc>{SITE_URL}products/{pid}/</loc>" in sitemap


def test_no_third_party_font_or_script(sample_site: Path, html: Reader) -> None:
    for path in sample_site.rglob("*.html"):
        text = path.read_text()
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text
