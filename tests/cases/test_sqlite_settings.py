"""SQLite as the portal sets it up: WAL, synchronous=FULL, foreign keys, one writer at a time."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portal.cases import db


def test_durability_settings(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_writers_queue_and_the_next_one_enters_promptly(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    entered: list[float] = []
    first = engine.connect()
    first.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: this connection is the writer now

    def second_writer() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            entered.append(time.monotonic())

    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.3)
    assert entered == []  # still waiting for the first writer
    released = time.monotonic()
    first.commit()
    thread.join(5)
    assert entered and entered[0] - released < 0.1
    first.close()
    engine.dispose()


def test_a_thread_waiting_on_itself_fails_instead_of_hanging(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = db.make_engine(sqlite_url)
    with engine.connect() as first, engine.connect() as second:
        first.execute(text("SELECT 1"))
        with pytest.raises((OperationalError, sqlite3.OperationalError), match="locked"):
            second.execute(text("SELECT 1"))
    engine.dispose()


def test_readers_do_not_wait_for_the_writer(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    reads = db.make_read_sessionmaker(engine)
    with engine.connect() as writer:
        writer.execute(text("SELECT 1"))  # holds the write lock until the block ends
        started = time.monotonic()
        with reads() as session:
            assert session.execute(text("SELECT count(*) FROM cases")).scalar() == 0
        assert time.monotonic() - started < 0.5
    engine.dispose()
