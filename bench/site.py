"""Site build of a 1,000-product catalog: the portal plugin beside plain MkDocs on the same pages.

Both builds use the same theme, plugins and navigation; the plain build reads the pages that
`portal render` wrote to disk beforehand, so the ratio is the whole cost of the catalog layer
(load, checks, archive, rendering) next to MkDocs itself. Target: a ratio of at most 1.10.
The two builds alternate for `ROUNDS` rounds (which goes first alternates too) and the report
gives medians: on a shared machine one pair of builds drifts by several percent either way.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from portal.docs.publish import plain_config, prepare, today_in
from portal.docs.render import Renderer, write_docs

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def make_catalog(root: Path, count: int = PRODUCTS) -> None:
    """`count` products made from the sample files, with unique ids and no `based_on` links."""
    samples = sorted((ROOT / "catalog" / "products").glob("*.yaml"))
    (root / "products").mkdir(parents=True)
    shutil.copy(ROOT / "catalog" / "policies.yaml", root / "policies.yaml")
    for i in range(count):
        text = samples[i % len(samples)].read_text(encoding="utf-8")
        pid = f"bench-{i:04d}"
        text = re.sub(r"(?m)^id: .*$", f"id: {pid}", text)
        text = re.sub(r"(?m)^name: (.*)$", rf"name: \1 {i:04d}", text)
        text = re.sub(r"(?m)^based_on: .*\n", "", text)
        (root / "products" / f"{pid}.yaml").write_text(text, encoding="utf-8")


def _mkdocs(config: Path, out: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one `mkdocs build` in a child process.

    CPU time is the fairer figure on a shared machine: other processes stretch wall time but
    hardly the work a build does.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = ["mkdocs", "build", "--strict", "-q", "-f", str(config), "-d", str(out)]
    subprocess.run([sys.executable, "-m", *command], check=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        work = Path(tmp)
        catalog_dir = work / "catalog"
        make_catalog(catalog_dir)
        start = time.perf_counter()
        catalog, archive = prepare(catalog_dir)  # first build: seals the current versions
        seal = time.perf_counter() - start

        start = time.process_time()
        catalog, archive = prepare(catalog_dir)
        renderer = Renderer(
            catalog,
            archive,
            templates_dir=ROOT / "templates",
            site_url="http://127.0.0.1:8000/",
            today=today_in(catalog.policy),
        )
        site = renderer.site()
        layer = time.process_time() - start
        write_docs(site, work / "docs", sources=ROOT / "site_src", expand=renderer.includes)
        plain = work / "plain.yml"
        plain.write_text(plain_config(ROOT / "mkdocs.yml", work / "docs"), encoding="utf-8")

        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PORTAL_CATALOG_DIR": str(catalog_dir)}
        runs: dict[str, list[tuple[float, float]]] = {"plugin": [], "plain": []}
        configs = {"plugin": ROOT / "mkdocs.yml", "plain": plain}
        for round_ in range(ROUNDS):
            order = ("plugin", "plain") if round_ % 2 == 0 else ("plain", "plugin")
            for name in order:
                runs[name].append(_mkdocs(configs[name], work / f"out-{name}", env))

        pages = sum(1 for _ in (work / "out-plugin").rglob("index.html"))
        same = pages == sum(1 for _ in (work / "out-plain").rglob("index.html"))
        count = len(catalog.products)
        print(f"catalog: {count} products, {pages} pages ({len(site.pages)} generated)")
        print(f"first check, sealing {count} current versions: {seal:.2f} s")
        print(f"catalog layer alone (load, archive check, render): CPU {layer:.2f} s")
        print(f"{ROUNDS} interleaved rounds; medians:")
        median = {
            name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
            for name, r in runs.items()
        }
        for name, label in (("plugin", "with the plugin"), ("plain", "of rendered pages")):
            wall, cpu = median[name]
            print(
                f"mkdocs build {label:17} wall {wall:7.2f} s ({pages / wall:5.1f} pages/s), "
                f"CPU {cpu:7.2f} s ({pages / cpu:5.1f} pages/s)"
            )
        wall_ratios = [a[0] / b[0] for a, b in zip(runs["plugin"], runs["plain"], strict=True)]
        cpu_ratios = [a[1] / b[1] for a, b in zip(runs["plugin"], runs["plain"], strict=True)]
        print("per-round ratio plugin / plain, CPU: " + ", ".join(f"{r:.3f}" for r in cpu_ratios))
        print("per-round ratio plugin / plain, wall: " + ", ".join(f"{r:.3f}" for r in wall_ratios))
        print(
            f"median ratio plugin / plain: CPU {statistics.median(cpu_ratios):.3f}, "
            f"wall {statistics.median(wall_ratios):.3f} (target <= 1.10); same pages: {same}"
        )
        # The layer's own CPU time beside the plain build is the steadier measure of its cost.
        print(f"catalog layer CPU / plain build CPU: {layer / median['plain'][1]:.3f}")
