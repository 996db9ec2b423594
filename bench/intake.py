"""Intake under gunicorn, 16 connections: trivial endpoint, bare durable insert, submissions.

For SQLite and for a throwaway PostgreSQL (when installed), in one run: `portal serve`'s
production set-up (gunicorn, 2 workers of 8 threads) answers a trivial endpoint and real incident
submissions; a bench-only Flask app (`bench/_floor.py`) served by the very same gunicorn set-up
and database settings does one bare durable insert of a body of the same size. The floor is
also served by gunicorn's own threaded workers, which do not share connections out between
workers (`portal.commands.worker`) and suit it better on some machines: the ratio is taken
against the faster of the two floors. The load comes
from `wrk` (a C load generator, so that the two cores measure the server rather than the
client): 16 keep-alive connections on 127.0.0.1, a few seconds per line, in interleaved rounds.
Every POST is a new, valid incident notice (`bench/intake.lua`), and any answer other than 2xx
counts as an error. Without `wrk` (installed with apt-get when running as root), a Python load
generator stands in and the figures say more about it than about the server.
Targets: submissions at least 0.7 of the bare insert's rate, p99 under 50 ms.
"""

from __future__ import annotations

import bisect
import http.client
import json
import multiprocessing
import os
import shutil
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
LUA = Path(__file__).with_name("intake.lua")
HOST = "127.0.0.1"
CONNECTIONS = 16
WRK_THREADS = 2
DURATION = float(os.environ.get("BENCH_SECONDS", "9"))  # per line, over all rounds
ROUNDS = 3
WARMUP = 1.0
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))  # as `portal serve`
THREADS_PER_WORKER = int(os.environ.get("BENCH_THREADS", "8"))

DESCRIPTION = "The model's output stopped a water plant's dosing controller. " * 3
# JSON with %-slots, read alike by Lua's string.format and Python's %: aware_at, run tag,
# connection and request number (fixed widths, so that every body has the same size).
BODY_TEMPLATE = json.dumps(
    {
        "product": "lumen-large-3",
        "product_version": "26.02",
        "category": "critical-infrastructure",
        "aware_at": "@AWARE@",
        "description": "Notice @TAG@-@CONN@-@NUMBER@. " + DESCRIPTION,
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
BODY_TEMPLATE = (
    BODY_TEMPLATE.replace("%", "%%")
    .replace("@AWARE@", "%s")
    .replace("@TAG@", "%s")
    .replace("@CONN@", "%02d")
    .replace("@NUMBER@", "%08d")
)


def body(tag: str, connection: int, number: int) -> bytes:
    """One incident notice, as `bench/intake.lua` builds them: aware ten minutes ago."""
    aware = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return (BODY_TEMPLATE % (aware, tag, connection, number)).encode()


@dataclass
class Line:
    """One line of the table, pooled over its rounds: counts and latency quantiles."""

    name: str
    port: int
    path: str
    post: bool
    requests: int = 0  # 2xx answers
    errors: int = 0  # other answers and socket errors
    seconds: float = 0.0
    # Per round: (number of answers, [(quantile in %, latency in seconds)]).
    rounds: list[tuple[int, list[tuple[float, float]]]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile (ms) of the rounds' latencies pooled, each round weighted by
        its number of answers (from each round's quantiles, to 0.1 % of rank)."""
        total = sum(n for n, _ in self.rounds)
        if not total:
            return 0.0
        rounds = [(n, [v for _, v in qs], [p for p, _ in qs]) for n, qs in self.rounds]

        def share(value: float) -> float:  # the pooled fraction of answers within `value`
            below = 0.0
            for n, values, ranks in rounds:
                i = bisect.bisect_right(values, value)
                below += n * (ranks[i - 1] / 100 if i else 0.0)
            return below / total

        candidates = sorted({v for _, values, _ in rounds for v in values})
        index = bisect.bisect_left(candidates, q / 100 - 1e-9, key=share)
        return candidates[min(index, len(candidates) - 1)] * 1e3


def _wait_ready(port: int, path: str, method: str = "GET") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request(method, path)
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


# -- wrk ------------------------------------------------------------------------------------


def find_wrk() -> str | None:
    """wrk's path; installed with apt-get when missing and running as root, else None."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    print("-- installing wrk (apt-get install wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(install, env=env, capture_output=True, timeout=600)
    return shutil.which("wrk")


def _wrk_round(
    wrk: str, line: Line, seconds: float, tag: str
) -> tuple[int, int, float, list[tuple[float, float]]]:
    """One wrk run: (2xx answers, errors, seconds, [(quantile %, latency s)])."""
    command = [
        wrk,
        "--threads",
        str(WRK_THREADS),
        "--connections",
        str(CONNECTIONS),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "--script",
        str(LUA),
        f"http://{HOST}:{line.port}{line.path}",
        "--",
        BODY_TEMPLATE if line.post else "",
        tag,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    values: dict[str, str] = {}
    for text in done.stdout.splitlines():
        key, _, value = text.partition(" ")
        if key.startswith("bench."):
            values[key.removeprefix("bench.")] = value
    answers = int(values["requests"])
    failed = int(values["non2xx"])
    quantiles = [
        (float(q), int(v) / 1e6)
        for q, v in (pair.split("=") for pair in values["quantiles_us"].split())
    ]
    errors = failed + int(values["socket_errors"])
    return answers - failed, errors, int(values["duration_us"]) / 1e6, quantiles


def _load_wrk(wrk: str, lines: list[Line]) -> None:
    """Load each line in turn, ROUNDS times, so a machine whose background load drifts
    during the run weighs on every line alike; then pool each line's rounds."""
    for line in lines:  # warm-up: connections, caches, the workers' first requests
        _wrk_round(wrk, line, WARMUP, "w00")
    for index in range(ROUNDS):
        for line in lines:
            ok, errors, seconds, quantiles = _wrk_round(
                wrk, line, DURATION / ROUNDS, f"r{index:02d}"
            )
            line.requests += ok
            line.errors += errors
            line.seconds += seconds
            line.rounds.append((ok + errors, quantiles))


# -- the Python load generator, when wrk is missing -----------------------------------------

PROCESSES = 4
THREADS = 4  # 4 x 4 = 16 concurrent clients


def _client(args: tuple[int, int, str, bool, float, str]) -> tuple[list[float], int]:
    """One load process: THREADS keep-alive clients in a closed loop until `until`."""
    process, port, path, post, until, tag = args
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def loop(client: int) -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        number = 0
        connection: http.client.HTTPConnection | None = None
        while True:
            start = time.monotonic()
            if start >= until:
                break
            number += 1
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(HOST, port, timeout=30)
                if post:
                    payload = body(tag, client, number)
                    headers = {"Content-Type": "application/json"}
                    connection.request("POST", path, body=payload, headers=headers)
                else:
                    connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                ok = 200 <= response.status < 300
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                ok = False
                if connection is not None:
                    connection.close()
                connection = None
            if ok:
                mine.append(time.monotonic() - start)
            else:
                failed += 1
        if connection is not None:
            connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=loop, args=(process * THREADS + i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def _load_python(lines: list[Line]) -> None:
    """As `_load_wrk`, with PROCESSES x THREADS Python clients."""
    context = multiprocessing.get_context("fork")

    def run(
        pool: multiprocessing.pool.Pool, line: Line, seconds: float, tag: str
    ) -> list[tuple[list[float], int]]:
        until = time.monotonic() + seconds
        args = [(i, line.port, line.path, line.post, until, tag) for i in range(PROCESSES)]
        return pool.map(_client, args)

    with context.Pool(PROCESSES) as pool:
        for line in lines:
            run(pool, line, WARMUP, "w00")
        for index in range(ROUNDS):
            for line in lines:
                start = time.monotonic()
                parts = run(pool, line, DURATION / ROUNDS, f"r{index:02d}")
                line.seconds += time.monotonic() - start
                latencies = sorted(x for part, _ in parts for x in part)
                line.requests += len(latencies)
                line.errors += sum(e for _, e in parts)
                if latencies:
                    quantiles = [
                        (q / 10, latencies[min(len(latencies) - 1, len(latencies) * q // 1000)])
                        for q in range(1, 1001)
                    ]
                    line.rounds.append((len(latencies), quantiles))


# -- the run --------------------------------------------------------------------------------


def _measure(database: str, url: str, workdir: Path, wrk: str | None) -> list[Line]:
    python = sys.executable
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_CATALOG_DIR": str(ROOT / "catalog"),
        "PORTAL_SITE_DIR": str(workdir / "site"),
        "PORTAL_SECRET_KEY": "benchmark",
        "PORTAL_SUBMISSION_RATE_LIMIT": "100000000 per minute",
        "PORTAL_MAIL_BACKEND": "console",
        "BENCH_DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    from sqlalchemy import text

    from bench._floor import metadata
    from portal.cases.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    metadata.create_all(engine)
    engine.dispose()

    portal_port, floor_port, plain_port = free_port(), free_port(), free_port()
    server = [str(WORKERS), str(THREADS_PER_WORKER)]
    portal = _start(
        [
            str(Path(python).with_name("portal")),
            "serve",
            "--port",
            str(portal_port),
            "--workers",
            server[0],
            "--threads",
            server[1],
        ],
        env,
        workdir,
    )
    floors = [
        _start([python, "-m", "bench._floor", str(port), *server, *kind], env, ROOT)
        for port, kind in ((floor_port, []), (plain_port, ["gthread"]))
    ]
    lines = [
        Line("trivial endpoint", portal_port, "/api/v1/health", post=False),
        Line("bare durable insert", floor_port, "/insert", post=True),
        Line("bare insert (gthread)", plain_port, "/insert", post=True),
        Line("incident submission", portal_port, "/api/v1/incidents", post=True),
    ]
    engine = make_engine(url)
    unsent = text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    try:
        _wait_ready(portal_port, "/api/v1/health")
        _wait_ready(floor_port, "/insert")
        _wait_ready(plain_port, "/insert")
        if wrk is not None:
            _load_wrk(wrk, lines)
        else:
            _load_python(lines)
        # The mail sender yields to the workers under load: how long it takes to catch up.
        stopped = time.monotonic()
        with engine.connect() as connection:
            backlog = connection.execute(unsent).scalar_one()
            while connection.execute(unsent).scalar_one() and time.monotonic() < stopped + 120:
                connection.rollback()
                time.sleep(0.2)
            left = connection.execute(unsent).scalar_one()
        drained = time.monotonic() - stopped
    finally:
        stop_process_group(portal)
        for floor in floors:
            stop_process_group(floor)
    with engine.connect() as connection:
        cases = connection.execute(text("SELECT count(*) FROM cases")).scalar_one()
        mails = connection.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        floor_rows = connection.execute(text("SELECT count(*) FROM bench_floor")).scalar_one()
    engine.dispose()
    size = len(body("r00", 0, 1))
    print(f"-- {database}: {cases} cases and {floor_rows} floor rows stored, {size}-byte bodies")
    caught_up = f"all sent {drained:.1f} s later" if not left else f"{left} still unsent"
    print(f"-- mail: {mails} queued, {backlog} unsent when the load stopped, {caught_up}")
    return lines


def _report(lines: list[Line]) -> None:
    print(f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for line in lines:
        p50, p99 = line.percentile(50), line.percentile(99)
        print(f"{line.name:24}{line.rate:9.0f}{p50:9.1f}{p99:9.1f}{line.errors:8d}")
    trivial, *floors, submit = lines
    floor = max(floors, key=lambda line: line.rate)  # the stricter comparison
    if trivial.rate and floor.rate:
        print(f"bare insert / trivial:        {floor.rate / trivial.rate:.2f}")
        print(f"submission / trivial:         {submit.rate / trivial.rate:.2f}")
        verdict = "meets" if submit.rate / floor.rate >= 0.7 else "MISSES"
        print(
            f"submission / bare insert:     {submit.rate / floor.rate:.2f} ({verdict} 0.7;"
            f" against the faster: {floor.name})"
        )
        p99 = submit.percentile(99)
        verdict = "meets" if p99 < 50 else "MISSES"
        print(f"submission p99:               {p99:.1f} ms ({verdict} 50 ms)")


def main() -> None:
    wrk = find_wrk()
    if wrk is None:
        print(
            "-- wrk is not installed (apt-get install wrk, as root): using the Python load"
            " generator, which shares the CPUs and weighs on every figure below"
        )
    client = f"wrk, {WRK_THREADS} threads" if wrk else f"Python, {PROCESSES}x{THREADS} threads"
    print(
        f"{CONNECTIONS} keep-alive connections ({client}), {DURATION:.0f} s per line in"
        f" {ROUNDS} rounds, gunicorn {WORKERS}x{THREADS_PER_WORKER} threads for both apps,"
        f" {os.cpu_count()} CPUs shared with the load generator"
    )
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        workdir = Path(folder)
        _report(_measure("SQLite", f"sqlite:///{workdir / 'bench.db'}", workdir, wrk))
        if postgres_bin() is None:
            print("-- PostgreSQL: not installed, skipped")
            return
        server = start_postgres()
        try:
            url = server.create_database("bench")
            _report(_measure("PostgreSQL", url, workdir, wrk))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
