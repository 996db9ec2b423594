"""Database engines and sessions from a URL, and bringing a database to the latest migration.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, so a committed case
survives a crash or power loss; foreign keys are on; and every transaction starts with
`BEGIN IMMEDIATE`, taking the single write lock up front, so that concurrent submissions
queue on the busy timeout instead of failing on a lock upgrade. PostgreSQL is reached
through psycopg 3 (`postgresql+psycopg://...`; a plain `postgresql://` URL is read the same).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


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
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if parsed.database and parsed.database != ":memory:":
            connect_args["factory"] = _WriterLockConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (the receipt is built from them)."""
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the latest) with the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
    log.info("Database at migration %s", revision)


def init_db(engine: Engine) -> None:
    """Create every table by running the migrations (tests and first start use this)."""
    upgrade(engine)


class _WriterLockConnection(sqlite3.Connection):
    """A SQLite connection that queues writers on a lock file instead of polling.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (up
    to 100 ms each) while the lock is busy: under concurrent submissions from several
    processes, a writer can sleep through many free moments, while the process that just
    committed takes the lock again at once. Writers here wait on a lock file instead, in
    the kernel (`flock`, without the GIL), which wakes them as soon as it is free. The lock
    is taken when a transaction begins and given back right after its commit or rollback.

    A thread that already holds the lock through another connection would wait on itself
    forever: it fails at once instead, as SQLite would after its busy timeout.
    """

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._lock_path = f"{os.fspath(database)}-writer.lock"
        self._writer_lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        self._writer_locked = False
        self._holder: set[str] = set()

    def lock_writer(self) -> None:
        """Take the writer lock, waiting as long as another writer holds it."""
        if self._writer_locked:
            return
        holding = _writer_locks_of_this_thread()
        if self._lock_path in holding:
            raise sqlite3.OperationalError(
                "database is locked: this thread is already writing through another connection"
            )
        try:  # free most of the time: no need to let go of the GIL to find out
            fcntl.flock(self._writer_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._writer_lock, fcntl.LOCK_EX)
        self._writer_locked = True
        holding.add(self._lock_path)
        self._holder = holding  # the set to leave, whichever thread commits

    def _unlock_writer(self) -> None:
        if self._writer_locked:
            fcntl.flock(self._writer_lock, fcntl.LOCK_UN)
            self._writer_locked = False
            self._holder.discard(self._lock_path)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._unlock_writer()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._unlock_writer()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._unlock_writer()
            if self._writer_lock >= 0:
                os.close(self._writer_lock)
                self._writer_lock = -1


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


# The writer lock files each thread holds (`_WriterLockConnection`).
_this_thread = threading.local()


def _writer_locks_of_this_thread() -> set[str]:
    held: set[str] | None = getattr(_this_thread, "writer_locks", None)
    if held is None:
        held = _this_thread.writer_locks = set()
    return held


READ_ONLY = "portal_read_only"


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they neither take nor wait for the write lock
    (WAL readers see the last commit), so pages and API reads never queue behind writes."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def _sqlite_begin(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
        return
    dbapi_connection = connection.connection.dbapi_connection
    if isinstance(dbapi_connection, _WriterLockConnection):
        dbapi_connection.lock_writer()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except Exception:
        if isinstance(dbapi_connection, _WriterLockConnection):
            dbapi_connection.rollback()
        raise
