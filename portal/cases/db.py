"""Database engines and sessions from a URL, and bringing a database to the latest migration.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, so a committed case
survives a crash or power loss; foreign keys are on; and every transaction starts with
`BEGIN IMMEDIATE`, taking the single write lock up front, so that concurrent writers wait
on the busy timeout (30 s) instead of failing on a lock upgrade. PostgreSQL is reached
through psycopg 3 (`postgresql+psycopg://...`; a plain `postgresql://` URL is read the same).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


POSTGRES_POOL_SIZE = 10


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the portal's durability settings for SQLite or PostgreSQL."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # One pooled connection per request thread (`portal serve` runs 8 per worker): beyond
    # the pool, each request would open and close a connection of its own.
    kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (the receipt is built from them)."""
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the latest) with the packaged migrations."""
    _migrate(engine, command.upgrade, revision)
    log.info("Database at migration %s", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to `revision` (the migrations' `downgrade` steps)."""
    _migrate(engine, command.downgrade, revision)
    log.info("Database back at migration %s", revision)


def _migrate(engine: Engine, step: Any, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        step(config, revision)
        connection.commit()


def init_db(engine: Engine) -> None:
    """Create every table by running the migrations (tests and first start use this)."""
    upgrade(engine)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


READ_ONLY = "portal_read_only"


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they neither take nor wait for the write lock
    (WAL readers see the last commit), so pages and API reads never queue behind writes."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def _sqlite_begin(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")
