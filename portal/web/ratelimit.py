"""Rate-limit storage settings, with Flask-Limiter's own storages.

`memory://` counts in each process: exact under `portal serve`'s default of one worker
process, wrong with several (`counts_in_each_process`). Several workers or several servers
share a Redis server (`RATELIMIT_STORAGE_URI=redis://HOST:PORT/N`).
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Response
from limits.storage import MemoryStorage

SCHEME = "portal-memory"


class LockedMemoryStorage(MemoryStorage):
    """`memory://`, with its expiry timer restarted under a lock.

    limits 5.8's `MemoryStorage` restarts its timer from whichever request thread finds it
    stopped, without a lock: two threads can race, and one then fails with "threads can
    only be started once", which Flask-Limiter turns into a 500. Fixed upstream by
    "Make memory storage threadsafe" (alisaifee/limits#352), not yet released; remove this
    class once a release has it (`tests/web/test_ratelimit.py` fails then).
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        self._restart_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802  (the name it calls)
        with self._restart_lock:
            if not self.timer.is_alive():
                self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
                self.timer.start()


def storage_uri(configured: str) -> str:
    """The storage URI to give Flask-Limiter: the locked memory storage for `memory://`."""
    if configured.startswith("memory://"):
        return SCHEME + configured.removeprefix("memory")
    return configured


def counts_in_each_process(configured: str) -> bool:
    """Whether a storage URI counts in each process, so that several workers would each let
    a client through up to the whole limit."""
    return configured.startswith(("memory://", SCHEME + "://"))


def retry_after_on_refusals_only(response: Response) -> Response:
    """Flask-Limiter sends `Retry-After` with every answer under a limit; a receipt (201)
    should not tell its client when to try again. Registered before the limiter, so it runs
    after the limiter's own hook."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response
