"""Crash test: SIGKILL `portal serve` under concurrent submissions, restart, and count.

Every submission that got a 201 must be there after the restart, readable with its
reference and token, and no reference may appear twice: a receipt is a promise.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support import CATALOG_DIR, free_port, incident_body, request_body

from portal.cases.db import make_engine, make_sessionmaker
from portal.cases.models import Case
from portal.testing import stop_process_group

pytestmark = pytest.mark.slow


class _Server:
    def __init__(self, database_url: str, workdir: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_CATALOG_DIR": str(CATALOG_DIR),
            "PORTAL_SITE_DIR": str(workdir / "site"),
            "PORTAL_SECRET_KEY": "crash test",
            "PORTAL_SUBMISSION_RATE_LIMIT": "1000000 per minute",
            "PORTAL_MAIL_BACKEND": "console",
        }
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        portal = Path(sys.executable).with_name("portal")
        self.process = subprocess.Popen(
            [str(portal), "serve", "--port", str(self.port)],
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the kill takes the workers too
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _request(self.port, "GET", "/api/v1/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("portal serve did not start within 30 s")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=15)


def _request(
    port: int, method: str, path: str, body: object = None, token: str | None = None
) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
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


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[_Server]:
    running = _Server(database_url, tmp_path)
    yield running
    running.stop()


def test_every_receipt_survives_sigkill(server: _Server, database_url: str) -> None:
    server.start()
    receipts: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def submit(kind: int) -> None:
        path, body = (
            ("/api/v1/incidents", incident_body())
            if kind % 2
            else ("/api/v1/information-requests", request_body())
        )
        while not stop.is_set():
            try:
                status, answer = _request(server.port, "POST", path, body)
            except (OSError, http.client.HTTPException, ValueError):
                continue  # the server is gone: this submission got no receipt
            if status == 201:
                with lock:
                    receipts.append((str(answer["reference"]), str(answer["access_token"])))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(receipts) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(15)
    acknowledged = list(receipts)
    assert len(acknowledged) >= 60, "too few submissions before the kill to mean anything"

    server.start()
    for reference, token in acknowledged:
        status, view = _request(server.port, "GET", f"/api/v1/cases/{reference}", token=token)
        assert status == 200, reference
        assert view["reference"] == reference
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        total = session.scalar(select(func.count()).select_from(Case))
        distinct = session.scalar(select(func.count(func.distinct(Case.reference))))
    engine.dispose()
    assert total == distinct
    assert len({ref for ref, _ in acknowledged}) == len(acknowledged)
    assert total is not None and total >= len(acknowledged)
