"""The rate-limit storage holds up under many threads (gunicorn's threaded workers)."""

from __future__ import annotations

import sys
import threading

from flask import Flask
from limits.storage import MemoryStorage

from portal.web import limiter
from portal.web.ratelimit import ThreadSafeMemoryStorage, storage_uri


def _hammer(storage: MemoryStorage) -> list[BaseException]:
    """Sixteen threads incrementing at once, switching as often as the interpreter allows."""
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def work(n: int) -> None:
        start.wait()
        try:
            for i in range(3000):
                storage.incr(f"client-{n}-{i % 7}", expiry=0.005)
        except BaseException as err:  # collected for the assertion below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_many_threads_never_break_the_storage() -> None:
    """No error in the request threads, nor in the expiry timer's (pytest reports those)."""
    assert _hammer(ThreadSafeMemoryStorage()) == []


def test_the_app_uses_it_for_memory_storage(app: Flask) -> None:
    assert storage_uri("memory://") == "portal-memory://"
    assert storage_uri("redis://localhost:6379/0") == "redis://localhost:6379/0"
    with app.app_context():
        assert isinstance(limiter.storage, ThreadSafeMemoryStorage)
