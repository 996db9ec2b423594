"""The edit loop at 1,000 products: save to served page, `portal preview` beside `mkdocs serve`.

Each server gets its own copy of the same generated catalog (`bench/catalog.py`, sealed first),
then `EDITS` edits of one product, each with its change entry, written atomically (a temporary
file renamed over the product file, as editors save). The time runs from the rename to the
first answer of the product's page that shows the edit. For the preview it also gives when
the lists (the changes page) show it, since it renders the product's own pages first. Target:
a median of at most 2 s for `portal preview`.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.catalog import make_catalog
from portal.catalog import load_catalog
from portal.catalog.published import load_archive

ROOT = Path(__file__).resolve().parent.parent
EDITS = 5
TARGET = 2.0
START = 600.0  # seconds allowed for a first full build
SHOW = 300.0  # seconds allowed for one edit to show


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return str(answer.read().decode("utf-8"))
    except (urllib.error.URLError, ConnectionError):
        return ""


def _until(url: str, text: str, limit: float) -> float:
    """Seconds (perf_counter) at which `url` first answers with `text` in it."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        if text in _get(url):
            return time.perf_counter()
        time.sleep(0.02)
    raise SystemExit(f"{url} did not show {text!r} within {limit:.0f} s")


class _Output:
    """A child's output, read in a thread, so it never blocks and we know when it went quiet."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.last = time.monotonic()
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip())
            self.last = time.monotonic()

    def quiet(self, seconds: float) -> None:
        while time.monotonic() - self.last < seconds:
            time.sleep(0.1)


def _save(path: Path, edit: int) -> float:
    """Edit one text and add its change entry; returns when the file was renamed into place."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(    intended_uses: ).*$", rf"\g<1>Preview edit {edit}.", text, count=1)
    versions = [int(v) for v in re.findall(r"(?m)^    version: (\d+)$", text)]
    text += (
        f"  - date: 2026-06-01\n    version: {max(versions) + 1}\n"
        f"    summary: Bench edit {edit}.\n    substantial: false\n"
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return time.perf_counter()


def _loop(
    name: str, command: list[str], catalog_dir: Path, product: str
) -> list[tuple[float, float]]:
    """Start a server, wait for its first build, then time `EDITS` edits: (page, lists) each."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PORTAL_CATALOG_DIR": str(catalog_dir)}
    process = subprocess.Popen(
        [part.format(port=port) for part in command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(process)
    times = []
    try:
        start = time.perf_counter()
        page = f"{base}products/{product}/"
        _until(page, "<article", START)  # the product's page, not the preview's placeholder
        output.quiet(2.0)
        print(f"{name}: first build served after {time.perf_counter() - start:.1f} s")
        for edit in range(1, EDITS + 1):
            saved = _save(catalog_dir / "products" / f"{product}.yaml", edit)
            shown = _until(page, f"Preview edit {edit}.", SHOW)
            listed = _until(f"{base}changes/", f"Bench edit {edit}.", SHOW)
            times.append((shown - saved, listed - saved))
            print(f"  edit {edit}: page {shown - saved:6.2f} s, lists {listed - saved:6.2f} s")
            output.quiet(2.0)  # a rebuild the server started by itself (sealing) is over
    finally:
        process.terminate()
        process.wait(timeout=30)
    if process.returncode not in (0, -15):
        print("\n".join(output.lines[-30:]))
    return times


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
        work = Path(tmp)
        dirs = {}
        for name in ("preview", "serve"):
            dirs[name] = work / name / "catalog"
            paths = make_catalog(dirs[name])
            load_archive(load_catalog(dirs[name]))  # sealed, as a published catalog is
        product = next(p.stem for p in paths[len(paths) // 2 :] if "chat" in p.stem)
        print(f"catalog: {len(paths)} products; edited: {product}")
        preview = _loop(
            "portal preview",
            [str(Path(sys.executable).with_name("portal")), "preview", "--port", "{port}"],
            dirs["preview"],
            product,
        )
        serve = _loop(
            "mkdocs serve",
            [sys.executable, "-m", "mkdocs", "serve", "-a", "127.0.0.1:{port}"],
            dirs["serve"],
            product,
        )
    print(f"{'edit':>4}  {'portal preview':>14}  {'(lists)':>8}  {'mkdocs serve':>12}")
    for i, ((page, lists), (other, _)) in enumerate(zip(preview, serve, strict=True), 1):
        print(f"{i:>4}  {page:12.2f} s  {lists:6.2f} s  {other:10.2f} s")
    median = statistics.median(p for p, _ in preview)
    lists = statistics.median(x for _, x in preview)
    other = statistics.median(p for p, _ in serve)
    verdict = "meets" if median <= TARGET else "MISSES"
    print(f"median  {median:12.2f} s  {lists:6.2f} s  {other:10.2f} s")
    print(
        f"portal preview median, save to page: {median:.2f} s ({verdict} {TARGET:.0f} s); "
        f"mkdocs serve / portal preview: {other / median:.1f}x"
    )
