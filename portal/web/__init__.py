"""The Flask application: the JSON API, the HTML forms and the built documentation site.

`create_app(test_config=None)` follows flaskr: defaults, then the instance folder's
`config.py` (or the test dict), then `PORTAL_*` environment variables. The catalog is loaded
once at start; a broken catalog stops the app from starting rather than serving wrong data.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response

from portal.cases.db import (
    is_sqlite,
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    upgrade,
)
from portal.cases.sealed import use_data_key
from portal.catalog import load_catalog
from portal.mail import mailer_from_config
from portal.proof.keys import init_keys, key_file
from portal.proof.sealing import data_key_file, load_data_key
from portal.web import context, ratelimit
from portal.web.extensions import csrf, limiter
from portal.web.security import SECURITY_HEADERS

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MiB, for the API and the forms alike


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the portal app."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        DATABASE_URL=None,
        MIGRATE_SQLITE=True,
        CATALOG_DIR="catalog",
        SITE_DIR="site",
        SUBMISSION_RATE_LIMIT="30 per minute",
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        MAIL_BACKEND="console",
        SMTP_HOST="localhost",
        SMTP_PORT=25,
        MAIL_FROM="ai-act@localhost",
        LEGAL_TEAM_EMAIL="legal@localhost",
        # Default: instance/signing-key.pem, created on first start (see portal.proof.keys).
        SIGNING_KEY_FILE=None,
        # Default: instance/data-key, created on first start (see portal.proof.sealing).
        DATA_KEY_FILE=None,
        MAIL_SENDER_THREAD=True,
        MAX_CONTENT_LENGTH=MAX_BODY,
        # The API takes JSON from programs, not forms from browsers: no CSRF there (it refuses
        # any body that is not application/json, which a cross-site form cannot send).
        WTF_CSRF_CHECK_DEFAULT=True,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env("PORTAL")
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'portal.db'}"

    signing_key = key_file(Path(app.instance_path), app.config["SIGNING_KEY_FILE"])
    init_keys(signing_key, now=datetime.now(UTC))
    app.extensions[context.SIGNING_KEY] = signing_key
    use_data_key(load_data_key(data_key_file(Path(app.instance_path), app.config["DATA_KEY_FILE"])))

    catalog = load_catalog(app.config["CATALOG_DIR"])
    app.config.setdefault("TIMEZONE", catalog.policy.timezone)
    engine = make_engine(app.config["DATABASE_URL"])
    if app.config["MIGRATE_SQLITE"] and is_sqlite(app.config["DATABASE_URL"]):
        # An embedded database is ours alone: bring it to the latest migration, as
        # `portal serve` does (about 10 ms when it is already there). PostgreSQL is shared
        # and migrated on purpose, with `portal db upgrade`.
        upgrade(engine)
    sessions = make_sessionmaker(engine)
    app.extensions[context.CATALOG] = catalog
    app.extensions[context.ENGINE] = engine
    app.extensions[context.SESSIONS] = sessions
    app.extensions[context.READ_SESSIONS] = make_read_sessionmaker(engine)
    if app.config["MAIL_SENDER_THREAD"]:
        app.extensions[context.MAILER] = mailer_from_config(sessions, app.config)

    app.config["RATELIMIT_STORAGE_URI"] = ratelimit.storage_uri(app.config["RATELIMIT_STORAGE_URI"])
    app.after_request(ratelimit.retry_after_on_refusals_only)  # runs after the limiter's hook
    limiter.init_app(app)
    csrf.init_app(app)
    app.after_request(_security_headers)

    from portal.web import api, keys, public, site, staff

    app.register_blueprint(api.bp)
    app.register_blueprint(keys.bp)
    csrf.exempt(api.bp)
    api.register_errors(app)
    app.register_blueprint(public.bp)
    staff.init_app(app)  # the legal team's workspace and the staff API
    site.register(app)
    return app


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _instance_secret(instance: Path) -> str:
    """The instance's secret key, created on first start (never committed: instance/ is ignored)."""
    path = instance / "secret_key"
    if not path.exists():
        # Written whole, then linked into place: two workers starting at once agree on one key.
        temporary = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()
