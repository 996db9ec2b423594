"""Rendering, golden files: a small catalog in, the generated Markdown and feed out.

The scenario publishes Model A's version 1, edits it, then publishes version 2, so the version
page shows what changed. Set PORTAL_UPDATE_GOLDEN=1 to rewrite the expected files after a
deliberate change, and read the diff before committing it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from portal.catalog import load_catalog
from portal.catalog.published import load_archive
from portal.docs.render import Renderer, Site

HERE = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 26)
PAGES = (
    "products/index.md",
    "products/model-a/index.md",
    "products/model-a/v2/index.md",
    "products/model-a/training-content/index.md",
    "products/tool-b/index.md",
    "products/tool-b/v1/index.md",
    "classifications/ai-system/index.md",
    "changes/index.md",
    "copyright-policy/index.md",
    "changes/feed.xml",
    "catalog.json",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    catalog_dir = tmp_path_factory.mktemp("golden") / "catalog"
    shutil.copytree(HERE / "catalog", catalog_dir)
    shutil.copy(ROOT / "catalog" / "policies.yaml", catalog_dir / "policies.yaml")
    load_archive(load_catalog(catalog_dir))  # publishes version 1 of each product
    model = catalog_dir / "products" / "model-a.yaml"
    text = model.read_text().replace(
        "context_window_tokens: 65536", "context_window_tokens: 131072"
    )
    text = text.replace('versions: ["1.0"]', 'versions: ["1.0", "1.1"]')
    text += (
        "  - date: 2026-02-10\n    version: 2\n"
        "    summary: Version 1.1 added; the context window doubled.\n    substantial: true\n"
    )
    model.write_text(text)
    catalog = load_catalog(catalog_dir)
    archive = load_archive(catalog)
    renderer = Renderer(
        catalog,
        archive,
        templates_dir=ROOT / "templates",
        site_url="https://example.eu/",
        today=TODAY,
    )
    return renderer.site()


@pytest.mark.parametrize("uri", PAGES)
def test_golden(site: Site, uri: str) -> None:
    actual = {**site.pages, **site.files}[uri]
    expected = HERE / "expected" / uri.replace("/", "__")
    if os.environ.get("PORTAL_UPDATE_GOLDEN") == "1":
        expected.parent.mkdir(exist_ok=True)
        expected.write_text(actual)
    assert actual == expected.read_text()
    assert "SECRET" not in actual and "2e+25" not in actual


def test_tool_b_version_1_predates_the_archive(site: Site) -> None:
    """Tool B's version 1 was published before the archive: only its summary is known."""
    assert "published before this portal kept archives" in site.pages["products/tool-b/v1/index.md"]
