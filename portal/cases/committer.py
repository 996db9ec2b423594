"""Group commit: submissions arriving together share one transaction and one durable commit.

A durable commit (an fsync of the WAL) is the dearest step of a submission, so each app
process has one committer thread. Request threads hand it their encoded item and wait; it
takes everything queued, writes the whole batch with one call of `write_batch` (a fixed
handful of statements, however many items), commits once, and only then wakes the waiting
threads with their results: nobody gets a receipt before the commit that holds their case.
If a batch fails, each of its items is retried alone, so one bad item cannot sink the
others. When requests come one at a time a batch is a single item, and nothing waits longer
than it would alone.

The thread keeps one database connection open, so a batch costs no pool checkout (nor, on
PostgreSQL, its liveness ping); after an error the connection is dropped and the next
batch opens a new one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy import Connection

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_BATCH = 64


class BatchWriter(Generic[Item, Result]):
    """Writes batches, each in one transaction over one kept connection; a batch that fails
    is written again item by item, so one bad item cannot sink the others."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        write_batch: Callable[[Connection, list[Item]], list[Result]],
    ) -> None:
        self._connect = connect
        self._write_batch = write_batch
        self._connection: Connection | None = None

    def write(self, items: list[Item]) -> list[Result | Exception]:
        """Each item's result once committed, or the error that kept it out."""
        try:
            return list(self._write(items))
        except Exception as error:
            if len(items) == 1:
                return [error]
            log.warning("A batch of %d failed; writing each alone", len(items))
        results: list[Result | Exception] = []
        for item in items:
            try:
                results.append(self._write([item])[0])
            except Exception as error:
                results.append(error)
        return results

    def forget_connection(self) -> None:
        """Drop the kept connection without closing it (it belongs to the process before a fork)."""
        self._connection = None

    def _write(self, items: list[Item]) -> list[Result]:
        if self._connection is None:
            self._connection = self._connect()
        connection = self._connection
        try:
            with connection.begin():  # commits on leaving, or rolls back on an error
                return self._write_batch(connection, items)
        except Exception:
            self._connection = None
            try:
                connection.close()
            except Exception:  # already broken: nothing more to give back
                log.debug("Closing a failed connection", exc_info=True)
            raise


class GroupCommitter(Generic[Item, Result]):
    """Write items in shared transactions; `run(item)` returns its result after the commit."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        write_batch: Callable[[Connection, list[Item]], list[Result]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._writer: BatchWriter[Item, Result] = BatchWriter(connect, write_batch)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, item: Item, timeout: float = 60.0) -> Result:
        """Queue `item`, wait until the transaction holding it is committed, return its result."""
        self._ensure_thread()
        future: Future[Result] = Future()
        self._queue.put((item, future))
        return future.result(timeout)

    def _ensure_thread(self) -> None:
        # Started on first use, so that it exists in each forked worker, not in the master.
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._writer.forget_connection()
                self._thread = threading.Thread(
                    target=self._loop, name="portal-group-commit", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self._writer.write([item for item, _ in batch])
                for (_, future), result in zip(batch, results, strict=True):
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
            except Exception:  # the edge of a thread: it must outlive any one batch
                log.exception("Group commit thread error")
