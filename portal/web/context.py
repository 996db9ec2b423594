"""What a view needs from the app: the catalog, a database session, the clock, the mail sender.

Views call `get_catalog()`, `new_session()` (use it as `with new_session() as session:`; the
services commit), `read_session()` for pages that only read, and `utcnow()`; after a commit
that queued mail, `wake_mailer()`.
`submit(pending)` writes and commits a prepared submission (`services.prepare_incident`,
`services.prepare_information_request`) through the process's group committer when there is
one (`GROUP_COMMIT`), or the server's writer process (`WRITER_SOCKET`), so that concurrent
submissions share one durable commit; `with preparing():` around a submission's whole handling
lets the writer process know it is coming.
`create_app` puts the objects behind them in `app.extensions`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal.cases import services
from portal.cases.services import Pending, Receipt
from portal.cases.writer import write_batch
from portal.cases.writer_service import Committer, WriterClient
from portal.catalog import Catalog

CATALOG = "portal.catalog"
SESSIONS = "portal.sessions"
READ_SESSIONS = "portal.read_sessions"
ENGINE = "portal.engine"
MAILER = "portal.mailer"
COMMITTER = "portal.committer"


def get_catalog() -> Catalog:
    """The catalog loaded at start-up."""
    catalog: Catalog = current_app.extensions[CATALOG]
    return catalog


def read_session() -> Session:
    """A new session for reading only (on SQLite it never waits for writers)."""
    factory: sessionmaker[Session] = current_app.extensions[READ_SESSIONS]
    return factory()


def new_session() -> Session:
    """A new database session; close it (a `with` block does) when the request is done."""
    factory: sessionmaker[Session] = current_app.extensions[SESSIONS]
    return factory()


def utcnow() -> datetime:
    """The current instant in UTC (tests may set `CLOCK` to a function returning one)."""
    clock: Callable[[], datetime] | None = current_app.config.get("CLOCK")
    return clock() if clock is not None else datetime.now(UTC)


def wake_mailer() -> None:
    """Ask this process's mail sender to look at the outbox soon (no-op when there is none)."""
    mailer: Any = current_app.extensions.get(MAILER)
    if mailer is not None:
        mailer.wake()


def preparing() -> AbstractContextManager[None]:
    """Around a submission's validation, preparation and `submit`: tells the server's writer
    process that a submission is on its way, so that it may wait a moment to write it in the
    same batch as others (`portal.cases.arrivals`)."""
    committer = current_app.extensions.get(COMMITTER)
    if isinstance(committer, WriterClient):
        return committer.preparing()
    return contextlib.nullcontext()


def submit(pending: Pending) -> Receipt:
    """Write and commit a prepared submission; return its receipt once it is durable."""
    engine: Engine = current_app.extensions[ENGINE]
    item = services.encode(pending, sqlite=engine.dialect.name == "sqlite")
    committer: Committer | None = current_app.extensions.get(COMMITTER)
    if committer is not None:
        committer.run(item)
    else:
        with engine.begin() as connection:
            write_batch(connection, [item])
    receipt = services.receipt_of(pending)
    services.log_received(receipt)
    return receipt
