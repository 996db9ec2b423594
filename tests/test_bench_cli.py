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


INTAKE_JUDGEMENT = """
import bench.intake as intake
from bench.intake import Result, highest_rate, verdict

fast = Result(100, 100, sent=100, latencies=[0.010] * 99 + [0.100])
print(fast.percentile(50), fast.percentile(99), fast.percentile(100))
print(verdict(fast))
print(verdict(Result(100, 100, sent=100, latencies=[0.010] * 98 + [0.1234] * 2)))
print(verdict(Result(100, 100, sent=100, latencies=[0.010] * 99, failed=1)))

def load(port, path, rate, seconds, tag, give_up):  # the server keeps up to 300/s
    assert give_up
    return Result(rate, rate, sent=rate, latencies=[0.010 if rate <= 300 else 0.200] * rate)

intake.load = load
print("highest", highest_rate("portal", 0, "/"))
"""


def test_the_intake_bench_judges_p99_errors_and_the_highest_rate() -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTAKE_JUDGEMENT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "10.0 10.0 100.0"  # nearest rank: p99 of 100 answers is the 99th
    assert lines[1] == ("target at 100/s, p99 <= 100 ms and 0 errors: met (p99 10.0 ms, 0 errors)")
    assert lines[2].endswith(": missed by 23.4 ms (p99 123.4 ms, 0 errors)")
    assert lines[3].endswith(": missed: 1 errors (p99 10.0 ms, 1 errors)")
    # 20, 50, 100, 200 met; 400 missed; then 300 met, 350 and 325 missed.
    steps = [line.split()[0] for line in lines if line.split()[-1] in ("met", "missed")]
    assert steps == ["20", "50", "100", "200", "400", "300", "350", "325"]
    assert lines[-1] == "highest 300"
