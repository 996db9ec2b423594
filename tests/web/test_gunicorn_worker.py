"""The workers share new connections out (`portal.commands.worker`): a real gunicorn, two
workers of three threads, each answering with its pid, and keep-alive connections."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import free_port

from portal.testing import stop_process_group

pytestmark = pytest.mark.slow

HOLD_OFF = 1.0
THREADS = 3

# Served through `Gunicorn` as `portal serve` does; the worker holds off longer than in
# production, so that a slow machine cannot blur who takes what, and keeps idle connections
# open for a minute rather than gunicorn's 2 s.
SERVER = f"""
import os, sys
from portal.commands.cases import Gunicorn
from portal.commands.worker import BalancedThreadWorker

class Patient(BalancedThreadWorker):
    hold_off = {HOLD_OFF}

    def init_process(self):
        self.cfg.set("keepalive", 60)
        super().init_process()

def pid(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]

Gunicorn("127.0.0.1", int(sys.argv[1]), 2, {THREADS}, app_factory=lambda: pid,
         worker_class=Patient).run()
"""


def _ask(connection: http.client.HTTPConnection, keep_alive: bool = True) -> int:
    """The pid of the worker that answers on `connection`."""
    connection.request("GET", "/", headers={} if keep_alive else {"Connection": "close"})
    response = connection.getresponse()
    assert response.status == 200
    return int(response.read())


def _wait_for_both_workers(port: int) -> set[int]:
    """Both workers' pids, once each has answered (so both are taking connections)."""
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 2:
        assert time.monotonic() < deadline, f"only {len(seen)} worker answered"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            seen.add(_ask(connection, keep_alive=False))
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    time.sleep(0.2)  # for the workers to see their last connection closed
    return seen


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    chosen = free_port()
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, str(script), str(chosen)],
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield chosen
    finally:
        stop_process_group(process)


def test_connections_opened_together_are_shared_out_and_none_waits_for_ever(port: int) -> None:
    workers = _wait_for_both_workers(port)
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(6)]
    try:
        for connection in connections:  # all open before any request
            connection.connect()
        pids = [_ask(connection) for connection in connections]
        assert Counter(pids) == dict.fromkeys(workers, THREADS), "one worker per three"

        # Every thread of both holds a connection: a new one waits out the hold, then is
        # taken all the same.
        late = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connections.append(late)
        started = time.monotonic()
        taker = _ask(late)
        assert time.monotonic() - started >= HOLD_OFF / 2
        assert taker in workers

        # A connection closes on the other worker: it has a free thread and takes the next.
        (other,) = workers - {taker}
        connections[pids.index(other)].close()
        following = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connections.append(following)
        assert _ask(following) == other
    finally:
        for connection in connections:
            connection.close()


def test_a_worker_that_dies_while_preparing_leaves_no_mark_on_the_board(tmp_path: Path) -> None:
    """gunicorn calls `child_exit` for each worker that ends: `portal serve`'s clears the
    worker's marks, or the writer would hold every batch a moment for a submission that is
    never coming."""
    from portal.cases.arrivals import Board
    from portal.commands.cases import Gunicorn

    board = Board.create(str(tmp_path / "board"))
    child = os.fork()
    if child == 0:  # a worker killed in the middle of a submission
        with board.preparing():
            os._exit(0)
    os.waitpid(child, 0)
    assert board.busy()
    server = Gunicorn("127.0.0.1", free_port(), 1, 1, app_factory=lambda: None, board=board)
    server.application.cfg.child_exit(None, SimpleNamespace(pid=child))
    assert not board.busy()
    board.close()
