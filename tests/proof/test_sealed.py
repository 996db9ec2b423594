"""What submitters write is sealed at rest: a stolen database file or dump shows none of it,
while the API, the dashboard and the audit chain work as before."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support import incident_body, make_test_app, request_body

from portal.cases import audit
from portal.cases.db import downgrade, make_engine, make_sessionmaker, upgrade
from portal.cases.sealed import open_text, seal_existing, seal_text
from portal.proof.keys import ProofError
from portal.proof.sealing import DataKey
from portal.testing import PostgresServer
from portal.web import context

SECRETS = [
    "stopped a water plant",  # description
    "Drinking water supply interrupted",  # harm
    "switched to manual dosing",  # measures taken
    "Ada Lovelace",
    "ada@example.com",
    "Grace Hopper",
    "grace@example.org",
    "maximum context window",  # an information request's questions
    "Ça recommence à 3 h du matin",  # a follow-up message
    "Acme Water",
    "+33 1 23 45 67 89",
]


def _fill(app: Flask) -> None:
    """An incident, a request and a follow-up, through the API."""
    client = app.test_client()
    incident = client.post("/api/v1/incidents", json=incident_body()).json
    body = request_body(
        requester={
            "organisation": "Hopper Labs",
            "name": "Grace Hopper",
            "email": "grace@example.org",
        }
    )
    assert client.post("/api/v1/information-requests", json=body).status_code == 201
    auth = {"Authorization": f"Bearer {incident['access_token']}"}
    url = f"/api/v1/cases/{incident['reference']}"
    message = {"body": "Ça recommence à 3 h du matin."}
    assert client.post(f"{url}/messages", json=message, headers=auth).status_code == 201
    # What the submitter reads back is what they wrote.
    case = client.get(url, headers=auth).json
    assert case["submitted"]["reporter"]["email"] == "ada@example.com"
    assert case["messages"][0]["body"] == "Ça recommence à 3 h du matin."


def _stored_bytes(app: Flask, database_url: str, postgres: PostgresServer | None) -> bytes:
    """What a thief of the database gets: the SQLite files, or a pg_dump."""
    app.extensions[context.ENGINE].dispose()
    url = make_url(database_url)
    if postgres is not None:
        return postgres.dump(str(url.database)).encode("utf-8")
    path = Path(str(url.database))
    files = [path, *path.parent.glob(path.name + "-*")]  # -wal and -shm too
    return b"".join(p.read_bytes() for p in files if p.is_file())


def test_the_stored_database_holds_no_submitted_text(
    any_app: Flask, database_url: str, request: pytest.FixtureRequest
) -> None:
    _fill(any_app)
    with any_app.app_context(), context.new_session() as session:
        assert audit.verify_chain(session) == []
    postgres = (
        request.getfixturevalue("postgres_server") if database_url.startswith("postgres") else None
    )
    stored = _stored_bytes(any_app, database_url, postgres)
    assert b"INC-2026-000001" in stored  # the references stay in clear
    assert b"lumen-large-3" in stored  # and the products the dashboard filters on
    found = [s for s in SECRETS if s.encode("utf-8") in stored]
    assert found == []


def test_only_what_the_dashboard_filters_on_stays_in_clear(app: Flask) -> None:
    _fill(app)
    with app.app_context(), context.new_session() as session:
        stored = session.execute(text("SELECT submission FROM cases ORDER BY id")).scalars().all()
    documents = [json.loads(value) if isinstance(value, str) else value for value in stored]
    assert [sorted(d) for d in documents] == [
        ["aware_at", "categories", "product", "product_version", "sealed", "started_at"],
        ["products", "sealed", "topic"],
    ]
    assert documents[0]["product"] == "lumen-large-3"
    assert documents[1]["products"] == ["lumen-medium-2"]


def test_the_data_key_is_private(app: Flask, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "data-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32


def test_without_the_right_key_nothing_can_be_read() -> None:
    sealed = seal_text("a sentence")
    other = DataKey(secrets.token_bytes(32))
    with pytest.raises(ProofError):
        other.open(sealed)
    altered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(ProofError):
        open_text(altered)
    assert open_text(sealed) == "a sentence"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, not yet migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"old_{secrets.token_hex(4)}")


def test_the_migration_seals_existing_rows_and_a_second_run_does_nothing(
    fresh_url: str, tmp_path: Path
) -> None:
    engine = make_engine(fresh_url)
    upgrade(engine, "0005")
    with engine.begin() as connection:  # a case, a message and a mail stored in clear
        connection.execute(
            text(
                "INSERT INTO cases (id, reference, kind, status, received_at, updated_at,"
                " token_hash, submission) VALUES (1, 'REQ-2026-000001', 'information-request',"
                " 'received', '2026-11-26 10:00:00', '2026-11-26 10:00:00', :hash, :submission)"
            ),
            {
                "hash": "0" * 64,
                "submission": '{"products": ["lumen-medium-2"], "topic": "integration",'
                ' "questions": "What is the maximum context window?",'
                ' "requester": {"name": "Grace Hopper", "email": "grace@example.org"}}',
            },
        )
        connection.execute(
            text(
                "INSERT INTO messages (case_id, author, body, created_at)"
                " VALUES (1, 'submitter', 'Ça recommence à 3 h du matin.', '2026-11-26 11:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO outbox (created_at, case_reference, recipient, to_addr, subject, body,"
                " attempts, next_attempt_at) VALUES ('2026-11-26 10:00:00', 'REQ-2026-000001',"
                " 'submitter', 'grace@example.org', 'We received your request',"
                " 'Dear Grace Hopper', 0, '2026-11-26 10:00:00')"
            )
        )
    upgrade(engine)
    with engine.begin() as connection:
        raw = (
            connection.execute(
                text(
                    "SELECT CAST(submission AS TEXT) FROM cases UNION ALL SELECT body FROM messages"
                )
            )
            .scalars()
            .all()
        )
        raw += connection.execute(text("SELECT to_address || body FROM outbox")).scalars().all()
        assert not any(s in str(value) for value in raw for s in SECRETS)
        assert seal_existing(connection) == 0  # the second run changes nothing
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        from portal.cases.models import Case, OutboxMail

        case = session.get(Case, 1)
        assert case is not None
        assert case.submission["requester"]["email"] == "grace@example.org"
        assert case.messages[0].body == "Ça recommence à 3 h du matin."
        mail = session.query(OutboxMail).one()
        assert (mail.to_address, mail.body) == ("grace@example.org", "Dear Grace Hopper")
    downgrade(engine, "0005")  # and back: the downgrade opens every row again
    with engine.begin() as connection:
        assert connection.execute(text("SELECT to_addr FROM outbox")).scalar() == (
            "grace@example.org"
        )
    engine.dispose()


def test_the_app_makes_its_data_key_on_first_start(sqlite_url: str, tmp_path: Path) -> None:
    app = make_test_app(sqlite_url, tmp_path, DATA_KEY_FILE=str(tmp_path / "new" / "data-key"))
    assert (tmp_path / "new" / "data-key").is_file()
    app.extensions[context.ENGINE].dispose()
