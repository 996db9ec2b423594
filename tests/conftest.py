"""Fixtures shared by the whole suite, flaskr-style: `app`, `client`, `runner`, and databases.

`app` runs on a fresh SQLite file. Tests that must hold on both databases take
`database_url` (or `any_app`), parametrized over SQLite and a throwaway PostgreSQL server
started once per session; each test gets its own database, copied from one migrated
template, so no test sees another's rows. Without PostgreSQL those cases are skipped with
a plain message, except under CI=true, where they fail.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine
from support import Inbox, make_test_app, smtp_server

from portal.cases.db import init_db, make_engine
from portal.cases.sealed import use_data_key
from portal.catalog import Catalog, load_catalog
from portal.proof.sealing import DataKey
from portal.testing import (
    PostgresServer,
    RedisServer,
    postgres_bin,
    redis_bin,
    start_postgres,
    start_redis,
)
from portal.web import context

ROOT = Path(__file__).resolve().parents[1]
CATALOG_DIR = ROOT / "catalog"
_names = itertools.count(1)


def require(available: bool, message: str) -> None:
    """Skip when something the test needs is missing, but fail under CI=true."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: this must not be skipped)")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _data_key() -> None:
    """A data key for tests that use the services without an app (each app loads its own)."""
    use_data_key(DataKey(secrets.token_bytes(32)))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require(postgres_bin() is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    require(redis_bin() is not None, "Redis is not installed (apt-get install redis-server)")
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database("portal_template")
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    return "portal_template"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, _postgres_template: str) -> str:
    return postgres_server.create_database(f"portal_{next(_names)}", template=_postgres_template)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "portal.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    path = tmp_path / "portal.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_test_app(sqlite_url, tmp_path)
    yield app
    app.extensions[context.ENGINE].dispose()


@pytest.fixture
def any_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """`app` on SQLite, then on PostgreSQL."""
    app = make_test_app(database_url, tmp_path)
    yield app
    app.extensions[context.ENGINE].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: its inbox and port."""
    with smtp_server() as server:
        yield server
