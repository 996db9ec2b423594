"""The signed publication manifest: `portal build` writes it, `portal verify-site` checks it,
from a folder and over HTTP, and names a hand-edited page."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support import serve_folder

from portal.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def signed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site built once by `portal build`, with a key of its own."""
    base = tmp_path_factory.mktemp("signed")
    shutil.copytree(ROOT / "catalog", base / "catalog")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(base)
        result = _portal(base, "build", "-f", str(ROOT / "mkdocs.yml"), "--catalog", "catalog")
    assert result.exit_code == 0, result.output
    return base


def _portal(base: Path, *args: str) -> Result:
    env = {"PORTAL_SIGNING_KEY_FILE": str(base / "keys" / "signing-key.pem")}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def site_copy(signed_site: Path, tmp_path: Path) -> Path:
    shutil.copytree(signed_site / "site", tmp_path / "site")
    return tmp_path / "site"


def test_the_manifest_lists_every_archived_version_with_its_hashes(signed_site: Path) -> None:
    site = signed_site / "site"
    manifest = json.loads((site / "published" / "manifest.json").read_text())
    archived = json.loads((signed_site / "catalog" / "published" / "manifest.json").read_text())
    listed = {f"{e['product']}/v{e['version']}.json": e for e in manifest["versions"]}
    assert set(listed) == set(archived)
    for name, entry in listed.items():
        assert entry["content_sha256"] == archived[name]
        page = site / entry["url"] / "index.html"
        assert entry["page_sha256"] == hashlib.sha256(page.read_bytes()).hexdigest()
        assert set(entry) == {
            "product",
            "version",
            "url",
            "published",
            "content_sha256",
            "page_sha256",
        }
    signature = json.loads((site / "published" / "manifest.json.sig").read_text())
    keys = json.loads((site / ".well-known" / "aiact-portal-keys.json").read_text())
    assert signature["kid"] == manifest["kid"] == keys["keys"][-1]["kid"]
    assert signature["alg"] == "Ed25519"


def test_verify_site_accepts_the_built_folder(site_copy: Path, signed_site: Path) -> None:
    result = _portal(signed_site, "verify-site", str(site_copy))
    assert result.exit_code == 0, result.output
    count = len(json.loads((site_copy / "published" / "manifest.json").read_text())["versions"])
    assert result.output.startswith(f"valid: {count} published versions (key ")


def test_a_hand_edited_page_fails_and_is_named(site_copy: Path, signed_site: Path) -> None:
    page = site_copy / "products" / "lumen-medium-1" / "v2" / "index.html"
    page.write_text(page.read_text().replace("</main>", "<p>edited</p></main>", 1))
    result = _portal(signed_site, "verify-site", str(site_copy))
    assert result.exit_code == 1
    assert (
        "lumen-medium-1 v2 (products/lumen-medium-1/v2/): its page differs from the one published"
        in result.output
    )


def test_an_edited_manifest_fails_its_signature(site_copy: Path, signed_site: Path) -> None:
    manifest = site_copy / "published" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"version": 1', '"version": 9', 1))
    result = _portal(signed_site, "verify-site", str(site_copy))
    assert result.exit_code == 1
    assert "invalid: the signature does not match" in result.output


def test_verify_site_over_http_with_pinned_keys(
    site_copy: Path, signed_site: Path, tmp_path: Path
) -> None:
    """Served by any static server; the keys pinned from an earlier copy."""
    pinned = tmp_path / "pinned.json"
    shutil.copyfile(site_copy / ".well-known" / "aiact-portal-keys.json", pinned)
    with serve_folder(site_copy) as base:
        good = _portal(signed_site, "verify-site", base + "/", "--keys", str(pinned))
        (site_copy / "products" / "lumen-medium-1" / "v1" / "index.html").unlink()
        bad = _portal(signed_site, "verify-site", base, "--keys", str(pinned))
    assert good.exit_code == 0, good.output
    assert bad.exit_code == 1
    assert "lumen-medium-1 v1 (products/lumen-medium-1/v1/): missing" in bad.output
