"""Staff dashboard: first page and GET /api/v1/staff/cases with 1,000 vs 100,000 cases (SQLite).

Cases are seeded with bulk inserts (not the API): a mix of requests and incidents, one in
five closed, due instants spread over two months around now, so the first page holds overdue
cases. Each size gets its own SQLite file, migrated as in production; both pages are read
through the Flask test client, signed in (the page) and with a staff token (the API). The
figures are medians and 95th percentiles over the same number of requests for both sizes, and
their ratio: the target is at most 2, which needs the index and the keyset paging to hold.
SQLite only: it is the embedded default, and PostgreSQL plans the same index scan.
"""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from portal.cases import accounts
from portal.cases.db import init_db, make_engine
from portal.cases.models import Case, Deadline
from portal.cases.sealed import use_data_key
from portal.proof.sealing import load_data_key
from portal.web import context, create_app

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 100_000)
REQUESTS = 200
WARMUP = 20
PRODUCTS = ("lumen-large-3", "lumen-ultra", "lumen-medium-2", "lumen-small-3", "lumen-chat")
CATEGORIES = ("death", "health", "critical-infrastructure", "fundamental-rights")
PASSWORD = "benchmark password"


def _seed(url: str, count: int, now: datetime) -> None:
    engine = make_engine(url)
    init_db(engine)
    rng = random.Random(count)
    batch = 5_000
    with engine.begin() as connection:
        for start in range(0, count, batch):
            cases = []
            deadlines = []
            for number in range(start + 1, min(start + batch, count) + 1):
                incident = rng.random() < 0.3
                received = now - timedelta(minutes=rng.randint(0, 60 * 24 * 45))
                closed = rng.random() < 0.2
                due = now + timedelta(minutes=rng.randint(-60 * 24 * 20, 60 * 24 * 40))
                product = rng.choice(PRODUCTS)
                submission = (
                    {"product": product, "category": rng.choice(CATEGORIES), "description": "x"}
                    if incident
                    else {"products": [product], "topic": "integration", "questions": "x"}
                )
                cases.append(
                    {
                        "id": number,
                        "reference": f"{'INC' if incident else 'REQ'}-2026-{number:06d}",
                        "kind": "incident" if incident else "information-request",
                        "status": "closed" if closed else rng.choice(("received", "in-progress")),
                        "received_at": received,
                        "updated_at": received,
                        "token_hash": f"{number:064x}",
                        "submission": submission,
                        "next_due_at": due,
                    }
                )
                deadlines.append(
                    {
                        "case_id": number,
                        "name": "authority-report" if incident else "information-response",
                        "trigger_at": received,
                        "period": "14d",
                        "rule": "exact",
                        "timezone": "Europe/Paris",
                        "holidays": "FR",
                        "due_at": due,
                        "met_at": None,
                        "paused": False,
                        "paused_at": None,
                    }
                )
            connection.execute(insert(Case), cases)
            connection.execute(insert(Deadline), deadlines)
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def _measure(count: int, workdir: Path, now: datetime) -> dict[str, list[float]]:
    url = f"sqlite:///{workdir / f'bench-{count}.db'}"
    began = time.perf_counter()
    # The seed writes submissions before the app exists: load the key the app will use.
    use_data_key(load_data_key(workdir / "data-key"))
    _seed(url, count, now)
    print(f"  seeded {count:,} cases in {time.perf_counter() - began:.1f} s")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "CATALOG_DIR": str(ROOT / "catalog"),
            "SITE_DIR": str(workdir / "site"),
            "MAIL_SENDER_THREAD": False,
            "WTF_CSRF_ENABLED": False,
            "CLOCK": lambda: now,
            "SIGNING_KEY_FILE": str(workdir / "signing-key.pem"),
            "DATA_KEY_FILE": str(workdir / "data-key"),
        }
    )
    with app.app_context(), context.new_session() as session:
        accounts.add_user(session, "bench@example.com", "viewer", PASSWORD, actor="bench", now=now)
        token = accounts.issue_token(session, "bench@example.com", actor="bench", now=now)
    client = app.test_client()
    login = client.post("/staff/login", data={"email": "bench@example.com", "password": PASSWORD})
    assert login.status_code == 302, login.status_code
    targets = {
        "dashboard page": lambda: client.get("/staff/"),
        "staff cases API": lambda: client.get(
            "/api/v1/staff/cases", headers={"Authorization": f"Bearer {token}"}
        ),
    }
    timings: dict[str, list[float]] = {}
    for name, call in targets.items():
        for _ in range(WARMUP):
            call()
        samples = []
        for _ in range(REQUESTS):
            start = time.perf_counter()
            response = call()
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.status_code
        timings[name] = samples
    first = client.get("/staff/").text
    rows = len(re.findall(r'<tr class="(?:overdue)?">', first))
    print(f"  first page shows {rows} cases; the first is overdue: {'overdue by' in first}")
    app.extensions[context.ENGINE].dispose()
    return timings


def _p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def main() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    results = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        for count in SIZES:
            results[count] = _measure(count, Path(folder), now)
    small, large = SIZES
    print(f"  {REQUESTS} requests each, after {WARMUP} to warm up; milliseconds")
    print(f"  {'':18}{'p50':>9}{'p95':>9}{'p50':>9}{'p95':>9}   ratio p50  ratio p95")
    print(f"  {'':18}{f'{small:,} cases':>18}{f'{large:,} cases':>18}")
    for name in results[small]:
        a, b = results[small][name], results[large][name]
        print(
            f"  {name:18}{_p(a, 50):9.2f}{_p(a, 95):9.2f}{_p(b, 50):9.2f}{_p(b, 95):9.2f}"
            f"   {_p(b, 50) / _p(a, 50):9.2f}  {_p(b, 95) / _p(a, 95):9.2f}"
        )
    print("  target: ratio at most 2")
