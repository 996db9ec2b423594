"""The rate-limit storage holds up under many threads (gunicorn's threaded workers), and the
limiter works on the POSTs it limits only."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage
from support import make_test_app, request_body

from portal.web import context, limiter
from portal.web.ratelimit import PortalLimiter, ThreadSafeMemoryStorage, storage_uri


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


def test_expired_keys_are_swept_without_a_thread() -> None:
    storage = ThreadSafeMemoryStorage()
    storage.incr("gone", expiry=0.001)
    timer = storage.timer  # MemoryStorage's own, started once when it is created
    storage._next_sweep = 0.0  # due now
    time.sleep(0.01)
    storage.incr("kept", expiry=60)
    assert "gone" not in storage.storage and storage.storage["kept"] == 1
    assert storage.timer is timer


def test_gets_are_not_limited_and_posts_carry_the_headers(sqlite_url: str, tmp_path: Path) -> None:
    app = make_test_app(sqlite_url, tmp_path, SUBMISSION_RATE_LIMIT="2 per minute")
    client = app.test_client()
    for _ in range(3):
        page = client.get("/report-incident")
        assert page.status_code == 200 and "X-RateLimit-Limit" not in page.headers
        assert "X-RateLimit-Limit" not in client.get("/api/v1/health").headers
    first = client.post("/api/v1/information-requests", json=request_body())
    assert first.status_code == 201
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert "Retry-After" not in first.headers  # a receipt: nothing to retry
    assert client.post("/api/v1/information-requests", json=request_body()).status_code == 201
    limited = client.post("/api/v1/information-requests", json=request_body())
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert client.get("/api/v1/health").status_code == 200
    app.extensions[context.ENGINE].dispose()


def test_a_limit_is_for_posts_only() -> None:
    with pytest.raises(ValueError):
        limiter.limit("1 per minute", methods=["GET"])
    with pytest.raises(ValueError):
        limiter.limit("1 per minute", methods=[])


def test_exemptions_hold_once_remembered() -> None:
    """A view's exemptions are worked out once per app: a second request must find them."""
    own = PortalLimiter(get_remote_address, default_limits=["1 per hour"])
    app = Flask(__name__)
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri("memory://")

    @app.get("/free")
    @own.exempt
    def free() -> str:
        return "free"

    @app.get("/counted")
    def counted() -> str:
        return "counted"

    own.init_app(app)
    client = app.test_client()
    assert [client.get("/free").status_code for _ in range(3)] == [200, 200, 200]
    assert [client.get("/counted").status_code for _ in range(2)] == [200, 429]
