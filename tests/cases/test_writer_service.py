"""The writer process's protocol: every worker's submissions numbered and committed together,
a worker that cannot reach it writes itself, and one it leaves without an answer says so."""

from __future__ import annotations

import os
import queue
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, func, select
from support import incident_body, make_test_app, prepared_submission, submit_from_threads

from portal.cases import services
from portal.cases.arrivals import Board, board_path
from portal.cases.audit import verify_chain
from portal.cases.committer import BatchWriter, GroupCommitter
from portal.cases.db import make_sessionmaker
from portal.cases.models import Case, OutboxMail
from portal.cases.writer import CaseRow, Encoded, write_batch
from portal.cases.writer_service import (
    WriterClient,
    WriterService,
    WriterUnavailable,
    recv_frame,
)
from portal.catalog import Catalog

NOW = datetime(2026, 11, 26, 15, 30, 12, tzinfo=UTC)


class _NoFallback:
    def run(self, item: Encoded) -> CaseRow:
        raise AssertionError("the writer process was there: no need to write in process")


def _encoded(catalog: Catalog, n: int, sqlite: bool) -> tuple[services.Pending, Encoded]:
    pending = prepared_submission(catalog, n, NOW)
    return pending, services.encode(pending, sqlite=sqlite)


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[str]:
    # A Unix socket's path must be short (108 bytes): not in pytest's deep tmp_path.
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"pw-{os.getpid()}-{id(tmp_path)}"
    folder.mkdir()
    yield str(folder / "w.sock")
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()


def test_the_writer_numbers_and_commits_what_every_worker_sends(
    engine: Engine, catalog: Catalog, socket_path: str
) -> None:
    batches: list[int] = []

    def write(connection: Connection, items: list[Encoded]) -> list[CaseRow]:
        batches.append(len(items))
        return write_batch(connection, items)

    service = WriterService(socket_path, BatchWriter(engine.connect, write))
    ready = threading.Event()
    server = threading.Thread(target=service.serve, args=(ready,))
    server.start()
    assert ready.wait(10)
    client = WriterClient(socket_path, fallback=_NoFallback())
    sqlite = engine.dialect.name == "sqlite"
    receipts = submit_from_threads(client.run, catalog, sqlite=sqlite, now=NOW)
    client.close()
    service.stop()
    server.join(10)
    assert not os.path.exists(socket_path)
    references = sorted(r.reference for r in receipts)
    assert len(set(references)) == 120
    incidents = [r for r in references if r.startswith("INC")]
    assert incidents == [f"INC-2026-{n:06d}" for n in range(1, len(incidents) + 1)]
    assert sum(batches) == 120 and max(batches) > 1  # submissions shared commits
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 120
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 240
        assert verify_chain(session) == []
        for receipt in receipts[:5]:
            found = services.find_case(session, receipt.reference, receipt.access_token)
            assert found is not None and found.id == receipt.row.id


class _Worker:
    """A request thread of a worker: it keeps its connection to the writer across submissions,
    and says while it prepares each one (held there until `gate` opens, if one is given)."""

    def __init__(self, client: WriterClient, catalog: Catalog, sqlite: bool) -> None:
        self.jobs: queue.Queue[tuple[int, threading.Event | None] | None] = queue.Queue()
        self.done: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(client, catalog, sqlite))
        self._thread.start()

    def _run(self, client: WriterClient, catalog: Catalog, sqlite: bool) -> None:
        while (job := self.jobs.get()) is not None:
            n, gate = job
            with client.preparing():
                if gate is not None:
                    assert gate.wait(30)
                self.done.put(client.run(_encoded(catalog, n, sqlite)[1]).reference)
        client.close()

    def stop(self) -> None:
        self.jobs.put(None)
        self._thread.join(10)


def test_a_batch_waits_for_the_submissions_being_prepared_and_only_for_them(
    engine: Engine, catalog: Catalog, socket_path: str
) -> None:
    """Nobody else preparing: a submission is written at once. Another request thread
    preparing one: the batch waits (here up to a minute: `linger`) and both share a commit."""
    batches: list[int] = []

    def write(connection: Connection, items: list[Encoded]) -> list[CaseRow]:
        batches.append(len(items))
        return write_batch(connection, items)

    board = Board.create(board_path(socket_path))
    service = WriterService(socket_path, BatchWriter(engine.connect, write), linger=60, board=board)
    server = _serving(service)
    client = WriterClient(socket_path, fallback=_NoFallback())
    assert client.board is not None
    sqlite = engine.dialect.name == "sqlite"
    first, second = _Worker(client, catalog, sqlite), _Worker(client, catalog, sqlite)
    for n, worker in ((1, first), (2, second), (3, first)):
        worker.jobs.put((n, None))
        assert worker.done.get(timeout=10)  # at once, not after a minute
    assert batches == [1, 1, 1] and not board.busy()
    gate = threading.Event()
    second.jobs.put((4, gate))  # preparing, until the gate opens
    while not board.busy():
        threading.Event().wait(0.01)
    first.jobs.put((5, None))
    threading.Event().wait(0.3)
    assert batches == [1, 1, 1] and first.done.empty()  # waiting for the other one...
    gate.set()
    assert first.done.get(timeout=10) and second.done.get(timeout=10)
    assert batches == [1, 1, 1, 2] and not board.busy()  # ...which shares its commit
    for worker in (first, second):
        worker.stop()
    service.stop()
    server.join(10)
    board.close()


def test_the_board_marks_each_thread_while_it_prepares(socket_path: str) -> None:
    board = Board.create(board_path(socket_path))
    marked = threading.Event()
    release = threading.Event()

    def other() -> None:
        with board.preparing():
            marked.set()
            assert release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert marked.wait(10)
    with board.preparing():
        assert board.busy()
        board.handed_over()  # this thread's mark only
        assert board.busy()
    release.set()
    thread.join(10)
    assert not board.busy()
    with pytest.raises(ValueError), board.preparing():  # a thread that gives up clears it
        raise ValueError
    assert not board.busy()
    with board.preparing():  # a worker that died while preparing: serve clears its block
        board.clear_block(os.getpid())
        assert not board.busy()
    assert Board.open(board_path(socket_path) + ".missing") is None
    board.close()


def test_without_the_writer_a_worker_writes_itself(
    engine: Engine, catalog: Catalog, socket_path: str
) -> None:
    fallback: GroupCommitter[Encoded, CaseRow] = GroupCommitter(engine.connect, write_batch)
    client = WriterClient(socket_path, fallback=fallback)  # nobody listens there
    pending, item = _encoded(catalog, 1, engine.dialect.name == "sqlite")
    assert client.run(item).reference == "INC-2026-000001" == pending.row.reference


def _serving(service: WriterService) -> threading.Thread:
    ready = threading.Event()
    thread = threading.Thread(target=service.serve, args=(ready,))
    thread.start()
    assert ready.wait(10)
    return thread


def test_a_restarted_writer_costs_no_submission(
    engine: Engine, catalog: Catalog, socket_path: str
) -> None:
    """A thread whose connection died with the old writer sends to the new one."""
    client = WriterClient(socket_path, fallback=_NoFallback())
    sqlite = engine.dialect.name == "sqlite"
    references = []
    for _ in range(2):
        service = WriterService(socket_path, BatchWriter(engine.connect, write_batch))
        thread = _serving(service)
        references.append(client.run(_encoded(catalog, 1, sqlite)[1]).reference)
        service.stop()
        thread.join(10)
    client.close()
    assert references == ["INC-2026-000001", "INC-2026-000002"]


def _writer_that_dies(path: str) -> threading.Thread:
    """A writer that takes one submission and goes away without answering."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        connection, _ = listener.accept()
        recv_frame(connection)
        connection.close()
        listener.close()

    thread = threading.Thread(target=serve)
    thread.start()
    return thread


def test_a_writer_gone_with_a_submission_leaves_no_receipt(
    catalog: Catalog, socket_path: str
) -> None:
    dying = _writer_that_dies(socket_path)
    client = WriterClient(socket_path, fallback=_NoFallback())
    _, item = _encoded(catalog, 1, sqlite=True)
    with pytest.raises(WriterUnavailable):
        client.run(item)
    dying.join(10)
    client.close()


def test_the_api_answers_503_when_the_writer_went_away(
    sqlite_url: str, tmp_path: Path, socket_path: str
) -> None:
    app: Flask = make_test_app(sqlite_url, tmp_path, WRITER_SOCKET=socket_path)
    dying = _writer_that_dies(socket_path)
    response = app.test_client().post("/api/v1/incidents", json=incident_body())
    dying.join(10)
    app.extensions["portal.committer"].close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"  # its own, not the rate limit's window
    body: Any = response.json
    assert body["errors"][0]["field"] is None
    assert "send it again" in body["errors"][0]["message"]
