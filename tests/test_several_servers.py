"""The scale path, for real: two `portal serve` on one PostgreSQL and one Redis.

One server runs two workers, the other one: three processes that share nothing but the
database and the rate-limit counters. Through both at once, every submission is a case,
references stay unique and gapless, one client's limit holds whichever server it reaches,
and what staff do through one server is what the other shows.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support import PortalServer, incident_body, request_body

from portal.cases.db import make_engine, make_sessionmaker
from portal.cases.models import Case
from portal.testing import RedisServer

pytestmark = pytest.mark.slow

CLIENTS = 20  # client addresses 127.0.0.10 to 127.0.0.29
PER_CLIENT = 10  # the limit: "10 per minute"


@pytest.fixture
def servers(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[PortalServer, PortalServer]]:
    settings = {
        "PORTAL_RATELIMIT_STORAGE_URI": redis_server.url(1),
        "PORTAL_SUBMISSION_RATE_LIMIT": f"{PER_CLIENT} per minute",
    }
    first = PortalServer(postgres_url, tmp_path, "--workers", "2", "--threads", "4", **settings)
    second = PortalServer(postgres_url, tmp_path, **settings)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_two_servers_share_the_database_and_the_limits(
    servers: tuple[PortalServer, PortalServer], postgres_url: str
) -> None:
    both = servers
    answers: dict[str, list[tuple[int, dict[str, object]]]] = defaultdict(list)
    failures: list[BaseException] = []

    def client(number: int) -> None:
        source = f"127.0.0.{10 + number}"
        # Half the clients report incidents, half ask questions; each alternates servers.
        path, body = (
            ("/api/v1/incidents", incident_body())
            if number % 2
            else ("/api/v1/information-requests", request_body())
        )
        try:
            for attempt in range(PER_CLIENT + 1):
                server = both[(number + attempt) % 2]
                answers[source].append(server.request("POST", path, body, source=source))
        except BaseException as err:  # noqa: BLE001  (reported below, in the test's thread)
            failures.append(err)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures

    references: list[str] = []
    for source, replies in answers.items():
        statuses = [status for status, _ in replies]
        # The 11th reaches the server the client's first one did not: the count is shared.
        assert statuses == [201] * PER_CLIENT + [429], (source, statuses)
        references += [str(answer["reference"]) for status, answer in replies if status == 201]
    assert len(references) == CLIENTS * PER_CLIENT == 200

    engine = make_engine(postgres_url)
    with make_sessionmaker(engine)() as session:
        stored = list(session.scalars(select(Case.reference)))
    engine.dispose()
    assert sorted(stored) == sorted(references)
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for reference in stored:
        prefix, year, number = re.fullmatch(r"([A-Z]+)-(\d{4})-(\d{6})", reference).groups()  # type: ignore[union-attr]
        numbers[prefix, year].append(int(number))
    assert len(numbers) == 2
    for taken in numbers.values():
        assert sorted(taken) == list(range(1, len(taken) + 1))  # unique, no gaps

    first, second = both
    first.cli("staff", "add", "lea@example.org", "--role", "handler", "--password-stdin",
              stdin="a long enough password\n")  # fmt: skip
    token = first.cli("staff", "token", "lea@example.org").strip()
    reference = references[0]
    status, _ = first.request(
        "POST", f"/api/v1/staff/cases/{reference}/actions", {"action": "acknowledge"}, token=token
    )
    assert status == 200
    status, case = second.request("GET", f"/api/v1/staff/cases/{reference}", token=token)
    assert status == 200
    assert [event["action"] for event in case["audit"]][-1] == "acknowledge"
