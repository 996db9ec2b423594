"""Which request threads are preparing a submission right now: the writer waits for them.

A batch costs the writer its round trips, its commit and the database's start-up of two
statements over seven tables, whatever its size; under load, submissions reach it one or two
at a time. So it holds a batch a moment longer (`writer_service.LINGER`) while a submission
is on its way, and only then: a lone client never waits.

The board is a file of `SLOTS` bytes beside the writer's socket, mapped into the workers and
into the writer. A request thread sets its own byte while it validates, prepares and encodes
a submission, and clears it when it hands the submission over (or gives up); the writer
looks for a set byte with one search of the mapping, without a system call. Each byte has
one writing thread, so no lock is needed: a worker's threads share a block of `BLOCK` bytes
chosen by its process id, and two threads that share a byte by chance only make the writer
wait less. `portal serve` clears the block of a worker that died.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import threading
from collections.abc import Iterator

SLOTS = 4096
BLOCK = 64  # bytes per worker process: one per request thread


class Board:
    """The shared bytes; `preparing()` in a request thread, `busy()` in the writer."""

    def __init__(self, path: str) -> None:
        with open(path, "r+b") as file:
            self._map = mmap.mmap(file.fileno(), SLOTS)
        self.path = path
        self._local = threading.local()
        self._numbers = itertools.count()

    @classmethod
    def create(cls, path: str) -> Board:
        """A new board, every slot clear, at `path` (readable by this user only)."""
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(bytes(SLOTS))
        return cls(path)

    @classmethod
    def open(cls, path: str) -> Board | None:
        """The board at `path`, or None if there is none (a writer started without one)."""
        try:
            return cls(path)
        except (FileNotFoundError, ValueError):
            return None

    def busy(self) -> bool:
        """Whether some request thread is preparing a submission."""
        return self._map.find(b"\x01") != -1

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Mark this thread's slot for the duration (`handed_over` may clear it earlier)."""
        slot = self._slot()
        self._map[slot] = 1
        try:
            yield
        finally:
            self._map[slot] = 0

    def handed_over(self) -> None:
        """Clear this thread's slot: its submission has reached the writer."""
        self._map[self._slot()] = 0

    def clear_block(self, pid: int) -> None:
        """Clear the slots of the worker process `pid` (it died, maybe while preparing)."""
        start = _block_of(pid)
        self._map[start : start + BLOCK] = bytes(BLOCK)

    def close(self) -> None:
        self._map.close()

    def _slot(self) -> int:
        pid = os.getpid()
        mine: tuple[int, int] | None = getattr(self._local, "slot", None)
        if mine is None or mine[0] != pid:  # first use in this thread, or a forked child
            mine = (pid, _block_of(pid) + next(self._numbers) % BLOCK)
            self._local.slot = mine
        return mine[1]


def _block_of(pid: int) -> int:
    return pid % (SLOTS // BLOCK) * BLOCK


def board_path(socket_path: str) -> str:
    """Where the board of the writer listening on `socket_path` is."""
    return socket_path + ".board"
