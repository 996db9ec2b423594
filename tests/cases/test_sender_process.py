"""The mail sender as `portal serve` runs it: one process beside the workers (as is the intake
writer), restarted if it dies, stopped with the server; and `portal send-mail` on its own.
Real SMTP (aiosmtpd)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import CATALOG_DIR, Inbox, free_port, incident_body, live_portal

pytestmark = pytest.mark.slow

PORTAL = str(Path(sys.executable).with_name("portal"))
# What `portal serve` keeps in its private folder: the writer's socket and board, and the
# workers' shared rate-limit counters.
PRIVATE_FILES = ["rate-limits", "writer.sock", "writer.sock.board"]


def _env(tmp_path: Path, smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "PORTAL_CATALOG_DIR": str(CATALOG_DIR),
        "PORTAL_SITE_DIR": str(tmp_path / "site"),
        "PORTAL_SECRET_KEY": "sender test",
        "PORTAL_MAIL_BACKEND": "smtp",
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(smtp_port),
        "PORTAL_LEGAL_TEAM_EMAIL": "legal@example.org",
    }


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.1)


def _submit(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps(incident_body()).encode()
    connection.request(
        "POST", "/api/v1/incidents", body=body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 201, answer
    reference: str = answer["reference"]
    return reference


def _up(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/api/v1/health")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def _senders(parent: int, marker: bytes = b"send-mail") -> list[int]:
    """The processes whose parent is `parent` and whose command line names `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and marker in command:
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def _serving_in_a_folder_of_ours(
    tmp_path: Path, smtp_port: int, workers: int, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`portal serve` making its private folder in one of ours (short enough for a Unix
    socket's path), once its writer listens: (the server, its port, its private folder).
    `settings` are more environment variables."""
    folders = Path(tempfile.mkdtemp(prefix="portal-serve-test-"))
    port = free_port()
    process = subprocess.Popen(
        [PORTAL, "serve", "--port", str(port), "--workers", str(workers)],
        env={**_env(tmp_path, smtp_port), "TMPDIR": str(folders), **settings},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: _up(port), 30, "portal serve to answer")
        (private,) = folders.iterdir()
        _wait_for(lambda: (private / "writer.sock").exists(), 30, "the writer to listen")
        yield process, port, private
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        shutil.rmtree(folders, ignore_errors=True)


@pytest.fixture
def server(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    with _serving_in_a_folder_of_ours(tmp_path, smtp[1], workers=2) as started:
        yield started


def test_one_sender_beside_the_workers_sends_restarts_and_stops(
    server: tuple[subprocess.Popen[bytes], int, Path],
    smtp: tuple[Inbox, int],
) -> None:
    process, port, private = server
    inbox, _ = smtp
    first = _submit(port)
    _wait_for(lambda: len(inbox.messages) == 2, 15, "the first two mails")
    assert all(first in m["Subject"] for m in inbox.messages)
    assert sorted(m["To"] for m in inbox.messages) == ["ada@example.com", "legal@example.org"]
    (sender,) = _senders(process.pid)
    assert len(_senders(process.pid, b"intake-writer")) == 1  # the submissions' one writer

    os.kill(sender, signal.SIGKILL)  # the server starts another
    second = _submit(port)
    _wait_for(lambda: len(inbox.messages) == 4, 30, "the sender to come back and send")
    assert all(second in m["Subject"] for m in inbox.messages[2:])
    (restarted,) = _senders(process.pid)
    assert restarted != sender

    process.terminate()  # SIGTERM to the server alone: the sender stops with it
    process.wait(20)
    _wait_for(lambda: not Path(f"/proc/{restarted}").exists(), 15, "the sender to stop")
    assert not private.exists()  # nor its socket, board and rate-limit counters


def test_send_mail_sends_what_the_outbox_holds_and_exits(
    tmp_path: Path,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, smtp_port = smtp
    with live_portal(tmp_path / "site", tmp_path, "sender test") as (url, _):
        reference = _submit(int(url.rpartition(":")[2]))  # the app alone: nobody sends
    assert inbox.messages == []
    env = _env(tmp_path, smtp_port)
    send = [PORTAL, "send-mail"]
    done = subprocess.run(send, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 mails sent."
    assert all(reference in m["Subject"] for m in inbox.messages)
    again = subprocess.run(send, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.stdout.strip() == "0 mails sent."


def test_a_killed_server_leaves_no_folder_behind(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    """Only the server process killed: its writer, finding itself orphaned, stops and removes
    the server's private folder (socket and board) in its place."""
    with _serving_in_a_folder_of_ours(tmp_path, smtp[1], workers=1) as (process, port, private):
        _submit(port)
        assert sorted(p.name for p in private.iterdir()) == PRIVATE_FILES
        (writer,) = _senders(process.pid, b"intake-writer")
        process.kill()  # the server alone, as the kernel's OOM killer would
        process.wait(10)
        _wait_for(lambda: not Path(f"/proc/{writer}").exists(), 15, "the writer to stop")
        assert not private.exists()


def test_a_worker_that_exits_leaves_the_writer_and_its_folder_alone(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    """A worker is forked inside `portal serve`: when one exits (gunicorn replaces it), it must
    not run the server's own clean-up, which removes the writer's socket and board."""
    with _serving_in_a_folder_of_ours(tmp_path, smtp[1], workers=2) as (process, port, private):
        workers = _senders(process.pid, b"serve")
        assert len(workers) == 2
        helpers = _senders(process.pid, b"intake-writer") + _senders(process.pid)
        os.kill(workers[0], signal.SIGTERM)
        _wait_for(
            lambda: (
                len(_senders(process.pid, b"serve")) == 2
                and workers[0] not in _senders(process.pid, b"serve")
            ),
            30,
            "gunicorn to replace the worker",
        )
        time.sleep(1)
        assert sorted(p.name for p in private.iterdir()) == PRIVATE_FILES
        assert _senders(process.pid, b"intake-writer") + _senders(process.pid) == helpers
        _submit(port)


def test_a_clients_rate_limit_holds_across_the_workers(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    """Each submission on a new connection, which either worker may take: the limit counts
    them all (with per-process counts, each worker would let four through)."""
    limit = {"PORTAL_SUBMISSION_RATE_LIMIT": "4 per hour"}
    with _serving_in_a_folder_of_ours(tmp_path, smtp[1], workers=2, **limit) as (_, port, _):
        statuses = []
        for _ in range(12):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(
                "POST",
                "/api/v1/incidents",
                body=json.dumps(incident_body()).encode(),
                headers={"Content-Type": "application/json", "Connection": "close"},
            )
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            connection.close()
    assert statuses == [201] * 4 + [429] * 8
