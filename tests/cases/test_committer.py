"""Group commit: concurrent submissions share commits, each gets its own receipt, none is lost."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select
from support import incident_body, request_body, submit_from_threads

from portal.cases import services
from portal.cases.audit import verify_chain
from portal.cases.committer import GroupCommitter
from portal.cases.db import make_sessionmaker
from portal.cases.models import Case, OutboxMail
from portal.cases.writer import CaseRow, Encoded, write_batch
from portal.catalog import Catalog

NOW = datetime(2026, 11, 26, 15, 30, 12, tzinfo=UTC)


def test_concurrent_submissions_share_commits(engine: Engine, catalog: Catalog) -> None:
    sessions = make_sessionmaker(engine)
    batches: list[int] = []

    def write(connection: Connection, items: list[Encoded]) -> list[CaseRow]:
        batches.append(len(items))
        return write_batch(connection, items)

    committer: GroupCommitter[Encoded, CaseRow] = GroupCommitter(engine.connect, write)
    sqlite = engine.dialect.name == "sqlite"
    receipts = submit_from_threads(committer.run, catalog, sqlite=sqlite, now=NOW)
    assert len(receipts) == 120
    assert sum(batches) == 120
    references = sorted(r.reference for r in receipts)
    incidents = [r for r in references if r.startswith("INC")]
    requests = [r for r in references if r.startswith("REQ")]
    assert incidents == [f"INC-2026-{n:06d}" for n in range(1, len(incidents) + 1)]
    assert requests == [f"REQ-2026-{n:06d}" for n in range(1, len(requests) + 1)]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 120
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 240
        assert verify_chain(session) == []
        for receipt in receipts[:10]:
            found = services.find_case(session, receipt.reference, receipt.access_token)
            assert found is not None
            assert found.reference == receipt.reference
            assert [d.due_at for d in found.deadlines] == [d.due_at for d in receipt.case.deadlines]


def test_a_failing_item_does_not_sink_its_batch(engine: Engine, catalog: Catalog) -> None:
    gate = threading.Event()

    def write(connection: Connection, items: list[Any]) -> list[str]:
        gate.wait(5)  # let the whole batch queue up behind the first item
        if any(item == "bad" for item in items):
            raise ValueError("bad item")
        return [f"ok {item}" for item in items]

    committer: GroupCommitter[Any, str] = GroupCommitter(engine.connect, write)
    results: dict[str, Any] = {}

    def run(item: str) -> None:
        try:
            results[item] = committer.run(item)
        except ValueError as err:
            results[item] = err

    threads = [threading.Thread(target=run, args=(item,)) for item in ("a", "b", "bad", "c")]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()
    assert results["a"] == "ok a"
    assert results["c"] == "ok c"
    assert isinstance(results["bad"], ValueError)


@pytest.mark.parametrize("kind", ["incident", "information-request"])
def test_the_api_answers_after_the_group_commit(any_app: Any, kind: str) -> None:
    """Through the app (GROUP_COMMIT on by default), concurrent clients all get receipts."""
    path, body = (
        ("/api/v1/incidents", incident_body())
        if kind == "incident"
        else ("/api/v1/information-requests", request_body())
    )
    statuses: list[int] = []
    references: list[str] = []
    lock = threading.Lock()

    def post() -> None:
        client = any_app.test_client()
        for _ in range(5):
            response = client.post(path, json=body)
            with lock:
                statuses.append(response.status_code)
                references.append(response.json["reference"])

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 30
    assert len(set(references)) == 30
