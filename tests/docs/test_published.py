"""The archive of published versions: new versions are sealed, published ones never change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from portal.catalog import CatalogError, load_catalog
from portal.catalog.published import MANIFEST, find_drafts, load_archive, read_archive

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def catalog_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "catalog", tmp_path / "catalog")
    monkeypatch.chdir(tmp_path)  # problems show paths relative to here: catalog/...
    return tmp_path / "catalog"


def _messages(catalog_dir: Path) -> list[str]:
    with pytest.raises(CatalogError) as err:
        load_archive(load_catalog(catalog_dir))
    return [str(p) for p in err.value.problems]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_sample_archive_is_complete_and_sealed(catalog_dir: Path) -> None:
    """The current version of every sample product is archived; checking writes nothing."""
    before = sorted(p.as_posix() for p in catalog_dir.rglob("*.json"))
    archive = load_archive(load_catalog(catalog_dir))
    for product in load_catalog(catalog_dir).products.values():
        assert product.changes[-1].version in archive.snapshots[product.id]
    assert archive.get("lumen-large-3", 1) is not None
    assert sorted(p.as_posix() for p in catalog_dir.rglob("*.json")) == before


def test_editing_a_published_version_fails_at_the_field(catalog_dir: Path) -> None:
    product = catalog_dir / "products/lumen-large-3.yaml"
    _edit(product, "intended_uses: General text", "intended_uses: Any text")
    line = next(
        i for i, t in enumerate(product.read_text().splitlines(), 1) if "intended_uses" in t
    )
    assert _messages(catalog_dir) == [
        f"catalog/products/lumen-large-3.yaml:{line}:20: documentation.use.intended_uses: differs "
        "from published version 4 (1 field changed); a published version never changes: add a "
        "change with version 5 that says what changed"
    ]


def test_the_preview_reads_an_unpublished_edit_as_a_draft(catalog_dir: Path) -> None:
    """`find_drafts` returns the same message as a draft, and nothing is sealed."""
    before = sorted(p.as_posix() for p in catalog_dir.rglob("*.json"))
    product = catalog_dir / "products/lumen-large-3.yaml"
    _edit(product, "intended_uses: General text", "intended_uses: Any text")
    catalog = load_catalog(catalog_dir)
    archive = read_archive(catalog)
    drafts = find_drafts(catalog, archive)
    assert [str(d) for d in drafts.values()] == _messages(catalog_dir)
    assert "add a change with version 5" in str(drafts["lumen-large-3"])
    assert find_drafts(catalog, archive, ["lumen-ultra"]) == {}
    assert archive.get("lumen-large-3", 4) is not None
    assert sorted(p.as_posix() for p in catalog_dir.rglob("*.json")) == before


def test_a_new_version_is_sealed_on_first_build(catalog_dir: Path) -> None:
    product = catalog_dir / "products/lumen-large-3.yaml"
    _edit(product, "intended_uses: General text", "intended_uses: Any text")
    with product.open("a") as out:
        out.write(
            "  - date: 2026-12-10\n    version: 5\n"
            "    summary: Uses widened.\n    substantial: true\n"
        )
    archive = load_archive(load_catalog(catalog_dir))
    snap = archive.get("lumen-large-3", 5)
    assert snap is not None and snap.content["documentation"]["use"]["intended_uses"].startswith(
        "Any text"
    )
    manifest = json.loads((catalog_dir / "published" / MANIFEST).read_text())
    assert "lumen-large-3/v5.json" in manifest
    load_archive(load_catalog(catalog_dir))  # sealed: the next build accepts it


def test_an_altered_snapshot_fails(catalog_dir: Path) -> None:
    snap = catalog_dir / "published/lumen-large-3/v1.json"
    _edit(snap, "65536", "131072")
    [message] = _messages(catalog_dir)
    assert message.startswith(
        "catalog/published/lumen-large-3/v1.json:1:1: "
        "this published version was altered after publication"
    )


def test_a_removed_version_or_snapshot_fails(catalog_dir: Path) -> None:
    (catalog_dir / "published/lumen-ultra/v1.json").unlink()
    product = catalog_dir / "products/lumen-small-3.yaml"
    text = product.read_text()
    product.write_text(text[: text.index("  - date: 2025-03-17")])
    _edit(product, '["25.01", "25.03"]', '["25.01"]')  # back to version 1's content
    messages = _messages(catalog_dir)
    assert any("lumen-ultra/v1.json: this published version is missing" in m for m in messages)
    assert any(
        m.startswith("catalog/products/lumen-small-3.yaml:")
        and "changes: version 2 was published on 2025-03-17; it cannot be removed" in m
        for m in messages
    )


def test_a_snapshot_not_in_the_manifest_fails(catalog_dir: Path) -> None:
    shutil.copy(
        catalog_dir / "published/lumen-ultra/v1.json", catalog_dir / "published/lumen-ultra/v3.json"
    )
    [message] = _messages(catalog_dir)
    assert message.startswith(
        "catalog/published/lumen-ultra/v3.json:1:1: not recorded in manifest.json"
    )


def test_status_change_needs_a_new_version(catalog_dir: Path) -> None:
    """A deprecation is announced as a new version, so customers hear of it."""
    _edit(
        catalog_dir / "products/lumen-ultra.yaml",
        "status: available",
        "status: deprecated\nnotice_date: 2026-06-01\neffective_date: 2026-12-31",
    )
    [message] = _messages(catalog_dir)
    assert "status: differs from published version 2" in message
