"""The packaged Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import portal.cases
from portal.cases.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    # Every module of portal.cases may declare tables: load them all.
    for module in pkgutil.iter_modules(portal.cases.__path__):
        importlib.import_module(f"portal.cases.{module.name}")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
