"""`portal build`, `portal render` and `portal export`, and the boundaries of `portal.docs`."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import cli
from portal.docs import plugin
from portal.docs.publish import plain_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_site: Path) -> Path:
    """A copy of the sample catalog and of the built sample site, with paths shown from here."""
    shutil.copytree(ROOT / "catalog", tmp_path / "catalog")
    shutil.copytree(sample_site, tmp_path / "site")
    monkeypatch.chdir(tmp_path)
    # `portal build` signs the manifest: with a key of the test's own, not the instance's.
    monkeypatch.setenv("PORTAL_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-key.pem"))
    return tmp_path


def _break(catalog: Path) -> None:
    path = catalog / "products/lumen-chat.yaml"
    path.write_text(path.read_text().replace("classification: ai-system", "classification: robot"))


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    stack = [cmp]
    while stack:
        c = stack.pop()
        if c.left_only or c.right_only or c.diff_files:
            return False
        stack.extend(c.subdirs.values())
    return True


def test_broken_catalog_fails_with_its_own_messages_and_keeps_the_site(
    workdir: Path, sample_site: Path
) -> None:
    _break(workdir / "catalog")
    check = CliRunner().invoke(cli, ["check", "catalog"])
    problems = [line for line in check.stderr.splitlines() if line.startswith("catalog/")]
    assert problems and problems[0].startswith(
        "catalog/products/lumen-chat.yaml:5:17: classification:"
    )
    result = CliRunner().invoke(
        cli, ["build", "-f", str(ROOT / "mkdocs.yml"), "--catalog", "catalog"]
    )
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("catalog/")] == problems
    assert _same_tree(workdir / "site", sample_site)
    assert not [p for p in workdir.iterdir() if p.name.startswith(".site-")]


def test_mkdocs_build_aborts_with_the_catalog_messages(workdir: Path) -> None:
    _break(workdir / "catalog")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(workdir / "out"),
        ],
        capture_output=True,
        text=True,
        env={**ENV, "PORTAL_CATALOG_DIR": str(workdir / "catalog")},
        check=False,
    )
    assert result.returncode != 0
    assert "catalog/products/lumen-chat.yaml:5:17: classification: must be one of" in result.stderr
    assert not (workdir / "out" / "index.html").exists()


def test_build_swaps_the_new_site_in(workdir: Path) -> None:
    (workdir / "site" / "stale.html").write_text("old")
    result = CliRunner().invoke(
        cli, ["build", "-f", str(ROOT / "mkdocs.yml"), "--site-dir", "site"]
    )
    assert result.exit_code == 0, result.output
    assert (workdir / "site/products/lumen-ultra/v1/index.html").is_file()
    assert not (workdir / "site" / "stale.html").exists()
    # keys/: the signing key the build created (the fixture points PORTAL_SIGNING_KEY_FILE there).
    assert sorted(p.name for p in workdir.iterdir()) == ["catalog", "keys", "site"]


def test_rendered_markdown_builds_the_same_site_without_the_plugin(
    workdir: Path, sample_site: Path
) -> None:
    """Engine independence: `portal render` gives a docs folder any engine can build."""
    result = CliRunner().invoke(
        cli,
        [
            "render",
            "--out",
            "docs",
            "--catalog",
            "catalog",
            "--templates",
            str(ROOT / "templates"),
            "--sources",
            str(ROOT / "site_src"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (workdir / "docs/products/lumen-large-3/v2/index.md").is_file()
    assert "<!-- portal:" not in (workdir / "docs/index.md").read_text()
    config = workdir / "plain.yml"
    config.write_text(plain_config(ROOT / "mkdocs.yml", workdir / "docs"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-f",
            str(config),
            "-d",
            "plain",
        ],
        check=True,
        env=ENV,
    )
    html = sorted(p.relative_to(sample_site) for p in sample_site.rglob("*.html"))
    assert (
        sorted(p.relative_to(workdir / "plain") for p in (workdir / "plain").rglob("*.html"))
        == html
    )
    page = "products/lumen-large-3/index.html"
    assert (workdir / "plain" / page).read_text() == (sample_site / page).read_text()


def test_export_contract(workdir: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["export", "nope", "--audience", "ai-office"])
    assert missing.exit_code == 1 and "no product with id 'nope'" in missing.stderr
    bad = runner.invoke(cli, ["export", "lumen-ultra", "--audience", "public"])
    assert bad.exit_code == 2
    out = runner.invoke(
        cli,
        [
            "export",
            "lumen-ultra",
            "--audience",
            "national-authority",
            "--format",
            "md",
            "-o",
            "form.md",
        ],
    )
    assert out.exit_code == 0, out.output
    text = (workdir / "form.md").read_text()
    assert "## 5. Training process" in text and "## 8. Energy consumption" in text
    downstream = runner.invoke(cli, ["export", "lumen-ultra", "--audience", "downstream"])
    assert "## 6. Data" in downstream.stdout and "Training process" not in downstream.stdout


def test_docs_modules_other_than_the_plugin_do_not_import_mkdocs() -> None:
    """The preview's engine (`engine.py`, and what imports it) is the other MkDocs module."""
    code = (
        "import sys, portal.docs.render, portal.docs.publish, portal.docs.legal, "
        "portal.docs.watch, "
        "portal.catalog.published, portal.catalog.export; "
        "top = {m.split('.')[0] for m in sys.modules}; "
        "print({'mkdocs', 'material', 'flask', 'sqlalchemy'} & top)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "set()"


def test_plugin_holds_hooks_only() -> None:
    """Hooks, plus the renderer it uses (`given` is the one the preview hands over)."""
    own = [
        n
        for n in vars(plugin.PortalPlugin)
        if not n.startswith("_") and n not in ("renderer", "given", "config_scheme")
    ]
    assert own and all(n.startswith("on_") for n in own)
