"""The submission write path: a batch of submissions in seven driver-level statements.

Every submission takes this path inside the database's write lock (SQLite) or its counter
and audit-head row locks (PostgreSQL), which only one transaction holds at a time. So the
work is split in two:

- `encode` (in the request's own thread, before any lock): every row as driver parameters,
  instants and JSON already converted, mail texts composed, the audit event's bytes encoded.
  What only the lock can tell, the reference, the case id and the place in the audit
  chain, is left open.
- `write_batch` (inside the lock): take the reference numbers, fill in the blanks, and send
  multi-row INSERTs and one upsert for the numbers and one for the audit chain's head,
  whatever the batch size, straight to the driver's cursor.

Little Python runs under the lock: in a busy process the writing thread shares the GIL with
every request thread, and each step it takes there keeps the lock held for longer.

The tables and columns are those of `portal.cases.models` (the migrations test holds them
equal); values are converted exactly as the column types would (`UtcDateTime`: UTC, naive
text on SQLite; `JSON`: `json.dumps`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from portal.cases.audit import GENESIS_HASH, PreparedEvent
from portal.cases.models import REFERENCE_PREFIXES

# Mails are composed before the reference exists; this stands for it in their texts. A
# random part, so that no text the portal writes can hold it by chance.
REFERENCE_SLOT = f"\x00reference-{secrets.token_hex(8)}\x00"


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


@dataclass(frozen=True)
class MailRow:
    """An outbox mail whose subject and body may hold `REFERENCE_SLOT`."""

    created_at: datetime
    recipient: str
    to_addr: str | None
    subject: str
    body: str


@dataclass
class Encoded:
    """One submission as driver parameters, but for its reference, id and audit chain place."""

    case: CaseRow
    prefix: str
    year: int
    case_values: tuple[Any, ...]  # the `cases` columns after `reference`
    deadline_values: list[tuple[Any, ...]]  # the `deadlines` columns after `case_id`
    # Per mail: subject and body split at the reference, and the other columns.
    mails: list[tuple[list[str], list[str], tuple[Any, ...]]]
    event: PreparedEvent
    event_values: tuple[Any, ...]  # at, actor, action, changes


def encode(case: CaseRow, mails: Sequence[MailRow], audit: AuditRow, *, sqlite: bool) -> Encoded:
    """Everything `write_batch` needs of a submission that does not depend on the lock."""
    put = _Converter(sqlite)
    received = put.instant(case.received_at)
    return Encoded(
        case=case,
        prefix=REFERENCE_PREFIXES[case.kind],
        year=case.received_at.astimezone(UTC).year,
        case_values=(
            case.kind,
            case.status,
            received,
            received,
            case.token_hash,
            put.json(case.submission),
            put.instant(case.next_due_at),
        ),
        deadline_values=[
            (
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
        ],
        mails=[
            (
                m.subject.split(REFERENCE_SLOT),
                m.body.split(REFERENCE_SLOT),
                (m.recipient, m.to_addr, put.instant(m.created_at)),
            )
            for m in mails
        ],
        event=PreparedEvent(
            actor=audit.actor, at=case.received_at, action=audit.action, changes=audit.changes
        ),
        event_values=(received, audit.actor, audit.action, put.json(audit.changes)),
    )


def write_batch(connection: Connection, items: Sequence[Encoded]) -> list[CaseRow]:
    """Write `items` (cases, their deadlines, mails and one audit event each) in order, in
    the connection's transaction, without committing; return their cases, each with its
    reference and id set.

    First the statements that lock (the reference counters, then the audit chain's head, in
    that order for every writer, so none can deadlock), then everything else, computed from
    their answers. On PostgreSQL the statements go out in a pipeline: one round trip for the
    locks, one for the rest, where a statement at a time would take seven.
    """
    sqlite = connection.dialect.name == "sqlite"
    driver: Any = connection.connection.dbapi_connection
    if sqlite:
        pipeline: Any = contextlib.nullcontext()
        new_cursor = driver.cursor
    else:
        from psycopg import RawCursor

        pipeline = driver.pipeline()
        new_cursor = functools.partial(RawCursor, driver)
    with pipeline:
        cursors: list[Any] = []
        try:
            groups: dict[tuple[str, int], list[CaseRow]] = {}
            for item in items:
                groups.setdefault((item.prefix, item.year), []).append(item.case)
            counters = sorted(groups.items())
            for (prefix, year), group in counters:
                cursors.append(new_cursor())
                cursors[-1].execute(_sql("counter", 1, sqlite), (prefix, year, len(group)))
            cursors.append(new_cursor())
            cursors[-1].execute(_sql("audit_head", 1, sqlite), (len(items), GENESIS_HASH))
            for cursor, ((prefix, year), group) in zip(cursors, counters, strict=False):
                last = int(cursor.fetchone()[0])
                for number, case in enumerate(group, start=last - len(group) + 1):
                    case.reference = f"{prefix}-{year:04d}-{number:06d}"
            last_seq, prev_hash = cursors[-1].fetchone()
            cases = new_cursor()
            cursors.append(cases)
            cases.execute(
                _sql("cases", len(items), sqlite),
                [value for item in items for value in (item.case.reference, *item.case_values)],
            )
            rest = new_cursor()
            cursors.append(rest)
            deadlines, mails = _dependent_rows(items)
            if deadlines:
                rest.execute(_sql("deadlines", len(deadlines) // 12, sqlite), deadlines)
            if mails:
                rest.execute(_sql("outbox", len(mails) // 8, sqlite), mails)
            events, last_hash = _audit_rows(items, last_seq, prev_hash)
            rest.execute(_sql("audit_head_hash", 1, sqlite), (last_hash,))
            rest.execute(_sql("audit_events", len(items), sqlite), events)
            ids = dict(cases.fetchall())
            for item in items:
                item.case.id = ids[item.case.reference]
        finally:
            for cursor in cursors:
                cursor.close()
    return [item.case for item in items]


def _dependent_rows(items: Sequence[Encoded]) -> tuple[list[Any], list[Any]]:
    """The deadlines (found by their case's reference) and mails, once references are known."""
    deadlines: list[Any] = []
    mails: list[Any] = []
    for item in items:
        reference = item.case.reference
        for values in item.deadline_values:
            deadlines.append(reference)
            deadlines.extend(values)
            deadlines.append(len(deadlines))  # its place, to keep the order
        for subject, body, (recipient, to_addr, created) in item.mails:
            mails.extend(
                (
                    created,
                    reference,
                    recipient,
                    to_addr,
                    reference.join(subject),
                    reference.join(body),
                    0,
                    created,
                )
            )
    return deadlines, mails


def _audit_rows(items: Sequence[Encoded], last_seq: int, prev_hash: str) -> tuple[list[Any], str]:
    """The audit events that chain onto the head (the same chain as `audit.record_many`)."""
    rows: list[Any] = []
    for seq, item in enumerate(items, last_seq - len(items) + 1):
        at, actor, action, changes = item.event_values
        digest = item.event.hash(item.case.reference, prev_hash)
        rows.extend((seq, at, actor, item.case.reference, action, changes, prev_hash, digest))
        prev_hash = digest
    return rows, prev_hash


# The statements, with `?` for each value; `{rows}` repeats the row of values.
_STATEMENTS: dict[str, str | tuple[str, str]] = {
    "counter": (
        "INSERT INTO reference_counters (prefix, year, last) VALUES (?, ?, ?)"
        " ON CONFLICT (prefix, year) DO UPDATE"
        " SET last = reference_counters.last + excluded.last RETURNING last"
    ),
    "cases": (
        "INSERT INTO cases (reference, kind, status, received_at, updated_at, token_hash,"
        " submission, next_due_at) VALUES {rows} RETURNING reference, id",
        "(?, ?, ?, ?, ?, ?, ?{json}, ?)",
    ),
    # Each deadline finds its case by reference: no round trip for the new cases' ids.
    "deadlines": (
        "INSERT INTO deadlines (case_id, name, trigger_at, period, rule, timezone, holidays,"
        " due_at, met_at, paused, paused_at) SELECT cases.id, v.column2, v.column3{ts},"
        " v.column4, v.column5, v.column6, v.column7, v.column8{ts}, v.column9{ts}, v.column10,"
        " v.column11{ts} FROM (VALUES {rows}) AS v JOIN cases ON cases.reference = v.column1"
        " ORDER BY v.column12",  # ids in the order given
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    "outbox": (
        "INSERT INTO outbox (created_at, case_reference, recipient, to_addr, subject, body,"
        " attempts, next_attempt_at) VALUES {rows}",
        "(?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    "audit_head": (
        "INSERT INTO audit_head (id, seq, last_hash) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET seq = audit_head.seq + excluded.seq"
        " RETURNING seq, last_hash"
    ),
    "audit_head_hash": "UPDATE audit_head SET last_hash = ? WHERE id = 1",
    "audit_events": (
        "INSERT INTO audit_events (seq, at, actor, case_reference, action, changes, prev_hash,"
        " hash) VALUES {rows}",
        "(?, ?, ?, ?, ?, ?{json}, ?, ?)",
    ),
}


@functools.lru_cache(maxsize=512)
def _sql(name: str, rows: int, sqlite: bool) -> str:
    """Statement `name` for `rows` rows, in the driver's parameter style."""
    template = _STATEMENTS[name]
    if isinstance(template, tuple):
        text, row = template
        # PostgreSQL gets JSON as text, cast in the statement (see `_Converter.json`).
        row = row.replace("{json}", "" if sqlite else "::json")
        statement = text.replace("{rows}", ", ".join([row] * rows))
    else:
        statement = template
    # PostgreSQL types a VALUES column of NULLs as text: say when it holds instants.
    statement = statement.replace("{ts}", "" if sqlite else "::timestamptz")
    if sqlite:
        return statement
    # PostgreSQL's own numbered parameters, for a cursor that passes the statement as it is:
    # psycopg would otherwise parse every long statement afresh (it caches short ones only).
    parts = statement.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


class _Converter:
    """Values as each driver wants them, as SQLAlchemy's column types would convert them."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def instant(self, value: datetime | None) -> Any:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        if not self.sqlite:
            return utc
        # SQLAlchemy's SQLite DATETIME text, `2026-11-26 09:30:00.000000`, so the ORM reads
        # these rows back (`isoformat` writes it in half the time `strftime` takes).
        return utc.replace(tzinfo=None).isoformat(" ", "microseconds")

    def json(self, value: Any) -> str:
        # As SQLAlchemy's JSON type writes it; PostgreSQL casts the text (`::json`).
        return json.dumps(value)
