"""Intake as users feel it: open-loop latency at fixed rates, and the highest rate within 100 ms.

On SQLite and on a throwaway PostgreSQL (when installed), `portal serve` (its defaults: gunicorn,
1 worker of 8 threads) and the bare durable-insert app (`bench/_floor.py`, same gunicorn set-up)
take POSTs sent on a fixed schedule that never waits for earlier answers: a scheduler thread
hands each send to one of 32 sender threads, each with its own keep-alive connection. A latency
runs from the scheduled send time to the end of the answer, so waiting on either side (a busy
server, or all senders busy) counts. Every POST is a new, valid incident notice; any answer
other than 2xx and any connection error count as errors.
The portal is measured for 20 s at each of 20, 50 and 100 submissions/s (p50, p95, p99, errors);
then, for both apps, the highest rate whose p99 stays under 100 ms without errors, in 5 s steps
(20, 50, 100, then doubling, then bisecting; a step stops once sure to miss); their ratio is
for information only.
Target: at 100 submissions/s, p99 <= 100 ms and no errors, on both databases.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portal.testing import free_port, postgres_bin, start_postgres, stop_process_group

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WORKERS, THREADS = 1, 8  # `portal serve`'s defaults, for both apps
SENDERS = 32
RATES = (20, 50, 100)  # submissions/s
SECONDS = 20.0  # at each of RATES
STEP_SECONDS = 5.0  # each step of the search for the highest rate
BISECTIONS = 3
MAX_RATE = 12800
LIMIT_MS = 100.0  # p99 under this, in the search
TARGET_RATE = 100  # the target: p99 <= LIMIT_MS and no errors at this rate
LATE = 0.050  # a send starting later than this after its schedule is counted as late
IDLE = 1.0  # seconds: reconnect first, as gunicorn closes keep-alive connections idle 2 s
HEADERS = {"Content-Type": "application/json"}

DESCRIPTION = "The model's output stopped a water plant's dosing controller. " * 3
BODY_TEMPLATE = json.dumps(
    {
        "product": "lumen-large-3",
        "product_version": "26.02",
        "category": "critical-infrastructure",
        "aware_at": "@AWARE@",
        "description": "Notice @TAG@-@NUMBER@. " + DESCRIPTION,
        "harm": "Drinking water supply interrupted for four hours.",
        "affected_persons": 1200,
        "member_states": ["FR", "BE"],
        "reporter": {
            "organisation": "Acme Water",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "capacity": "deployer",
        },
    }
)


def body(tag: str, number: int) -> bytes:
    """A new incident notice, aware ten minutes ago; every body has the same size."""
    aware = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    text = BODY_TEMPLATE.replace("@AWARE@", aware).replace("@TAG@", tag)
    return text.replace("@NUMBER@", f"{number:08d}").encode()


@dataclass
class Result:
    """One run at one rate."""

    rate: int
    planned: int
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, of every answer
    non2xx: int = 0
    failed: int = 0  # connection errors
    late: int = 0  # sends started more than LATE after their schedule
    slow: int = 0  # answers at or over LIMIT_MS

    @property
    def errors(self) -> int:
        return self.non2xx + self.failed

    def percentile(self, q: float) -> float:
        """The q-th percentile latency in ms (nearest rank), NaN without answers."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1e3

    @property
    def met(self) -> bool:
        return self.errors == 0 and self.percentile(99) < LIMIT_MS


def load(port: int, path: str, rate: int, seconds: float, tag: str, give_up: bool) -> Result:
    """Send `rate` POSTs a second for `seconds`, on schedule. With `give_up`, stop sending
    once the p99 is sure to reach LIMIT_MS (over 1 % of the planned sends slow) or on an error."""
    result = Result(rate, max(1, round(rate * seconds)))
    lock = threading.Lock()
    Job = tuple[int, float] | None  # (number, scheduled time), or None: stop
    idle: queue.LifoQueue[queue.SimpleQueue[Job]] = queue.LifoQueue()  # warm connections first

    def sender() -> None:
        jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        connection: http.client.HTTPConnection | None = None
        last = 0.0
        idle.put(jobs)
        while (job := jobs.get()) is not None:
            number, scheduled = job
            payload = body(tag, number)
            start = time.monotonic()
            if connection is not None and start - last > IDLE:
                connection.close()
                connection = None
            status = 0
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(HOST, port, timeout=30)
                connection.request("POST", path, body=payload, headers=HEADERS)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
            last = time.monotonic()
            with lock:
                if status:
                    result.latencies.append(last - scheduled)
                    result.non2xx += not 200 <= status < 300
                    result.slow += (last - scheduled) * 1e3 >= LIMIT_MS
                else:
                    result.failed += 1
                result.late += start - scheduled > LATE
            idle.put(jobs)
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    begin = time.monotonic() + 0.1
    for number in range(result.planned):
        scheduled = begin + number / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if give_up and (result.errors or result.slow * 100 > result.planned):
            break
        idle.get().put((number, scheduled))  # blocks while every sender is busy
        result.sent += 1
    for _ in threads:
        idle.get().put(None)
    for thread in threads:
        thread.join()
    return result


def verdict(result: Result) -> str:
    """The target line: at TARGET_RATE, p99 <= LIMIT_MS and no errors."""
    p99 = result.percentile(99)
    over = p99 - LIMIT_MS
    if result.errors:
        said = f"missed: {result.errors} errors" + (
            f", p99 over by {over:.1f} ms" if over > 0 else ""
        )
    else:
        said = f"missed by {over:.1f} ms" if not p99 <= LIMIT_MS else "met"
    return (
        f"target at {result.rate}/s, p99 <= {LIMIT_MS:.0f} ms and 0 errors: {said}"
        f" (p99 {p99:.1f} ms, {result.errors} errors)"
    )


HEADER = f"{'rate/s':>8}{'sent':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
HEADER += f"{'conn err':>10}{'late':>6}"


def row(result: Result, note: str = "") -> str:
    p50, p95, p99 = (result.percentile(q) for q in (50, 95, 99))
    return (
        f"{result.rate:8d}{result.sent:7d}{p50:9.1f}{p95:9.1f}{p99:9.1f}{result.non2xx:9d}"
        f"{result.failed:10d}{result.late:6d}  {note}"
    ).rstrip()


def highest_rate(name: str, port: int, path: str) -> int:
    """The highest rate met (p99 under LIMIT_MS, no errors) in STEP_SECONDS steps: RATES,
    then doubling until one is missed, then BISECTIONS halvings of the interval."""
    print(f"{name}, {STEP_SECONDS:.0f} s steps:")
    print(HEADER)

    def step(rate: int) -> bool:
        result = load(port, path, rate, STEP_SECONDS, f"{name[0]}{rate:05d}", give_up=True)
        stopped = f", stopped after {result.sent}" if result.sent < result.planned else ""
        print(row(result, ("met" if result.met else "missed") + stopped))
        return result.met

    met, missed = 0, 0
    rates = list(RATES)
    while rates or (not missed and met < MAX_RATE):
        rate = rates.pop(0) if rates else met * 2
        if step(rate):
            met = rate
        else:
            missed = rate
            break
    for _ in range(BISECTIONS if missed else 0):
        rate = (met + missed) // 2
        if rate in (met, missed):
            break
        if step(rate):
            met = rate
        else:
            missed = rate
    return met


def _wait_ready(port: int, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def _start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def measure(database: str, url: str, workdir: Path) -> None:
    """Both apps on one database: the portal at RATES, then both apps' highest rate."""
    from sqlalchemy import text

    from bench._floor import metadata
    from portal.cases.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)  # as `portal db upgrade`
    metadata.create_all(engine)
    engine.dispose()
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_CATALOG_DIR": str(ROOT / "catalog"),
        "PORTAL_SITE_DIR": str(workdir / "site"),
        "PORTAL_SIGNING_KEY_FILE": str(workdir / "signing-key.pem"),
        "PORTAL_DATA_KEY_FILE": str(workdir / "data-key"),
        "PORTAL_SECRET_KEY": "benchmark",
        "PORTAL_SUBMISSION_RATE_LIMIT": "1000000 per minute",
        "PORTAL_MAIL_BACKEND": "console",
        "BENCH_DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    portal_port, floor_port = free_port(), free_port()
    settings = ["--workers", str(WORKERS), "--threads", str(THREADS)]
    python = sys.executable
    servers = [
        _start(
            [python, "-m", "portal", "serve", "--port", str(portal_port), *settings], env, workdir
        ),
        _start(
            [python, "-m", "bench._floor", str(floor_port), str(WORKERS), str(THREADS)], env, ROOT
        ),
    ]
    submit, insert = "/api/v1/incidents", "/insert"
    print(f"-- {database}")
    try:
        _wait_ready(portal_port, "/api/v1/health")
        _wait_ready(floor_port, insert)
        for port, path in ((portal_port, submit), (floor_port, insert)):  # warm-up, not shown
            load(port, path, 20, 1.0, "w00000", give_up=False)
        print(f"portal, {SECONDS:.0f} s per rate:")
        print(HEADER)
        target: Result | None = None
        for rate in RATES:
            result = load(portal_port, submit, rate, SECONDS, f"r{rate:05d}", give_up=False)
            print(row(result))
            target = result if rate == TARGET_RATE else target
        if target is not None:
            print(verdict(target))
        portal_rate = highest_rate("portal", portal_port, submit)
        floor_rate = highest_rate("floor", floor_port, insert)
    finally:
        for server in servers:
            stop_process_group(server)
    ratio = f"{portal_rate / floor_rate:.2f}" if floor_rate else "n/a"
    print(
        f"highest rate with p99 < {LIMIT_MS:.0f} ms and no errors: portal {portal_rate}/s,"
        f" bare insert {floor_rate}/s, portal/floor {ratio} (for information only)"
    )
    engine = make_engine(url)
    with engine.connect() as connection:
        cases = connection.execute(text("SELECT count(*) FROM cases")).scalar_one()
        rows = connection.execute(text("SELECT count(*) FROM bench_floor")).scalar_one()
    engine.dispose()
    print(f"-- {database}: {cases} cases and {rows} floor rows stored")


def main() -> None:
    print(
        f"open loop, {SENDERS} sender threads with keep-alive connections; gunicorn"
        f" {WORKERS}x{THREADS} threads for both apps; {os.cpu_count()} CPUs shared with the client;"
        f" {len(body('x', 0))}-byte bodies; latency from the scheduled send; late: sends that"
        f" started over {LATE * 1e3:.0f} ms behind schedule (every sender busy)"
    )
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        workdir = Path(folder)
        measure("SQLite", f"sqlite:///{workdir / 'bench.db'}", workdir)
        if postgres_bin() is None:
            print("-- PostgreSQL: not installed, skipped")
            return
        server = start_postgres()
        try:
            measure("PostgreSQL", server.create_database("bench"), workdir)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
