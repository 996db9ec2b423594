"""Rate-limit storage that is safe under gunicorn's threaded workers.

`limits`' in-memory storage restarts its expiry timer from whichever request thread notices
it stopped, without a lock: two threads can race, and one of them then fails with
"threads can only be started once", which Flask-Limiter turns into a 500. Its timer also
reads keys that a request thread may remove at the same moment (KeyError in the timer
thread). This subclass restarts the timer under a lock and expires keys tolerantly.
`create_app` uses it for `memory://` (our default); deployments with several app servers set
`RATELIMIT_STORAGE_URI` to a shared store.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any

from limits.storage import MemoryStorage

SCHEME = "portal-memory"


class ThreadSafeMemoryStorage(MemoryStorage):
    """`memory://`, with the expiry timer restarted under a lock."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        self._timer_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    # The names MemoryStorage's own methods call (Python mangles `__schedule_expiry`).
    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802
        with self._timer_lock:
            if not self.timer.is_alive():
                self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)
                self.timer.start()

    def _MemoryStorage__expire_events(self) -> None:  # noqa: N802
        now = time.time()
        for key in list(self.events):
            with self.locks[key]:
                events = self.events.get(key)
                if events:
                    oldest = bisect.bisect_left(events, -now, key=lambda event: -event.expiry)
                    self.events[key] = events[:oldest]
                if not self.events.get(key):
                    self.locks.pop(key, None)
        for key in list(self.expirations):
            expiry = self.expirations.get(key)
            if expiry is not None and expiry <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)


def storage_uri(configured: str) -> str:
    """The storage URI to give Flask-Limiter: ours in place of `memory://`."""
    if configured.startswith("memory://"):
        return SCHEME + configured.removeprefix("memory")
    return configured
