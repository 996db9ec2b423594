"""gunicorn's threaded worker, sharing new connections out between the workers.

All workers wait on one listening socket, and whichever wakes first takes a new connection.
When clients open several keep-alive connections at once, one worker often takes most of
them (15 of 16 in our benchmark, or all 16) and keeps them: its threads share one GIL and
queue while the other worker idles. A worker whose threads all hold a connection now leaves
a new one, for `hold_off` seconds, to a worker with a free thread; if none has taken it
by then, it takes it after all: a connection waits that much longer only when every worker
is full.
"""

from __future__ import annotations

import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, but a worker with no free thread lets another take a new connection first."""

    hold_off = 0.005  # seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # While holding off: when to look at the listening socket again. After it: whether
        # this round of events may accept although every thread holds a connection.
        self._hold_until: float | None = None
        self._may_take = False

    def _full(self) -> bool:
        return bool(self.nr_conns >= self.cfg.threads)

    def accept(self, listener: Any) -> None:
        if self._full() and not self._may_take:
            self._hold_until = time.monotonic() + self.hold_off
            super().set_accept_enabled(False)  # no readable-listener events meanwhile
            return
        super().accept(listener)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn calls this on every turn of its loop while the answer differs from its
        # own rule (fewer connections than `worker_connections`): here it waits out the hold.
        if enabled and self._hold_until is not None:
            if not self._full():  # a connection closed meanwhile: a thread is free again
                self._hold_until = None
            elif time.monotonic() < self._hold_until:
                return
            else:  # nobody took it: take it on this turn
                self._hold_until = None
                self._may_take = True
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self._hold_until is not None:
            timeout = min(timeout, max(0.0, self._hold_until - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)
        self._may_take = False
