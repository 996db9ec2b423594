"""Alembic environment: runs on the connection `portal.cases.db.upgrade` hands over.

Shipped inside the package, so `portal db upgrade` works from an installed wheel. A URL given
on the Alembic command line (`sqlalchemy.url`) works too, for people who run `alembic` by hand.
"""

from __future__ import annotations

from alembic import context

from portal.cases.db import make_engine
from portal.cases.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported: give a database URL.")
run_migrations()
