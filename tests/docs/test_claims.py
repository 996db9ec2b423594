"""No page claims a document that does not exist (Art. 53(1)(c) and (d)).

Every page of the built sample site that speaks of the copyright policy or of a summary of
training content must link to it, and every such link must open a page that was built (or be
an https address). The page that is the document itself needs no link to itself.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from portal.catalog import load_catalog
from portal.docs.claims import COPYRIGHT_POLICY, TRAINING_CONTENT, link_names

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://portal.test/"
CLAIMS = {
    "copyright-policy": re.compile(r"copyright policy|policy to comply with EU copyright", re.I),
    "training-content": re.compile(
        r"summar(y|ies) of (the )?(training content|content used (for|to train))", re.I
    ),
}
# Where each document lives on the site.
TARGETS = {
    "copyright-policy": re.compile(r"copyright-policy/"),
    "training-content": re.compile(r"products/[a-z0-9-]+/training-content/"),
}


class _Article(HTMLParser):
    """The text and links of a page's content (`<article>`), not of its navigation."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self.depth += 1
        elif tag == "a" and self.depth:
            href = dict(attrs).get("href")
            if href and not href.startswith("#"):
                self.hrefs.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def _article(path: Path) -> tuple[str, list[str]]:
    parser = _Article()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(parser.text).split()), parser.hrefs


def _pages(site: Path) -> dict[str, Path]:
    """Built pages by their URL path (`products/x/`), as a browser asks for them."""
    return {
        p.parent.relative_to(site).as_posix().strip(".") + "/" if p.parent != site else "": p
        for p in site.rglob("index.html")
    }


def _resolve(page_url: str, href: str) -> str:
    """A link as the path it opens on this site, or the absolute address of an outside page."""
    url = urljoin(BASE + page_url, href)
    if not url.startswith(BASE):
        return url
    return urlsplit(url).path.removeprefix("/")


def _claims(site: Path) -> list[tuple[str, str, list[str]]]:
    """(page, document kind, what its links open) for every claim of a document on a page."""
    found = []
    for url, path in sorted(_pages(site).items()):
        text, hrefs = _article(path)
        for kind, claim in CLAIMS.items():
            if claim.search(text) and not TARGETS[kind].fullmatch(url):
                found.append((url, kind, [_resolve(url, h) for h in hrefs]))
    return found


def test_every_claim_links_to_its_document(sample_site: Path) -> None:
    pages = _pages(sample_site)
    claims = _claims(sample_site)
    unlinked = [
        (url, kind)
        for url, kind, targets in claims
        if not any(TARGETS[kind].fullmatch(t) and t in pages for t in targets)
    ]
    assert unlinked == []
    # Not vacuous: every model's page claims both documents, and so does the policy page.
    catalog = load_catalog(ROOT / "catalog")
    models = {f"products/{p.id}/" for p in catalog.products.values() if p.is_model}
    for kind in CLAIMS:
        assert models <= {url for url, k, _ in claims if k == kind}, kind
    assert ("copyright-policy/", "training-content") in {(u, k) for u, k, _ in claims}


def test_every_link_to_a_document_opens_a_built_page(sample_site: Path) -> None:
    pages = _pages(sample_site)
    broken = []
    checked = 0
    for url, path in pages.items():
        for href in _article(path)[1]:
            target = _resolve(url, href)
            if any(pattern.fullmatch(target) for pattern in TARGETS.values()):
                checked += 1
                if target not in pages:
                    broken.append((url, target))
            elif "://" in target:
                assert target.startswith("https://"), (url, target)
    assert broken == [] and checked > 10


@pytest.mark.parametrize("product_id", ["lumen-large-3", "lumen-small-3-fr"])
def test_training_content_page_follows_the_commission_template(
    sample_site: Path, product_id: str
) -> None:
    text, _ = _article(sample_site / "products" / product_id / "training-content" / "index.html")
    sections = [
        "1. General information",
        "2. List of data sources",
        "2.1 Publicly available datasets",
        "2.3 Data crawled and scraped from online sources",
        "2.4 User data",
        "2.5 Synthetic data",
        "3. Data processing aspects",
        "3.1 Respect of reservations of rights",
        "3.2 Removal of illegal content",
    ]
    positions = [text.find(s) for s in sections]
    assert -1 not in positions and positions == sorted(positions)


def test_the_crawlers_and_their_period_are_on_the_page(sample_site: Path) -> None:
    text, _ = _article(sample_site / "products/lumen-large-3/training-content/index.html")
    assert "LumenBot" in text and "from 2023-01-09 to 2025-03-31" in text


def test_ai_system_pages_claim_no_model_document(sample_site: Path) -> None:
    """Art. 53 is for models: an AI system's page has no copyright or training-content section."""
    text, _ = _article(sample_site / "products/lumen-chat/index.html")
    assert "Art. 13(3)" in text and "Annex XII" not in text
    assert not any(claim.search(text) for claim in CLAIMS.values())


def test_a_document_name_is_linked_only_when_the_document_exists() -> None:
    text = "Copyright policy and the public summary of training content added."
    targets = {COPYRIGHT_POLICY: "copyright-policy/index.md", TRAINING_CONTENT: None}
    assert link_names(text, targets, lambda uri: "../" + uri) == (
        "[Copyright policy](../copyright-policy/index.md) and the public summary of training "
        "content added."
    )
