"""Every catalog case under tests/catalog_cases/ gives exactly the problems in its expected.txt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.catalog import CatalogError, load_catalog
from portal.cli import cli

CASES = Path(__file__).parent.parent / "catalog_cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _expected(case: Path, name: str = "expected.txt") -> list[str]:
    path = case / name
    return [line for line in path.read_text().splitlines() if line] if path.exists() else []


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_problems(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Problems come out in file, line, column order, with paths relative to the working folder."""
    case = CASES / name
    monkeypatch.chdir(case)
    expected = _expected(case)
    try:
        catalog = load_catalog(".")
    except CatalogError as err:
        assert [str(p) for p in err.problems] == expected
    else:
        assert expected == [], "the catalog loaded but problems were expected"
        assert len(catalog.products) >= 1


@pytest.mark.parametrize("name", CASE_NAMES)
def test_check_command(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`portal check` prints the same lines to stderr and exits 1, or prints OK and exits 0."""
    case = CASES / name
    monkeypatch.chdir(case)
    expected = _expected(case)
    result = CliRunner().invoke(cli, ["check", "."])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if expected:
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert lines[: len(expected)] == expected
        assert lines[-1].endswith("found.")
        assert result.stdout == ""
    else:
        # Warnings (warnings.txt) go to stderr; the catalog stays valid.
        assert result.exit_code == 0
        assert re.fullmatch(r"OK: [0-9]+ products\n", result.stdout)
        assert result.stderr.splitlines() == _expected(case, "warnings.txt")
