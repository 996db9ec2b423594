"""A helper process that runs beside the server: started before it, restarted if it dies,
stopped with it.

`portal serve` runs two this way. The intake writer (`portal.cases.writer_service`) writes
every worker's submissions. The mail sender runs at a lower CPU priority, so that sending
mail never competes with the request threads for a worker's GIL, and under a burst of
submissions answers come first and mail follows. A thread of the serving process watches
each child; if one exits while the server runs, it is started again after a pause that grows
from 1 s to a minute.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0


class Sidecar:
    """`command` kept running in a child process between `start` and `stop`."""

    def __init__(self, name: str, command: Sequence[str]) -> None:
        self.name = name
        self.command = list(command)
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command)
        self._watcher = threading.Thread(target=self._watch, name=self.name, daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to finish (SIGTERM), then kill it if it has not within `timeout`."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(CHECK_EVERY * 2)
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def _watch(self) -> None:
        pause = FIRST_PAUSE
        started = time.monotonic()
        while not self._stopping.wait(CHECK_EVERY):
            process = self.process
            # gunicorn's master reaps every child it sees exit; `poll` then reads 0.
            if process is None or process.poll() is None:
                continue
            if time.monotonic() - started > LONGEST_PAUSE:
                pause = FIRST_PAUSE  # it had been running well: not a crash loop
            log.warning(
                "The %s stopped (exit status %s); starting it again in %.0f s",
                self.name,
                process.returncode,
                pause,
            )
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, LONGEST_PAUSE)
            self.process = subprocess.Popen(self.command)
            started = time.monotonic()
