"""`python -m bench`: its command line, and how the intake benchmark judges its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_names_every_benchmark() -> None:
    done = _bench("--help")
    assert done.returncode == 0
    assert "among catalog, dashboard, intake, preview, site" in done.stdout


def test_an_unknown_name_is_a_plain_error_and_runs_nothing() -> None:
    done = _bench("catalog", "nope")
    assert done.returncode == 2
    assert (
        "no benchmark called nope; there are catalog, dashboard, intake, preview, site"
        in done.stderr
    )
    assert "==" not in done.stdout  # not even the known one


INTAKE_REPORT = """
from bench.intake import Line, _report

def line(name, requests, p99_ms):
    made = Line(name, 0, "/", post=False, requests=requests, seconds=1.0)
    made.rounds.append((requests, [(50.0, p99_ms / 2e3), (99.0, p99_ms / 1e3), (100.0, 0.2)]))
    return made

_report([line("trivial endpoint", 3000, 10), line("bare durable insert", 900, 30),
         line("bare insert (gthread)", 1000, 30), line("incident submission", 690, 49)])
"""


def test_the_intake_ratio_is_taken_against_the_faster_floor() -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTAKE_REPORT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (
        "submission / bare insert:     0.69 (MISSES 0.7; against the faster:"
        " bare insert (gthread))" in done.stdout
    )
    assert "submission p99:               49.0 ms (meets 50 ms)" in done.stdout
