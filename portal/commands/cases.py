"""`portal serve` and `portal db upgrade`: run the portal, and migrate its database."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import click

from portal.cases.db import is_sqlite, make_engine, upgrade

if TYPE_CHECKING:
    from portal.cases.arrivals import Board


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
    """Serve the built site, the forms and the API through gunicorn, and send their mail.

    An embedded SQLite database is brought to the latest migration first; PostgreSQL is
    migrated explicitly with `portal db upgrade`. Beside the workers run one writer for all
    their submissions (`portal intake-writer`, see `portal.cases.writer_service`) and one mail
    sender (`portal send-mail --watch`, at the lowest CPU priority), each restarted if it stops.
    """
    from portal.cases.arrivals import Board, board_path
    from portal.sidecar import Sidecar
    from portal.web import create_app, ratelimit, shared_limits

    _log_to_stderr()
    app = create_app()
    url = str(app.config["DATABASE_URL"])
    if is_sqlite(url):
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    app.extensions["portal.engine"].dispose()
    # One writer for the submissions of every worker, in a folder only this user can open.
    private = tempfile.mkdtemp(prefix="portal-serve-")
    writer_socket = os.path.join(private, WRITER_SOCKET)
    board = Board.create(board_path(writer_socket))  # who is preparing a submission
    writer = Sidecar(
        "intake writer", [sys.executable, "-m", "portal", "intake-writer", writer_socket]
    )
    # The workers leave the outbox to the sender process.
    sender = Sidecar(
        "mail sender",
        [sys.executable, "-m", "portal", "send-mail", "--watch", "--nice", str(SENDER_NICENESS)],
    )
    os.environ["PORTAL_MAIL_SENDER_THREAD"] = "false"
    os.environ["PORTAL_WRITER_SOCKET"] = writer_socket
    if ratelimit.counts_in_each_process(app.config):  # a client's limit, whichever worker
        limits = os.path.join(private, RATE_LIMITS_FILE)
        os.environ["PORTAL_RATELIMIT_STORAGE_URI"] = shared_limits.uri_for(limits)
    click.echo(f"Serving the portal on http://{host}:{port}/ ({workers}x{threads} threads)")
    writer.start()
    sender.start()
    try:
        Gunicorn(host, port, workers, threads, board=board).run()
    finally:
        sender.stop()
        writer.stop()
        board.close()
        _remove_private_folder(private)


# What `portal serve` keeps in its private folder: the writer's socket (and beside it, its
# board: `arrivals.board_path`) and the workers' shared rate-limit counters.
WRITER_SOCKET = "writer.sock"
RATE_LIMITS_FILE = "rate-limits"


def _remove_private_folder(folder: str) -> None:
    """Remove `portal serve`'s private folder and what it keeps there."""
    from portal.cases.arrivals import board_path

    for name in (WRITER_SOCKET, board_path(WRITER_SOCKET), RATE_LIMITS_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, name))
    with contextlib.suppress(OSError):
        os.rmdir(folder)


# How much lower the mail sender's CPU priority is than the workers' (0-19).
SENDER_NICENESS = 19


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
    _run_until_stopped(mailer, f"Sending mail from the outbox every {interval:.1f} s")


@click.command("intake-writer", hidden=True)
@click.argument("path")
def intake_writer(path: str) -> None:
    """Write the submissions that the workers send to the socket PATH (run by `portal serve`)."""
    from portal.cases.arrivals import Board, board_path
    from portal.cases.committer import BatchWriter
    from portal.cases.writer import write_batch
    from portal.cases.writer_service import WriterService
    from portal.web import create_app

    _log_to_stderr()
    app = create_app()
    engine = app.extensions["portal.engine"]
    board = Board.open(board_path(path))
    service = WriterService(path, BatchWriter(engine.connect, write_batch), board=board)
    parent = os.getppid()
    _run_until_stopped(service, f"Writing the submissions sent to {path}")
    engine.dispose()
    if board is not None and os.getppid() != parent:
        # `portal serve` was killed before it could remove its folder: leave nothing behind.
        board.close()
        _remove_private_folder(os.path.dirname(path))


class _Loop(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


def _run_until_stopped(loop: _Loop, started: str) -> None:
    """Run a `portal serve` helper's loop until SIGTERM or SIGINT, or until the process that
    started this one is gone (killed, say)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: loop.stop())
    parent = os.getppid()

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
    """gunicorn run in-process: workers fork from here and build their own app.

    Threaded workers (gthread), so that submissions arriving together in one process can
    share one durable commit (`portal.cases.committer`); a sync worker serves one request at
    a time and would pay for one commit each. They share new connections out between them
    (`portal.commands.worker`). `app_factory` (default `create_app`) lets the benchmarks
    serve another app under exactly these settings, and `worker_class` another worker.
    """

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        threads: int,
        app_factory: Callable[[], Any] | None = None,
        board: Board | None = None,
        worker_class: str | type = "portal.commands.worker.BalancedThreadWorker",
    ) -> None:
        from gunicorn.app.base import BaseApplication

        outer = self

        class Application(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                settings: dict[str, Any] = {
                    "bind": f"{outer.host}:{outer.port}",
                    "workers": outer.workers,
                    "worker_class": outer.worker_class,
                    "threads": outer.threads,
                    "timeout": 30,
                    "graceful_timeout": 10,
                    # The access log has paths only: never a form's contents.
                    "accesslog": None,
                    "errorlog": "-",
                    "loglevel": "info",
                    "post_worker_init": _freeze_startup_objects,
                }
                if outer.board is not None:  # a worker that died may have left its slots set
                    board = outer.board
                    settings["child_exit"] = lambda server, worker: board.clear_block(worker.pid)
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
        self.board = board
        self.worker_class = worker_class
        self.application = Application()

    def run(self) -> None:
        """Serve until stopped; return (or raise) in the server process only.

        gunicorn forks its workers inside this call, and a worker leaves by raising
        SystemExit, which would unwind through the caller's frames too: `portal serve`'s
        clean-up would then stop its helpers and remove the writer's folder from under a
        running server whenever gunicorn replaced a worker. A worker ends here instead.
        """
        server = os.getpid()
        try:
            self.application.run()
        except BaseException as error:
            if os.getpid() == server:
                raise
            _end_worker(error)


def _end_worker(error: BaseException) -> NoReturn:
    """End a gunicorn worker with its exit status, running none of its forking caller's code."""
    code = error.code if isinstance(error, SystemExit) else 1
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _freeze_startup_objects(worker: Any) -> None:
    """Keep what the app built at start-up (the catalog, the models, the templates) out of the
    garbage collector's full passes: with it, one pass stalled every thread of a worker for
    about 120 ms under load."""
    gc.collect()
    gc.freeze()


COMMANDS = (serve, send_mail, intake_writer, db)
