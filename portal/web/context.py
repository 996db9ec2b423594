"""What a view needs from the app: the catalog, a database session, the clock, the mail sender.

Views call `get_catalog()`, `new_session()` (use it as `with new_session() as session:`; the
services commit), `read_session()` for pages that only read, and `utcnow()`; after a commit
that queued mail, `wake_mailer()`; `get_signer()` signs receipts.
`create_app` puts the objects behind them in `app.extensions`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app, request
from sqlalchemy.orm import Session, sessionmaker

from portal.catalog import Catalog
from portal.proof.keys import Signer, load_signer

CATALOG = "portal.catalog"
SESSIONS = "portal.sessions"
READ_SESSIONS = "portal.read_sessions"
ENGINE = "portal.engine"
MAILER = "portal.mailer"
SIGNING_KEY = "portal.signing_key"


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


def site_url() -> str:
    """The portal's public address for links in mails: `SITE_URL` (`PORTAL_SITE_URL`), else
    the address this request came to."""
    configured = current_app.config.get("SITE_URL")
    return str(configured or request.url_root).rstrip("/")


def utcnow() -> datetime:
    """The current instant in UTC (tests may set `CLOCK` to a function returning one)."""
    clock: Callable[[], datetime] | None = current_app.config.get("CLOCK")
    return clock() if clock is not None else datetime.now(UTC)


def get_signer() -> Signer:
    """The instance's current signing key, read afresh so `portal keys rotate` needs no restart."""
    return load_signer(signing_key_file())


def signing_key_file() -> Path:
    """The private key's file (its public keys list lies beside it)."""
    path: Path = current_app.extensions[SIGNING_KEY]
    return path


def wake_mailer() -> None:
    """Ask this process's mail sender to look at the outbox soon (no-op when there is none)."""
    mailer: Any = current_app.extensions.get(MAILER)
    if mailer is not None:
        mailer.wake()
