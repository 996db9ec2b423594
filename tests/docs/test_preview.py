"""`portal preview` on a copy of the sample site: edits, problems, drafts, templates, reloads."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal.docs.server import BANNER_ID

ROOT = Path(__file__).resolve().parents[2]
PORTAL = Path(sys.executable).with_name("portal")
WAIT = 30.0  # seconds; a change shows in well under one on the sample catalog


@dataclass
class Preview:
    root: Path
    url: str

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return answer.read().decode("utf-8")

    def headers(self, path: str) -> dict[str, str]:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return dict(answer.headers)

    def edit(self, rel: str, old: str, new: str) -> None:
        """Save a file atomically, as editors do: a temporary file renamed over it."""
        path = self.root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text.replace(old, new, 1), encoding="utf-8")
        os.replace(tmp, path)

    def until(self, path: str, test: Callable[[str], bool]) -> str:
        """The page at `path` once `test` holds for it."""
        deadline = time.monotonic() + WAIT
        while True:
            page = self.get(path)
            if test(page):
                return page
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} did not change in {WAIT} s:\n{page[:3000]}")
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def preview(tmp_path: Path) -> Iterator[Preview]:
    for name in ("catalog", "templates", "site_src", "overrides"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PORTAL_CATALOG_DIR"}
    process = subprocess.Popen(
        [str(PORTAL), "preview", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "NO_MKDOCS_2_WARNING": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    made = Preview(tmp_path, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                if '"built": true' in made.get("/__preview__/status"):
                    break
            except urllib.error.URLError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the preview did not start:\n{process.stderr.read()}")
            time.sleep(0.1)
        yield made
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()
    # A stopped preview leaves nothing behind in the catalog: it never seals a version.
    assert not list((tmp_path / "catalog/published/lumen-chat").glob("v3.json"))


CHAT = "catalog/products/lumen-chat.yaml"
USES = "intended_uses: A chat assistant for writing, research and analysis."
NEXT_VERSION = (
    "  - date: 2026-12-04\n    version: 3\n    summary: Uses reworded.\n    substantial: false\n"
)


def test_editing_a_product_changes_its_page_and_catalog_json(preview: Preview) -> None:
    before = preview.get("/products/")
    text = (preview.root / CHAT).read_text()
    new = text.replace(USES, "intended_uses: A chat assistant for drafting contracts.")
    assert new.endswith("substantial: true\n")
    new += NEXT_VERSION
    tmp = preview.root / "catalog/products/.lumen-chat.yaml.tmp"
    tmp.write_text(new)
    os.replace(tmp, preview.root / CHAT)
    page = preview.until("/products/lumen-chat/", lambda p: "drafting contracts" in p)
    assert BANNER_ID not in page, page[page.find(BANNER_ID) : page.find(BANNER_ID) + 800]
    # The lists and catalog.json follow the product's own pages, a moment later.
    preview.until("/catalog.json", lambda p: "drafting contracts" in p)
    preview.until("/changes/", lambda p: "Uses reworded." in p)
    preview.until("/products/", lambda p: p != before)  # the list shows version 3


def test_a_broken_file_shows_its_banner_until_fixed(preview: Preview) -> None:
    good = preview.get("/products/lumen-chat/")
    preview.edit(CHAT, "classification: ai-system", "classification: ai-ish")
    page = preview.until("/products/lumen-chat/", lambda p: BANNER_ID in p)
    assert re.search(
        r"catalog/products/lumen-chat\.yaml:\d+:\d+: classification: must be one of", page
    )
    # The last good page stays served, and every page carries the banner.
    assert page.split("<body", 1)[1].count("lumen-chat") >= good.split("<body", 1)[1].count(
        "lumen-chat"
    )
    assert BANNER_ID in preview.get("/")
    preview.edit(CHAT, "classification: ai-ish", "classification: ai-system")
    preview.until("/products/lumen-chat/", lambda p: BANNER_ID not in p)
    assert BANNER_ID not in preview.get("/")


def test_a_draft_shows_with_what_the_build_will_require(preview: Preview) -> None:
    preview.edit(CHAT, USES, "intended_uses: A chat assistant for drafting contracts.")
    page = preview.until("/products/lumen-chat/", lambda p: "drafting contracts" in p)
    assert BANNER_ID in page
    assert "add a change with version 3" in page
    assert "lumen-chat.yaml:" in page


def test_editing_a_template_renders_every_product_page_again(preview: Preview) -> None:
    path = preview.root / "templates/product.md.j2"
    path.write_text(path.read_text() + "\nTemplate edited.\n")
    products = sorted(p.stem for p in (preview.root / "catalog/products").glob("*.yaml"))
    for pid in products:
        preview.until(f"/products/{pid}/", lambda p: "Template edited." in p)


def test_pages_reload_through_a_script_the_csp_allows(preview: Preview) -> None:
    """The script is a file of the preview's own origin, named in every page, never inline."""
    headers = preview.headers("/")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    page = preview.get("/")
    assert '<script src="/__preview__/preview.js" defer></script>' in page
    assert "location.reload()" in preview.get("/__preview__/preview.js")


def test_the_built_site_has_no_preview_script(sample_site: Path) -> None:
    for page in sample_site.rglob("*.html"):
        assert "__preview__" not in page.read_text(encoding="utf-8")
