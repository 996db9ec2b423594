"""Intake under gunicorn, 16 clients: trivial endpoint, bare durable insert, submissions.

For SQLite and for a throwaway PostgreSQL (when installed), in one run: `portal serve`'s
production set-up (gunicorn, 2 workers of 8 threads) answers a trivial endpoint and real incident
submissions; a bench-only Flask app (`bench/_floor.py`) under the same gunicorn settings and
database settings does one bare durable insert of a row the size of a submission. Sixteen
client threads (4 processes of 4, on 127.0.0.1 only) send requests for a few seconds each,
bounded in time and count. Targets: submissions at least 0.7 of the bare insert's rate,
p99 under 50 ms.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
PROCESSES = 4
THREADS = 4  # 4 x 4 = 16 concurrent clients
DURATION = float(os.environ.get("BENCH_SECONDS", "6"))  # per line, over all rounds
ROUNDS = 3
WARMUP = 1.0
MAX_REQUESTS_PER_CLIENT = 20_000
WORKERS = 2
THREADS_PER_WORKER = 8  # as `portal serve`

INCIDENT = {
    "product": "lumen-large-3",
    "product_version": "26.02",
    "category": "critical-infrastructure",
    "aware_at": "2026-11-25T10:00:00+01:00",
    "description": "The model's output stopped a water plant's dosing controller. " * 4,
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


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


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


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _client(args: tuple[int, str, str, bytes | None, float]) -> tuple[list[float], int]:
    """One load process: THREADS threads in a closed loop until `until` (a monotonic time)."""
    port, method, path, body, until = args
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    headers = {"Content-Type": "application/json"} if body is not None else {}

    def loop() -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        connection: http.client.HTTPConnection | None = None
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            start = time.monotonic()
            if start >= until:
                break
            try:
                # One keep-alive connection per client, as a real client would hold.
                if connection is None:
                    connection = http.client.HTTPConnection(HOST, port, timeout=30)
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status < 300
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

    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


Target = tuple[str, int, str, str, bytes | None]


def _load(targets: list[Target]) -> list[Result]:
    """Load each target in turn, ROUNDS times, so a machine whose background load drifts
    during the run weighs on every line alike; then pool each line's rounds."""
    context = multiprocessing.get_context("fork")
    latencies: dict[str, list[float]] = {t[0]: [] for t in targets}
    errors = dict.fromkeys(latencies, 0)
    seconds = dict.fromkeys(latencies, 0.0)
    with context.Pool(PROCESSES) as pool:
        for _name, port, method, path, body in targets:
            # Warm-up: connections, caches, the workers' first requests.
            until = time.monotonic() + WARMUP
            pool.map(_client, [(port, method, path, body, until)] * PROCESSES)
        for _round in range(ROUNDS):
            for name, port, method, path, body in targets:
                start = time.monotonic()
                until = start + DURATION / ROUNDS
                parts = pool.map(_client, [(port, method, path, body, until)] * PROCESSES)
                seconds[name] += time.monotonic() - start
                latencies[name].extend(x for part, _ in parts for x in part)
                errors[name] += sum(e for _, e in parts)
    return [_result(name, latencies[name], errors[name], seconds[name]) for name in latencies]


def _result(name: str, latencies: list[float], errors: int, seconds: float) -> Result:
    if not latencies:
        return Result(name, 0, errors, seconds, 0.0, 0.0)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(
        name, len(latencies), errors, seconds, statistics.median(latencies) * 1e3, p99 * 1e3
    )


def _measure(database: str, url: str, workdir: Path) -> list[Result]:
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

    portal_port, floor_port = _free_port(), _free_port()
    portal = _start(
        [str(Path(python).with_name("portal")), "serve", "--port", str(portal_port)], env, workdir
    )
    floor = _start(
        [
            python,
            "-m",
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "gthread",
            "--threads",
            str(THREADS_PER_WORKER),
            "--bind",
            f"{HOST}:{floor_port}",
            "--no-control-socket",
            "bench._floor:create_app()",
        ],
        env,
        ROOT,
    )
    body = json.dumps(INCIDENT).encode()
    try:
        _wait_ready(portal_port, "/api/v1/health")
        _wait_ready(floor_port, "/insert")
        results = _load(
            [
                ("trivial endpoint", portal_port, "GET", "/api/v1/health", None),
                ("bare durable insert", floor_port, "POST", "/insert", body),
                ("incident submission", portal_port, "POST", "/api/v1/incidents", body),
            ]
        )
    finally:
        _stop(portal)
        _stop(floor)
    engine = make_engine(url)
    with engine.connect() as connection:
        cases = connection.execute(text("SELECT count(*) FROM cases")).scalar_one()
    engine.dispose()
    print(f"-- {database}: {cases} cases stored, {len(body)}-byte bodies")
    return results


def _report(results: list[Result]) -> None:
    print(f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in results:
        print(f"{r.name:24}{r.rate:9.0f}{r.p50_ms:9.1f}{r.p99_ms:9.1f}{r.errors:8d}")
    trivial, floor, submit = results
    if trivial.rate and floor.rate:
        print(f"bare insert / trivial:        {floor.rate / trivial.rate:.2f}")
        print(f"submission / trivial:         {submit.rate / trivial.rate:.2f}")
        verdict = "meets" if submit.rate / floor.rate >= 0.7 else "MISSES"
        print(f"submission / bare insert:     {submit.rate / floor.rate:.2f} ({verdict} 0.7)")
        p99 = "meets" if submit.p99_ms < 50 else "MISSES"
        print(f"submission p99:               {submit.p99_ms:.1f} ms ({p99} 50 ms)")


def main() -> None:
    from portal.testing import postgres_bin, start_postgres

    print(
        f"{PROCESSES * THREADS} keep-alive clients, {DURATION:.0f} s per line in {ROUNDS} rounds,"
        f" gunicorn {WORKERS}x{THREADS_PER_WORKER} threads, {os.cpu_count()} CPUs shared with"
        " the load generator"
    )
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        workdir = Path(folder)
        _report(_measure("SQLite", f"sqlite:///{workdir / 'bench.db'}", workdir))
        if postgres_bin() is None:
            print("-- PostgreSQL: not installed, skipped")
            return
        server = start_postgres()
        try:
            url = server.create_database("bench")
            _report(_measure("PostgreSQL", url, workdir))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
