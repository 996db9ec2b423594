"""The submission write path: a batch of prepared submissions in seven driver-level statements.

This is the one path every submission takes, inside the database's write lock, so it skips
SQLAlchemy's statement machinery and talks to the driver's cursor directly: multi-row
INSERTs, one upsert for the reference numbers and one for the audit chain's head, whatever
the batch size. The tables and columns are those of `portal.cases.models` (the migrations
test holds them equal); values are converted here exactly as the column types would
(`UtcDateTime`: UTC, naive text on SQLite; `JSON`: `json.dumps`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.cases.audit import GENESIS_HASH, event_hash
from portal.cases.models import REFERENCE_PREFIXES


@dataclass
class DeadlineRow:
    """A deadline about to be written (the columns of `models.Deadline`)."""

    name: str
    trigger_at: datetime
    period: str
    rule: str
    timezone: str
    holidays: str
    due_at: datetime
    met_at: datetime | None = None
    paused: bool = False


@dataclass
class CaseRow:
    """A case about to be written; `reference` and `id` are set by `write_batch`."""

    kind: str
    received_at: datetime
    token_hash: str
    submission: dict[str, Any]
    deadlines: list[DeadlineRow]
    status: str = "received"
    reference: str = ""
    id: int = 0

    def deadline(self, name: str) -> DeadlineRow | None:
        return next((d for d in self.deadlines if d.name == name), None)

    @property
    def next_due_at(self) -> datetime | None:
        open_dues = [d.due_at for d in self.deadlines if d.met_at is None]
        return min(open_dues) if open_dues else None


@dataclass(frozen=True)
class AuditRow:
    actor: str
    action: str
    changes: dict[str, Any]


def write_batch(
    session: Session,
    cases: Sequence[CaseRow],
    audits: Sequence[AuditRow],
    *,
    compose: Callable[[CaseRow, int], list[dict[str, Any]]],
) -> None:
    """Write `cases` with their deadlines, one audit event each, and the mails that
    `compose(case, index)` writes once the case has its reference; in order, in the
    session's transaction, without committing.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    put = _Converter(sqlite)
    try:
        _take_references(cursor, put, cases)
        rows = [
            (
                c.reference,
                c.kind,
                c.status,
                put.instant(c.received_at),
                put.instant(c.received_at),
                c.token_hash,
                put.json(c.submission),
                put.instant(c.next_due_at),
            )
            for c in cases
        ]
        cursor.execute(
            put.sql(
                "INSERT INTO cases (reference, kind, status, received_at, updated_at, token_hash,"
                " submission, next_due_at) VALUES " + _values(8, len(rows)) + " RETURNING id,"
                " reference"
            ),
            [value for row in rows for value in row],
        )
        ids = {reference: case_id for case_id, reference in cursor.fetchall()}
        deadlines: list[tuple[Any, ...]] = []
        for case in cases:
            case.id = ids[case.reference]
            deadlines.extend(
                (
                    case.id,
                    d.name,
                    put.instant(d.trigger_at),
                    d.period,
                    d.rule,
                    d.timezone,
                    d.holidays,
                    put.instant(d.due_at),
                    put.instant(d.met_at),
                    d.paused,
                    None,
                )
                for d in case.deadlines
            )
        if deadlines:
            cursor.execute(
                put.sql(
                    "INSERT INTO deadlines (case_id, name, trigger_at, period, rule, timezone,"
                    " holidays, due_at, met_at, paused, paused_at) VALUES "
                    + _values(11, len(deadlines))
                ),
                [value for row in deadlines for value in row],
            )
        _insert_mails(cursor, put, [compose(case, i) for i, case in enumerate(cases)], cases)
        _append_audit(cursor, put, cases, audits)
    finally:
        cursor.close()


def _take_references(cursor: Any, put: _Converter, cases: Sequence[CaseRow]) -> None:
    groups: dict[tuple[str, int], list[CaseRow]] = {}
    for case in cases:
        groups.setdefault((case.kind, case.received_at.year), []).append(case)
    # Counter rows are locked in one fixed order, so two batches can never deadlock.
    for (kind, year), group in sorted(groups.items()):
        prefix = REFERENCE_PREFIXES[kind]
        cursor.execute(
            put.sql(
                "INSERT INTO reference_counters (prefix, year, last) VALUES (?, ?, ?)"
                " ON CONFLICT (prefix, year) DO UPDATE"
                " SET last = reference_counters.last + excluded.last RETURNING last"
            ),
            (prefix, year, len(group)),
        )
        last = int(cursor.fetchone()[0])
        for number, case in enumerate(group, start=last - len(group) + 1):
            case.reference = f"{prefix}-{year:04d}-{number:06d}"


def _insert_mails(
    cursor: Any, put: _Converter, mails: list[list[dict[str, Any]]], cases: Sequence[CaseRow]
) -> None:
    rows = [
        (
            put.instant(m["created_at"]),
            case.reference,
            m["recipient"],
            m["to_addr"],
            m["subject"],
            m["body"],
            0,
            put.instant(m["created_at"]),
        )
        for case, composed in zip(cases, mails, strict=True)
        for m in composed
    ]
    if rows:
        cursor.execute(
            put.sql(
                "INSERT INTO outbox (created_at, case_reference, recipient, to_addr, subject,"
                " body, attempts, next_attempt_at) VALUES " + _values(8, len(rows))
            ),
            [value for row in rows for value in row],
        )


def _append_audit(
    cursor: Any, put: _Converter, cases: Sequence[CaseRow], audits: Sequence[AuditRow]
) -> None:
    """The same chain as `audit.record_many`: one head upsert, one update, one insert."""
    cursor.execute(
        put.sql(
            "INSERT INTO audit_head (id, seq, last_hash) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seq = audit_head.seq + excluded.seq"
            " RETURNING seq, last_hash"
        ),
        (len(cases), GENESIS_HASH),
    )
    last_seq, prev_hash = cursor.fetchone()
    rows = []
    for seq, (case, event) in enumerate(zip(cases, audits, strict=True), last_seq - len(cases) + 1):
        digest = event_hash(
            actor=event.actor,
            at=case.received_at,
            case_reference=case.reference,
            action=event.action,
            changes=event.changes,
            prev_hash=prev_hash,
        )
        rows.append(
            (
                seq,
                put.instant(case.received_at),
                event.actor,
                case.reference,
                event.action,
                put.json(event.changes),
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
    cursor.execute(put.sql("UPDATE audit_head SET last_hash = ? WHERE id = 1"), (prev_hash,))
    cursor.execute(
        put.sql(
            "INSERT INTO audit_events (seq, at, actor, case_reference, action, changes,"
            " prev_hash, hash) VALUES " + _values(8, len(rows))
        ),
        [value for row in rows for value in row],
    )


def _values(columns: int, rows: int) -> str:
    row = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([row] * rows)


class _Converter:
    """Parameters and placeholders as each driver wants them."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        if not sqlite:
            from psycopg.types.json import Json

            self._json = Json

    def sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def instant(self, value: datetime | None) -> Any:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        # SQLAlchemy's SQLite DATETIME text format, so the ORM reads these rows back.
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else utc

    def json(self, value: Any) -> Any:
        return json.dumps(value) if self.sqlite else self._json(value)
