"""`portal serve` and `portal db upgrade`: run the portal, and migrate its database."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import click

from portal.cases.db import is_sqlite, make_engine, upgrade


def _database_url() -> str:
    """The URL the app will use: `PORTAL_DATABASE_URL`, else the instance folder's SQLite file."""
    from portal.web import create_app

    url = os.environ.get("PORTAL_DATABASE_URL")
    if url:
        return url
    app = create_app()
    return str(app.config["DATABASE_URL"])


@click.group()
def db() -> None:
    """Manage the cases database."""


@db.command("upgrade")
@click.option("--url", help="Database URL (default: PORTAL_DATABASE_URL, else the SQLite file).")
def db_upgrade(url: str | None) -> None:
    """Bring the database to the latest migration (run it before starting on PostgreSQL)."""
    target = url or _database_url()
    engine = make_engine(target)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    click.echo("Database is at the latest migration.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=int, help="Worker processes.")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the built site, the forms and the API through gunicorn.

    An embedded SQLite database is brought to the latest migration first; PostgreSQL is
    migrated explicitly with `portal db upgrade`.
    """
    from portal.web import create_app

    # The portal's own log lines (ids and state changes, never form contents) on stderr,
    # beside gunicorn's.
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    )
    logging.getLogger("portal").addHandler(handler)
    logging.getLogger("portal").setLevel(logging.INFO)
    app = create_app()
    url = str(app.config["DATABASE_URL"])
    if is_sqlite(url):
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    app.extensions["portal.engine"].dispose()
    click.echo(f"Serving the portal on http://{host}:{port}/ ({workers}x{threads} threads)")
    Gunicorn(host, port, workers, threads).run()


class Gunicorn:
    """gunicorn run in-process: workers fork from here and build their own app.

    Threaded workers (gthread), so that submissions arriving together in one process can
    share one durable commit (`portal.cases.committer`); a sync worker serves one request at
    a time and would pay for one commit each. `app_factory` (default `create_app`) lets the
    benchmarks serve another app under exactly these settings.
    """

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        threads: int,
        app_factory: Callable[[], Any] | None = None,
    ) -> None:
        from gunicorn.app.base import BaseApplication

        outer = self

        class Application(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                settings: dict[str, Any] = {
                    "bind": f"{outer.host}:{outer.port}",
                    "workers": outer.workers,
                    "worker_class": "gthread",
                    "threads": outer.threads,
                    "timeout": 30,
                    "graceful_timeout": 10,
                    # The access log has paths only: never a form's contents.
                    "accesslog": None,
                    "errorlog": "-",
                    "loglevel": "info",
                }
                # gunicorn 24+ opens a control socket in $HOME; the portal has no use for it,
                # and two portals on one machine would fight over it.
                if "control_socket_disable" in self.cfg.settings:
                    settings["control_socket_disable"] = True
                for key, value in settings.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                if outer.app_factory is not None:
                    return outer.app_factory()
                from portal.web import create_app

                return create_app()

        self.host = host
        self.port = port
        self.workers = workers
        self.threads = threads
        self.app_factory = app_factory
        self.application = Application()

    def run(self) -> None:
        self.application.run()


COMMANDS = (serve, db)
