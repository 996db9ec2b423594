"""Rate-limit counters shared by the worker processes of one server (`portal-shared://PATH`).

`memory://` counts in each process: under `portal serve`'s two workers a client whose
connections land on both could send twice its limit. `portal serve` gives its workers this
storage instead: fixed-window counters in a file of its private folder, mapped into every
worker. Each counter is a slot (the key's 64-bit BLAKE2 hash, the window's end, the count),
found by probing a few slots from the hash. Every access holds an `fcntl` lock on the file,
which the kernel releases if a worker dies holding it, and a lock of the process for its
threads (`fcntl` locks belong to processes). If every probed slot holds another live key,
the key shares the first one: both clients are then limited sooner, never later.

A hit is followed by the reads of the limit's headers (`get`, then `get_expiry`). Those
answer from the thread's own hit, without the lock: two system calls fewer per read. They
give the count as this request left it.

Only the fixed-window strategy, Flask-Limiter's default, is supported.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from limits.storage import Storage

SCHEME = "portal-shared"
_SLOT = struct.Struct("<Qdq")  # key hash (0: never used), end of window (epoch s), count
SLOTS = 16384
PROBES = 8
SIZE = SLOTS * _SLOT.size


def uri_for(path: str) -> str:
    """The storage URI of the counters file at `path`."""
    return f"{SCHEME}://{path}"


class SharedFileStorage(Storage):
    """Fixed-window counters in a file mapped into every process that opens it."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = urlparse(uri or "").path
        if not path:
            raise ValueError(f"{SCHEME}:// needs the path of a file, as {SCHEME}:///run/limits")
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < SIZE:  # new: zeros, every slot unused
            os.ftruncate(self._fd, SIZE)
        self._map = mmap.mmap(self._fd, SIZE)
        self._lock = threading.Lock()
        self._local = threading.local()  # `hit`: this thread's last (key, end, count)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return OSError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        digest = _hash(key)
        with self._locked():
            now = time.time()
            offset = self._slot(digest, now)
            held, end, count = _SLOT.unpack_from(self._map, offset)
            if end > now:  # this key's window, or a live one it shares when all are taken
                count += amount
            else:
                held, end, count = digest, now + expiry, amount
            _SLOT.pack_into(self._map, offset, held, end, count)
        self._local.hit = (key, end, count)
        return int(count)

    def get(self, key: str) -> int:
        own = self._own_hit(key)
        if own is not None:
            return int(own[2])
        with self._locked():
            now = time.time()
            _, end, count = _SLOT.unpack_from(self._map, self._slot(_hash(key), now))
            return int(count) if end > now else 0

    def get_expiry(self, key: str) -> float:
        own = self._own_hit(key)
        self._local.hit = None  # the headers' last read
        if own is not None:
            return float(own[1])
        with self._locked():
            now = time.time()
            _, end, _ = _SLOT.unpack_from(self._map, self._slot(_hash(key), now))
            return float(end) if end > now else now

    def check(self) -> bool:
        return not self._map.closed

    def reset(self) -> int | None:
        with self._locked():
            now = time.time()
            live = sum(
                1
                for offset in range(0, SIZE, _SLOT.size)
                if _SLOT.unpack_from(self._map, offset)[1] > now
            )
            self._map[:] = bytes(SIZE)
        self._local.hit = None
        return live

    def clear(self, key: str) -> None:
        self._local.hit = None
        digest = _hash(key)
        with self._locked():
            offset = self._slot(digest, time.time())
            if _SLOT.unpack_from(self._map, offset)[0] == digest:
                _SLOT.pack_into(self._map, offset, 0, 0.0, 0)

    def _own_hit(self, key: str) -> tuple[str, float, int] | None:
        """This thread's last hit, if it was of `key` and its window is not over."""
        hit: tuple[str, float, int] | None = getattr(self._local, "hit", None)
        if hit is not None and hit[0] == key and time.time() < hit[1]:
            return hit
        return None

    def _slot(self, digest: int, now: float) -> int:
        """The offset of `digest`'s slot: its own if it has one among the probed slots, else
        the first free one (never used, or its window over), else the first (shared)."""
        home = digest % SLOTS
        free = None
        for step in range(PROBES):
            offset = (home + step) % SLOTS * _SLOT.size
            held, end, _ = _SLOT.unpack_from(self._map, offset)
            if held == digest:
                return offset
            if free is None and (held == 0 or end <= now):
                free = offset
        return free if free is not None else home * _SLOT.size

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)


def _hash(key: str) -> int:
    """A hash every process computes alike (`hash()` is salted per process); never 0."""
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return value or 1
