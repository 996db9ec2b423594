"""Rate-limit storage: Flask-Limiter's own, with one small fix to `limits`' memory storage
until its release carries it."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask
from limits.storage import MemoryStorage
from support import incident_body, make_test_app

from portal.web.extensions import limiter
from portal.web.ratelimit import LockedMemoryStorage, counts_in_each_process


def test_the_upstream_fix_is_not_released_yet() -> None:
    """Fails once `limits` ships alisaifee/limits#352 (its memory storage gets a timer lock):
    then delete `LockedMemoryStorage` and this test."""
    storage = MemoryStorage()
    assert not hasattr(storage, "_timer_lock")


def test_the_app_counts_in_the_locked_storage(app: Flask) -> None:
    with app.app_context():
        assert isinstance(limiter.storage, LockedMemoryStorage)
    assert counts_in_each_process(app.config["RATELIMIT_STORAGE_URI"])
    assert not counts_in_each_process("redis://127.0.0.1:6379/0")


def test_many_threads_never_break_the_storage() -> None:
    storage = LockedMemoryStorage()
    failures: list[BaseException] = []

    def hit() -> None:
        try:
            for n in range(300):
                storage.incr(f"key-{n % 7}", 0.001)
        except BaseException as error:  # the race raised RuntimeError in a request thread
            failures.append(error)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_retry_after_on_refusals_only(sqlite_url: str, tmp_path: Path) -> None:
    app = make_test_app(sqlite_url, tmp_path, SUBMISSION_RATE_LIMIT="1 per minute")
    client = app.test_client()
    first = client.post("/api/v1/incidents", json=incident_body())
    second = client.post("/api/v1/incidents", json=incident_body())
    assert first.status_code == 201
    assert "Retry-After" not in first.headers
    assert first.headers["X-RateLimit-Limit"] == "1"
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) > 0
