"""Watch the preview's files with `watchdog` (which MkDocs' own `serve` uses too).

Events arrive in bursts: an editor's atomic save is a temporary file written and renamed, and
`portal build` seals several snapshots at once. The watcher waits until the files have been
quiet for `QUIET` seconds, then hands the whole burst over in one call, from its own thread.
Hidden files and editors' backups are ignored, so a temporary file alone builds nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)

QUIET = 0.05  # seconds without an event that end a burst


class Watcher(FileSystemEventHandler):
    """Calls `on_change(paths)` after each burst of changes under `paths`."""

    def __init__(self, paths: Iterable[Path], on_change: Callable[[set[Path]], None]) -> None:
        self.paths = [p.absolute() for p in paths]
        self._dirs = [p for p in self.paths if p.is_dir()]
        self._files = {p for p in self.paths if not p.is_dir()}
        self.on_change = on_change
        self._events: queue.Queue[Path | None] = queue.Queue()
        self._observer = Observer()
        self._thread = threading.Thread(target=self._run, name="preview-watcher", daemon=True)

    def start(self) -> None:
        # A single file (mkdocs.yml) is watched through its folder, then filtered.
        for folder in self._dirs:
            self._observer.schedule(self, str(folder), recursive=True)
        for file in self._files:
            self._observer.schedule(self, str(file.parent), recursive=False)
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join()
        self._events.put(None)
        self._thread.join()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in {"opened", "closed_no_write"} or event.is_directory:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = Path(str(raw))
                if self._wanted(path):
                    self._events.put(path)

    def _wanted(self, path: Path) -> bool:
        name = path.name
        if name.startswith((".", "#")) or name.endswith(("~", ".swp", ".tmp")):
            return False
        return path in self._files or any(path.is_relative_to(d) for d in self._dirs)

    def _run(self) -> None:
        while True:
            first = self._events.get()
            if first is None:
                return
            burst = {first}
            while True:
                try:
                    more = self._events.get(timeout=QUIET)
                except queue.Empty:
                    break
                if more is None:
                    return
                burst.add(more)
            try:
                self.on_change(burst)
            except Exception:  # the watcher must outlive one bad build; the log says why
                log.exception("The preview could not take in %s", sorted(map(str, burst)))
