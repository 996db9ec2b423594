"""`portal db upgrade` migrates the database it is given (SQLite file or PostgreSQL)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from portal.cases.db import make_engine
from portal.cli import cli

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def _instance_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands find their keys as the app does: here, in the test's folder."""
    monkeypatch.setenv("PORTAL_DATA_KEY_FILE", str(tmp_path / "keys" / "data-key"))
    monkeypatch.setenv("PORTAL_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-key.pem"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database(f"empty_{next(_names)}")
    return url


def test_db_upgrade_creates_the_tables(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", empty_url)
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(empty_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"cases", "deadlines", "messages", "audit_events", "outbox"} <= tables
    again = CliRunner().invoke(cli, ["db", "upgrade"])
    assert again.exit_code == 0, again.output


def test_serve_documents_its_options() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output
    assert "--port" in result.output
