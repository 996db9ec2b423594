"""Helpers shared by test modules (not a test module): request bodies, a live portal."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask
from werkzeug.serving import make_server

from portal import create_app
from portal.cases.db import init_db
from portal.cases.sealed import use_data_key
from portal.proof.sealing import load_data_key
from portal.testing import free_port, stop_process_group
from portal.web import context

CATALOG_DIR = Path(__file__).resolve().parents[1] / "catalog"
HIGH_RISK_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lumen-recruit.yaml"
PORTAL = str(Path(sys.executable).with_name("portal"))


def incident_body(**changes: Any) -> dict[str, Any]:
    """A valid incident notice for the sample catalog; `changes` replace fields."""
    body: dict[str, Any] = {
        "product": "lumen-large-3",
        "product_version": "26.02",
        "categories": ["critical-infrastructure"],
        "aware_at": "2026-11-25T10:00:00+01:00",
        "started_at": "2026-11-25T08:30:00+01:00",
        "description": "The model's output stopped a water plant's dosing controller.",
        "harm": "Drinking water supply interrupted for four hours.",
        "affected_persons": 1200,
        "member_states": ["FR"],
        "measures_taken": "Operator switched to manual dosing.",
        "reporter": {
            "organisation": "Acme Water",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "phone": "+33 1 23 45 67 89",
            "capacity": "deployer",
        },
    }
    body.update(changes)
    return body


def request_body(**changes: Any) -> dict[str, Any]:
    """A valid information request for the sample catalog."""
    body: dict[str, Any] = {
        "products": ["lumen-medium-2"],
        "topic": "integration",
        "questions": "What is the maximum context window of version 25.11?",
        "requester": {"organisation": "Acme", "name": "Ada Lovelace", "email": "ada@example.com"},
    }
    body.update(changes)
    return body


def catalog_with_high_risk_system(tmp_path: Path) -> Path:
    """A copy of the sample catalog plus lumen-recruit, a high-risk AI system.

    The sample catalog has none (the provider's terms say it offers none), but the Art. 73
    clocks must still be tested.
    """
    root = tmp_path / "catalog-high-risk"
    shutil.copytree(CATALOG_DIR, root)
    shutil.copy(HIGH_RISK_FIXTURE, root / "products")
    return root


def make_test_app(database_url: str, tmp_path: Path, **config: Any) -> Flask:
    """An app on `database_url` with test settings; `config` overrides them."""
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test secret",
        "DATABASE_URL": database_url,
        "CATALOG_DIR": str(CATALOG_DIR),
        "SITE_DIR": str(tmp_path / "site"),
        "MAIL_SENDER_THREAD": False,
        "SUBMISSION_RATE_LIMIT": "10000 per minute",
        "WTF_CSRF_ENABLED": False,
        "SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing-key.pem"),
        "DATA_KEY_FILE": str(tmp_path / "keys" / "data-key"),
    }
    settings.update(config)
    app = create_app(settings)
    init_db(app.extensions[context.ENGINE])
    return app


@contextlib.contextmanager
def live_portal(site_dir: Path, data_dir: Path, secret: str) -> Iterator[tuple[str, Flask]]:
    """The whole portal (site, forms, API, staff) on 127.0.0.1, on a fresh SQLite file.

    `create_app` brings the embedded database to the latest migration itself.
    """
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": secret,
            "DATABASE_URL": f"sqlite:///{data_dir}/portal.db",
            "SITE_DIR": str(site_dir),
            "CATALOG_DIR": str(CATALOG_DIR),
            "MAIL_SENDER_THREAD": False,
            "SIGNING_KEY_FILE": str(data_dir / "signing-key.pem"),
            "DATA_KEY_FILE": str(data_dir / "data-key"),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions[context.ENGINE].dispose()


class Inbox:
    """What an SMTP server on localhost received (an aiosmtpd handler)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: its inbox and port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def build_sample_site(tmp_path_factory: Any) -> Path:
    """The sample catalog's site, built once per session into one shared folder (the site
    tests and the browser tests both use it)."""
    from portal.docs.publish import build_site

    base = tmp_path_factory.getbasetemp() / "sample"
    site = base / "site"
    if not (site / "index.html").exists():
        shutil.copytree(CATALOG_DIR, base / "catalog", dirs_exist_ok=True)
        build_site(
            site, config_file=CATALOG_DIR.parent / "mkdocs.yml", catalog_dir=base / "catalog"
        )
    return site


class PortalServer:
    """`portal serve` in a process group of its own, on a free port of 127.0.0.1.

    `settings` are environment variables beside the defaults (the sample catalog, console
    mail, a secret key shared by every server of one test, a rate limit nobody reaches).
    """

    def __init__(self, database_url: str, workdir: Path, *args: str, **settings: str) -> None:
        self.port = free_port()
        self.args = args
        self.workdir = workdir
        self.env = {
            **os.environ,
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_CATALOG_DIR": str(CATALOG_DIR),
            "PORTAL_SITE_DIR": str(workdir / "site"),
            "PORTAL_SECRET_KEY": "test servers",
            # Every server of one portal shares its keys.
            "PORTAL_DATA_KEY_FILE": str(workdir / "data-key"),
            "PORTAL_SIGNING_KEY_FILE": str(workdir / "signing-key.pem"),
            "PORTAL_SUBMISSION_RATE_LIMIT": "1000000 per minute",
            "PORTAL_MAIL_BACKEND": "console",
            **settings,
        }
        # The test reads what the servers wrote: it opens it with their data key.
        use_data_key(load_data_key(workdir / "data-key"))
        self.log = workdir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [PORTAL, "serve", "--port", str(self.port), *self.args],
                env=self.env,
                cwd=self.workdir,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # its own process group: a kill takes its workers too
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"portal serve exited: {self.log.read_text()[-2000:]}")
            try:
                if self.request("GET", "/api/v1/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("portal serve did not answer within 30 s")

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = None,
        source: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One JSON request on a new connection, from the local address `source` if given."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=15, source_address=(source, 0) if source else None
        )
        try:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            payload = json.dumps(body) if body is not None else None
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def cli(self, *args: str, stdin: str = "") -> str:
        """Run `portal ARGS` with this server's settings; its standard output."""
        done = subprocess.run(
            [PORTAL, *args],
            env=self.env,
            cwd=self.workdir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=15)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 for `folder`, as any web server would serve a site."""
    handler = lambda *a, **k: _Quiet(*a, directory=str(folder), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
