"""`portal serve` and `portal db upgrade`: run the portal, and migrate its database."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import click

from portal.cases.db import make_engine, upgrade
from portal.commands.proof import load_instance_data_key

log = logging.getLogger(__name__)


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
    load_instance_data_key()  # the migrations seal what was stored in clear
    engine = make_engine(target)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    click.echo("Database is at the latest migration.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the built site, the forms and the API through gunicorn, and send their mail.

    An embedded SQLite database is brought to the latest migration first; PostgreSQL is
    migrated explicitly with `portal db upgrade`. Beside the workers runs one mail sender
    (`portal send-mail --watch`), restarted if it stops. Several workers need a shared
    rate-limit store (`PORTAL_RATELIMIT_STORAGE_URI=redis://...`).
    """
    from portal.web import create_app, ratelimit

    _log_to_stderr()
    app = create_app()  # also migrates an embedded SQLite database
    app.extensions["portal.engine"].dispose()
    if workers > 1 and ratelimit.counts_in_each_process(app.config["RATELIMIT_STORAGE_URI"]):
        click.echo(
            f"Cannot serve with {workers} workers: rate limits in memory count per process."
            " Set PORTAL_RATELIMIT_STORAGE_URI to a shared store (redis://HOST:PORT/0),"
            " or serve with --workers 1.",
            err=True,
        )
        sys.exit(2)
    # The workers leave the outbox to the sender process.
    os.environ["PORTAL_MAIL_SENDER_THREAD"] = "false"
    sender = MailSender(
        [sys.executable, "-m", "portal", "send-mail", "--watch", "--nice", str(SENDER_NICENESS)]
    )
    click.echo(f"Serving the portal on http://{host}:{port}/ ({workers}x{threads} threads)")
    Gunicorn(host, port, workers, threads, on_ready=sender.start, on_exit=sender.stop).run()


# The mail sender's CPU priority is lower than the workers' by this much (0-19): under a burst
# of submissions the answers come first and the mail follows.
SENDER_NICENESS = 19


class MailSender:
    """`portal send-mail --watch` in a child process beside the workers, started again
    (after a pause growing from 1 s to a minute) if it stops while the server runs."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self.process = subprocess.Popen(self.command)
        threading.Thread(target=self._watch, name="mail sender", daemon=True).start()

    def stop(self) -> None:
        """Ask the sender to finish (SIGTERM), then kill it if it has not within 10 s."""
        self._stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def _watch(self) -> None:
        pause = 1.0
        while not self._stopping.wait(1.0):
            process = self.process
            if process is None or process.poll() is None:
                continue
            log.warning(
                "The mail sender stopped (status %s); starting it again", process.returncode
            )
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, 60.0)
            self.process = subprocess.Popen(self.command)


@click.command("send-mail")
@click.option(
    "--watch",
    is_flag=True,
    help="Keep running, looking at the outbox every --interval seconds, until stopped.",
)
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between two looks at the outbox, with --watch.",
)
@click.option(
    "--nice",
    "niceness",
    default=0,
    show_default=True,
    type=click.IntRange(0, 19),
    help="Run at a CPU priority lower by this much.",
)
def send_mail(watch: bool, interval: float, niceness: int) -> None:
    """Send the mail waiting in the outbox: acknowledgements, notices, reminders.

    Without --watch, send what is due and exit (from cron, say); a mail the server refused
    is tried again on a later run, 1, 2, 4 ... minutes later. `portal serve` runs it with
    --watch beside its workers.
    """
    from portal.mail import mailer_from_config
    from portal.web import create_app

    parent = os.getppid()  # first: the server may be killed while this one starts
    if niceness:
        os.nice(niceness)
    _log_to_stderr()
    app = create_app()
    mailer = mailer_from_config(
        app.extensions["portal.sessions"], app.config, interval=interval, settle=0.0
    )
    if not watch:
        sent, failed = mailer.send_due()
        click.echo(f"{sent} mails sent" + (f", {failed} to retry later." if failed else "."))
        return
    _run_until_stopped(mailer, f"Sending mail from the outbox every {interval:.1f} s", parent)


class _Loop(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


def _run_until_stopped(loop: _Loop, started: str, parent: int) -> None:
    """Run a `portal serve` helper's loop until SIGTERM or SIGINT, or until `parent`, the
    process that started this one, is gone (killed, say)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: loop.stop())

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        loop.stop()

    threading.Thread(target=watch_parent, name="parent watcher", daemon=True).start()
    logging.getLogger("portal").info("%s", started)
    loop.run()


def _log_to_stderr() -> None:
    """The portal's own log lines (ids and state changes, never form contents) on stderr,
    beside gunicorn's."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    )
    logging.getLogger("portal").addHandler(handler)
    logging.getLogger("portal").setLevel(logging.INFO)


class Gunicorn:
    """gunicorn run in-process, with its own threaded workers (`gthread`): workers fork from
    here and build their own app. `app_factory` (default `create_app`) lets the benchmarks
    serve another app under exactly these settings; `on_ready` and `on_exit` run in the
    server process only, when it is ready to serve and when it stops."""

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        threads: int,
        app_factory: Callable[[], Any] | None = None,
        on_ready: Callable[[], None] | None = None,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        from gunicorn.app.base import BaseApplication

        class Application(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                settings: dict[str, Any] = {
                    "bind": f"{host}:{port}",
                    "workers": workers,
                    "worker_class": "gthread",
                    "threads": threads,
                    "timeout": 30,
                    "graceful_timeout": 10,
                    # The access log has paths only: never a form's contents.
                    "accesslog": None,
                    "errorlog": "-",
                    "loglevel": "info",
                }
                if on_ready is not None:
                    settings["when_ready"] = lambda server: on_ready()
                if on_exit is not None:
                    settings["on_exit"] = lambda server: on_exit()
                # gunicorn 24+ opens a control socket in $HOME; the portal has no use for it,
                # and two portals on one machine would fight over it.
                if "control_socket_disable" in self.cfg.settings:
                    settings["control_socket_disable"] = True
                for key, value in settings.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                if app_factory is not None:
                    return app_factory()
                from portal.web import create_app

                return create_app()

        self.application = Application()

    def run(self) -> None:
        """Serve until stopped."""
        self.application.run()


COMMANDS = (serve, send_mail, db)
