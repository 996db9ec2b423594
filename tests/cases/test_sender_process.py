"""`portal serve` as a process: gunicorn's master, its workers and one mail sender beside
them, restarted if it dies and stopped with the server; `portal send-mail` on its own; and the
refusal to count rate limits per process with several workers. Real SMTP (aiosmtpd)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import CATALOG_DIR, Inbox, free_port, incident_body, live_portal

pytestmark = pytest.mark.slow

PORTAL = str(Path(sys.executable).with_name("portal"))


def _env(tmp_path: Path, smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "PORTAL_CATALOG_DIR": str(CATALOG_DIR),
        "PORTAL_SITE_DIR": str(tmp_path / "site"),
        "PORTAL_SECRET_KEY": "sender test",
        # The same keys as `live_portal`'s app: every process of one portal shares them.
        "PORTAL_DATA_KEY_FILE": str(tmp_path / "data-key"),
        "PORTAL_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
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


def _children(parent: int) -> list[tuple[int, list[bytes]]]:
    """The processes whose parent is `parent`, with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            found.append((int(entry.name), command))
    return found


def _gone(pid: int) -> bool:
    """Whether `pid` has ended (a zombie, which nobody may reap here, has ended too)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def _senders(parent: int) -> list[int]:
    return [pid for pid, command in _children(parent) if b"send-mail" in command]


def _workers(parent: int) -> list[int]:
    return [pid for pid, command in _children(parent) if b"serve" in command]


@contextlib.contextmanager
def _serving(
    tmp_path: Path, smtp_port: int, workers: int = 1, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`portal serve` once it answers and its sender runs: (the server, its port).
    `settings` are more environment variables."""
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [PORTAL, "serve", "--port", str(port), "--workers", str(workers)],
            env={**_env(tmp_path, smtp_port), **settings},
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    try:
        _wait_for(lambda: _up(port), 30, "portal serve to answer")
        _wait_for(lambda: len(_senders(process.pid)) == 1, 30, "the mail sender to start")
        yield process, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_one_worker_and_one_sender_that_restarts_and_stops_with_the_server(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    """By default: the master, one worker and the mail sender; nothing else."""
    inbox, smtp_port = smtp
    with _serving(tmp_path, smtp_port) as (process, port):
        children = _children(process.pid)
        (sender,) = _senders(process.pid)
        assert len(_workers(process.pid)) == 1
        assert len(children) == 2, children
        first = _submit(port)
        _wait_for(lambda: len(inbox.messages) == 2, 15, "the first two mails")
        assert all(first in m["Subject"] for m in inbox.messages)
        assert sorted(m["To"] for m in inbox.messages) == ["ada@example.com", "legal@example.org"]

        os.kill(sender, signal.SIGKILL)  # the server starts another
        second = _submit(port)
        _wait_for(lambda: len(inbox.messages) == 4, 30, "the sender to come back and send")
        assert all(second in m["Subject"] for m in inbox.messages[2:])
        (restarted,) = _senders(process.pid)
        assert restarted != sender

        process.terminate()  # SIGTERM to the server alone: the sender stops with it
        process.wait(20)
        _wait_for(lambda: _gone(restarted), 15, "the sender to stop")
    assert len(inbox.messages) == 4  # each mail sent once


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


def test_a_killed_server_leaves_no_sender_behind(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    """Only the server process killed, as the kernel's OOM killer would: its sender, finding
    itself orphaned, stops."""
    with _serving(tmp_path, smtp[1]) as (process, port):
        _submit(port)
        (sender,) = _senders(process.pid)
        log = tmp_path / "serve.log"
        _wait_for(lambda: b"Sending mail from the outbox" in log.read_bytes(), 30, "its loop")
        process.kill()
        process.wait(10)
        _wait_for(lambda: _gone(sender), 15, "the sender to stop")


def test_a_worker_that_exits_is_replaced_and_the_sender_stays(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    """A worker is forked inside `portal serve`: when one exits, gunicorn starts another and
    the server's own hooks (the sender's start and stop) do not run in the worker."""
    with _serving(tmp_path, smtp[1]) as (process, port):
        (worker,) = _workers(process.pid)
        senders = _senders(process.pid)
        os.kill(worker, signal.SIGTERM)
        _wait_for(lambda: _workers(process.pid) not in ([], [worker]), 30, "gunicorn to replace it")
        time.sleep(1)
        assert _senders(process.pid) == senders
        _submit(port)


def test_several_workers_with_limits_in_memory_refuse_to_start(tmp_path: Path) -> None:
    """A limit counted in each process would let a client through once per worker."""
    done = subprocess.run(
        [PORTAL, "serve", "--port", str(free_port()), "--workers", "2"],
        env={**_env(tmp_path, 25), "PORTAL_RATELIMIT_STORAGE_URI": "memory://"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("Cannot serve with 2 workers"), done.stderr
    assert "PORTAL_RATELIMIT_STORAGE_URI" in lines[-1]
