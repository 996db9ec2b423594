"""Catalog check: `portal check` on 1,000 generated products beside a bare YAML load of them."""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import CliRunner

from portal.cli import cli

SAMPLE = Path(__file__).parent.parent / "catalog"
COUNT = 1_000
ROUNDS = 5


def make_catalog(root: Path, count: int = COUNT) -> list[Path]:
    """Copies of the sample products under new ids, `count` files in all, plus the policy."""
    products = root / "products"
    products.mkdir(parents=True)
    shutil.copy(SAMPLE / "policies.yaml", root / "policies.yaml")
    sources = sorted((SAMPLE / "products").glob("*.yaml"))
    texts = {p.stem: p.read_text() for p in sources}
    paths = []
    for i in range(count):
        source = sources[i % len(sources)]
        # One round copies every sample product under the same suffix, so links stay valid.
        suffix = f"-{i // len(sources):03d}"
        text = texts[source.stem]
        for other in sorted(texts, key=len, reverse=True):
            text = re.sub(rf"(?<![\w-]){re.escape(other)}(?![\w-])", other + suffix, text)
        path = products / f"{source.stem}{suffix}.yaml"
        path.write_text(text)
        paths.append(path)
    return paths


def _best(fn: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        paths = make_catalog(root)

        def check() -> None:
            result = CliRunner().invoke(cli, ["check", "-q", str(root)])
            if result.exit_code != 0:
                raise SystemExit(f"portal check failed:\n{result.output[:2000]}")

        def bare_load() -> None:
            for path in paths:
                yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

        check()  # warm up imports and the file cache
        bare_load()
        bare_best, bare_median = _best(bare_load)
        check_best, check_median = _best(check)
    print(f"files: {COUNT} products, best and median of {ROUNDS} rounds")
    print(f"bare yaml.load (CSafeLoader): best {bare_best:.3f} s, median {bare_median:.3f} s")
    print(f"portal check               : best {check_best:.3f} s, median {check_median:.3f} s")
    print(f"per file: {check_best / COUNT * 1e3:.2f} ms vs {bare_best / COUNT * 1e3:.2f} ms")
    ratio = check_best / bare_best
    print(f"ratio portal check / bare load: {ratio:.2f} (target: at most 3)")
