"""Throwaway PostgreSQL and Redis servers in temporary folders, for the tests and benchmarks.

They run on 127.0.0.1 only, on ports below the ephemeral range, and are removed when
stopped: nothing else on the machine is touched. `initdb` refuses to run as root, so as root
PostgreSQL runs as the `postgres` user (Debian's package creates it). Redis keeps nothing on
disk (`--save '' --appendonly no`). Beside them, what tests and benchmarks also need to run
servers of their own: a free port, and a way to stop one with its workers.
"""

from __future__ import annotations

import glob
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) for x in Path(p).parent.parent.name.split(".") if x.isdigit()],
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    """A running throwaway server; `url(db)` gives a SQLAlchemy URL for one of its databases."""

    bin_dir: Path
    data_dir: Path
    port: int
    _as_postgres: bool

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database `name` (optionally from `template`) and return its URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            template_sql = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{template_sql}')
        return self.url(name)

    def dump(self, database: str) -> str:
        """`pg_dump` of one database, as a backup would hold it (plain SQL)."""
        done = subprocess.run(
            [str(self.bin_dir / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port)]
            + ["-U", "postgres", "--no-password", database],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)


def start_postgres(*, fsync: bool = True) -> PostgresServer:
    """Start a throwaway server; raise RuntimeError when PostgreSQL is not installed.

    `fsync` stays on by default: the benchmarks and the crash test are about durable commits.
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb found)")
    as_postgres = os.geteuid() == 0
    data_dir = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    if as_postgres:
        shutil.chown(data_dir, "postgres", "postgres")
    server = PostgresServer(bin_dir, data_dir, 0, as_postgres)
    server._run(
        "initdb",
        "-D",
        str(data_dir),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    )
    last_error = ""
    for _attempt in range(8):
        port = random.randint(15432, 29999)
        options = f"-p {port} -k {data_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not fsync:
            options += " -c fsync=off"
        done = server._run(
            "pg_ctl",
            "-D",
            str(data_dir),
            "-l",
            str(data_dir / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
            check=False,
        )
        if done.returncode == 0:
            server.port = port
            log.info("Throwaway PostgreSQL on 127.0.0.1:%s", port)
            return server
        last_error = done.stderr or done.stdout
    shutil.rmtree(data_dir, ignore_errors=True)
    raise RuntimeError(f"could not start PostgreSQL: {last_error.strip()}")


@dataclass
class RedisServer:
    """A running throwaway Redis; `url(n)` gives a URL for its database `n`."""

    process: subprocess.Popen[bytes]
    port: int
    work_dir: str

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def redis_bin() -> str | None:
    """Path of `redis-server`, or None when Redis is not installed."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )


def start_redis() -> RedisServer:
    """Start a throwaway Redis; raise RuntimeError when it is not installed or will not start."""
    binary = redis_bin()
    if binary is None:
        raise RuntimeError("Redis is not installed (no redis-server found)")
    last_error = ""
    for _attempt in range(8):
        port = random.randint(30000, 32000)
        work_dir = tempfile.mkdtemp(prefix="portal-redis-")
        log_path = Path(work_dir) / "redis.log"
        with log_path.open("wb") as output:
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--dir", work_dir, "--loglevel", "warning"],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=work_dir,
            )
        if _answers_ping(port, process):
            log.info("Throwaway Redis on 127.0.0.1:%s", port)
            return RedisServer(process, port, work_dir)
        process.kill()
        process.wait(5)
        last_error = log_path.read_text(errors="replace")
        shutil.rmtree(work_dir, ignore_errors=True)
    raise RuntimeError(f"could not start Redis: {last_error.strip()}")


def _answers_ping(port: int, process: subprocess.Popen[bytes], wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port() -> int:
    """A TCP port free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process_group(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """Stop a server started in a session of its own (`start_new_session=True`) and every
    process it started: SIGTERM to the group, then SIGKILL if it has not ended within `grace`
    seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
