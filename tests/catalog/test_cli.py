"""The `portal check` and `portal schema` contract: output, exit codes, paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import cli

ROOT = Path(__file__).parent.parent.parent


def test_sample_catalog_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    count = len(list((ROOT / "catalog" / "products").glob("*.yaml")))
    assert result.stdout == f"OK: {count} products\n"
    assert count >= 8


def test_missing_folder_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_bad_usage_exits_2() -> None:
    assert CliRunner().invoke(cli, ["check", "--no-such-option"]).exit_code == 2
    assert CliRunner().invoke(cli, ["check", "a", "b"]).exit_code == 2


def test_paths_are_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lawyer running the command from the project root sees catalog/products/x.yaml."""
    catalog = tmp_path / "catalog"
    shutil.copytree(ROOT / "catalog", catalog)
    broken = catalog / "products" / "lumen-small-3.yaml"
    text = broken.read_text().replace("classification: gpai-open-source", "classification: open")
    broken.write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "catalog"])
    assert result.exit_code == 1
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("classification:"))
    assert result.stderr.splitlines()[0] == (
        f"catalog/products/lumen-small-3.yaml:{line}:17: classification: must be one of "
        "gpai, gpai-open-source, gpai-systemic-risk, ai-system"
    )


def test_quiet_prints_nothing_when_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["check", "-q", "catalog"])
    assert (result.exit_code, result.output) == (0, "")


def test_schema_is_current() -> None:
    """The committed schema is what `portal schema` prints: run it again after changing models."""
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    committed = json.loads((ROOT / "catalog" / "schema" / "product.schema.json").read_text())
    assert json.loads(result.stdout) == committed, (
        "catalog/schema/product.schema.json is stale: run `portal schema > "
        "catalog/schema/product.schema.json`"
    )


def test_product_files_point_editors_at_the_schema() -> None:
    for path in (ROOT / "catalog" / "products").glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schema/product.schema.json", path


def test_every_command_is_listed_where_it_lives() -> None:
    """The lazy command table names exactly the commands each module defines."""
    import importlib

    from portal.cli import COMMAND_MODULES

    defined = {
        command.name: module
        for module in set(COMMAND_MODULES.values())
        for command in importlib.import_module(f"portal.commands.{module}").COMMANDS
    }
    assert defined == COMMAND_MODULES


def test_check_imports_no_web_stack() -> None:
    """`portal check` starts fast: it loads neither Flask, SQLAlchemy nor MkDocs."""
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from portal.cli import cli;"
        "r = CliRunner().invoke(cli, ['check', '-q', 'catalog']);"
        "assert r.exit_code == 0, r.output;"
        "print(sorted({'flask', 'sqlalchemy', 'mkdocs'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_check_refuses_an_edit_of_published_text_as_the_build_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "catalog", tmp_path / "catalog")
    chat = tmp_path / "catalog" / "products" / "lumen-chat.yaml"
    text = chat.read_text()
    old = "A chat assistant for writing, research and analysis."
    assert old in text
    chat.write_text(text.replace(old, "A chat assistant for drafting contracts."))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "catalog"])
    assert result.exit_code == 1
    assert "catalog/products/lumen-chat.yaml:28:20: documentation.use.intended_uses: differs" in (
        result.output
    )
    assert "add a change with version 3" in result.output
    assert sorted(p.name for p in (tmp_path / "catalog/published/lumen-chat").iterdir()) == [
        "v1.json",
        "v2.json",
    ]  # nothing sealed
