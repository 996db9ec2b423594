"""One writer for all the workers: a process that writes the server's submissions.

Under load, the thread that writes a batch holds the database's write lock (SQLite) or its
counter and audit-head row locks (PostgreSQL) while it waits for the database, and in a
worker it then waits again for the GIL, which the request threads keep busy: the lock stays
held for many milliseconds more than the work needs, and every other writer waits. So
`portal serve` runs one writer process beside the workers: their request threads send it
their encoded submissions over a Unix socket and wait for the answer; it gathers whatever
has arrived from every worker into one batch, writes and commits it (`BatchWriter`), and
answers each with its reference and id. It has no other thread to share its GIL with, and
batches across workers, not per worker.

A worker that cannot reach the writer (not started yet, or restarting) writes in process, as
without it (`fallback`). If the writer goes away while a submission is with it, nobody can
tell whether it was committed: the request fails with `WriterUnavailable` (the API answers
503), never with a receipt that might not hold.

The socket lives in a folder only the server's user can open; frames are a 4-byte length and
a `marshal` of plain values (`Encoded.to_wire`), between processes of the same interpreter:
ten times cheaper to write and read than a pickle of the encoded submission.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import selectors
import socket
import struct
import threading
import time
from typing import Any, Protocol

from portal.cases.arrivals import Board, board_path
from portal.cases.committer import MAX_BATCH, BatchWriter
from portal.cases.writer import CaseRow, Encoded

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
REPLY_TIMEOUT = 60.0
RECEIVE_SIZE = 1 << 20  # bytes the writer reads from a worker at most at once
# How long a batch may wait for submissions that request threads are preparing
# (`arrivals.Board`): a batch costs its round trips and commit whatever its size.
LINGER = 0.002


class WriterUnavailable(Exception):
    """The writer process went away with a submission: whether it was written is unknown."""


class Committer(Protocol):
    def run(self, item: Encoded) -> CaseRow: ...


def send_frame(sock: socket.socket, value: Any) -> None:
    data = marshal.dumps(value)
    sock.sendall(_LENGTH.pack(len(data)) + data)


def recv_frame(sock: socket.socket) -> Any:
    (length,) = _LENGTH.unpack(_recv_exactly(sock, _LENGTH.size))
    return marshal.loads(_recv_exactly(sock, length))


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the writer closed the connection")
        chunks += chunk
    return bytes(chunks)


class WriterClient:
    """A worker's side: `run(item)` as `GroupCommitter.run`, through the writer process."""

    def __init__(self, path: str, fallback: Committer) -> None:
        self.path = path
        self.fallback = fallback
        self.board = Board.open(board_path(path))
        self._local = threading.local()
        self._open: set[socket.socket] = set()  # every thread's, so that `close` reaches them
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every thread's connection (the next `run` opens a new one)."""
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            sock.close()

    def preparing(self) -> contextlib.AbstractContextManager[None]:
        """Around a submission's validation, preparation and `run`: the writer may wait for it."""
        return self.board.preparing() if self.board is not None else contextlib.nullcontext()

    def run(self, item: Encoded) -> CaseRow:
        if self.board is not None:
            self.board.handed_over()
        for _ in range(2):
            sock = self._socket()
            if sock is None:
                break
            try:
                send_frame(sock, item.to_wire())
            except OSError:
                # A writer that restarted since this thread's last submission: the frame did
                # not reach it whole, so it cannot have been written. Once more, anew.
                self._drop(sock)
                continue
            try:
                reply = recv_frame(sock)
            except (OSError, EOFError, ValueError, TypeError) as error:
                self._drop(sock)
                raise WriterUnavailable(str(error)) from error
            return self._numbered(item, reply)
        return self.fallback.run(item)

    @staticmethod
    def _numbered(item: Encoded, reply: tuple[Any, ...]) -> CaseRow:
        if reply[0] != "ok":
            raise RuntimeError(f"the writer could not write the submission: {reply[1]}")
        _, reference, case_id = reply
        item.case.reference = reference
        item.case.id = case_id
        return item.case

    def _socket(self) -> socket.socket | None:
        sock: socket.socket | None = getattr(self._local, "socket", None)
        if sock is not None and sock.fileno() != -1:
            return sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(REPLY_TIMEOUT)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            return None
        self._local.socket = sock
        with self._lock:
            self._open.add(sock)
        return sock

    def _drop(self, sock: socket.socket) -> None:
        self._local.socket = None
        with self._lock:
            self._open.discard(sock)
        sock.close()


class WriterService:
    """The writer process's side: answer every worker connected to `path`."""

    def __init__(
        self,
        path: str,
        writer: BatchWriter[Encoded, CaseRow],
        *,
        max_batch: int = MAX_BATCH,
        linger: float = LINGER,
        board: Board | None = None,
    ) -> None:
        self.path = path
        self.writer = writer
        self.max_batch = max_batch
        self.linger = linger
        self.board = board
        self._stop = threading.Event()
        self._buffers: dict[socket.socket, bytearray] = {}
        # What each `recv` reads into: one buffer, rather than a new megabyte per call.
        self._received = memoryview(bytearray(RECEIVE_SIZE))

    def stop(self) -> None:
        """End `serve` after the batch it is writing."""
        self._stop.set()

    def run(self) -> None:
        self.serve()

    def serve(self, ready: threading.Event | None = None) -> None:
        """Listen on `path` and write what comes, until `stop`."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by a writer that was killed
        listener.bind(self.path)
        listener.listen(128)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        if ready is not None:
            ready.set()
        try:
            while not self._stop.is_set():
                events = selector.select(timeout=0.5)
                waiting = self._read_all(events, listener, selector)
                if waiting:
                    waiting += self._more(waiting, listener, selector)
                for start in range(0, len(waiting), self.max_batch):
                    self._write(waiting[start : start + self.max_batch], selector)
        finally:
            for sock in list(self._buffers):
                self._close(sock, selector)
            selector.close()
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def _more(
        self,
        waiting: list[tuple[socket.socket, Encoded]],
        listener: socket.socket,
        selector: selectors.BaseSelector,
    ) -> list[tuple[socket.socket, Encoded]]:
        """What arrives within `linger` while request threads are still preparing
        submissions: each one is then a moment away. Nothing, at once, when none is."""
        more: list[tuple[socket.socket, Encoded]] = []
        if self.board is None:
            return more
        start = time.monotonic()
        while len(waiting) + len(more) < self.max_batch and self.board.busy():
            left = self.linger - (time.monotonic() - start)
            if left <= 0:
                break
            more += self._read_all(selector.select(timeout=left), listener, selector)
        return more

    def _read_all(
        self,
        events: list[tuple[selectors.SelectorKey, int]],
        listener: socket.socket,
        selector: selectors.BaseSelector,
    ) -> list[tuple[socket.socket, Encoded]]:
        """Accept the new connections and read the whole frames of the readable ones."""
        waiting: list[tuple[socket.socket, Encoded]] = []
        for key, _ in events:
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            if sock is listener:
                self._accept(listener, selector)
            else:
                waiting.extend(self._read(sock, selector))
        return waiting

    def _accept(self, listener: socket.socket, selector: selectors.BaseSelector) -> None:
        sock, _ = listener.accept()
        sock.settimeout(REPLY_TIMEOUT)
        self._buffers[sock] = bytearray()
        selector.register(sock, selectors.EVENT_READ)

    def _read(
        self, sock: socket.socket, selector: selectors.BaseSelector
    ) -> list[tuple[socket.socket, Encoded]]:
        """The whole frames `sock` has sent so far (a worker thread sends one at a time)."""
        try:
            size = sock.recv_into(self._received)
        except OSError:
            size = 0
        if not size:
            self._close(sock, selector)
            return []
        buffer = self._buffers[sock]
        buffer += self._received[:size]
        frames = []
        while len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            if len(buffer) < _LENGTH.size + length:
                break
            payload = bytes(buffer[_LENGTH.size : _LENGTH.size + length])
            del buffer[: _LENGTH.size + length]
            try:
                frames.append((sock, Encoded.from_wire(marshal.loads(payload))))
            except Exception:
                log.exception("Unreadable frame from a worker; closing its connection")
                self._close(sock, selector)
                return []
        return frames

    def _write(
        self, waiting: list[tuple[socket.socket, Encoded]], selector: selectors.BaseSelector
    ) -> None:
        results = self.writer.write([item for _, item in waiting])
        for (sock, _), result in zip(waiting, results, strict=True):
            if isinstance(result, Exception):
                reply: tuple[Any, ...] = ("error", f"{type(result).__name__}: {result}")
            else:
                reply = ("ok", result.reference, result.id)
            try:
                send_frame(sock, reply)
            except OSError:  # that worker thread is gone; its case is written all the same
                self._close(sock, selector)

    def _close(self, sock: socket.socket, selector: selectors.BaseSelector) -> None:
        if self._buffers.pop(sock, None) is not None:
            selector.unregister(sock)
        sock.close()
