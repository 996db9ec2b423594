"""The submission write path: a batch of submissions in a fixed handful of statements.

Every submission takes this path inside the database's write lock (SQLite) or its counter
and audit-head row locks (PostgreSQL), which only one transaction holds at a time. So the
work is split in two:

- `encode` (in the request's own thread, before any lock): every row as driver parameters,
  instants and JSON already converted, mail texts composed, the audit event's bytes encoded.
  What only the lock can tell, the reference, the case id and the place in the audit
  chain, is left open.
- `write_batch` (inside the lock): take the reference numbers and the chain's head, fill
  in the blanks, and insert every row with multi-row INSERTs, whatever the batch size,
  straight through the driver.

Little happens under the lock, and few round trips: in a busy process the writing thread
shares the GIL with every request thread, and each time it waits for the database it may
wait as long again to get the GIL back, with the lock still held.

The tables and columns are those of `portal.cases.models` (the migrations test holds them
equal); values are converted exactly as the column types would (`UtcDateTime`: UTC, naive
text on SQLite; `JSON`: `json.dumps`).
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable, Sequence
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

    def to_wire(self) -> tuple[Any, ...]:
        """What the writer process (`writer_service`) needs, in plain values `marshal` takes:
        not the case it came from, as the writer only gives it a reference and an id."""
        return (
            self.prefix,
            self.year,
            self.case_values,
            self.deadline_values,
            self.mails,
            self.event.parts,
            self.event_values,
        )

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...]) -> Encoded:
        """The submission `to_wire` gave, with a blank case to take its reference and id."""
        prefix, year, case_values, deadline_values, mails, parts, event_values = wire
        return cls(
            Numbered(),  # type: ignore[arg-type]  # all `write_batch` sets or reads of a case
            prefix,
            year,
            case_values,
            deadline_values,
            mails,
            PreparedEvent.from_parts(parts),
            event_values,
        )


@dataclass
class Numbered:
    """What the write lock gives a case: its reference and its id."""

    reference: str = ""
    id: int = 0


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

    First the statements that lock (the reference counters and the audit chain's head),
    then everything else, computed from their answers. SQLite runs them one by one, in
    process; PostgreSQL gets them as two statements (data-modifying WITH clauses), so the
    locks are held for two round trips, not seven.
    """
    sqlite = connection.dialect.name == "sqlite"
    driver: Any = connection.connection.dbapi_connection
    groups: dict[tuple[str, int], list[CaseRow]] = {}
    for item in items:
        groups.setdefault((item.prefix, item.year), []).append(item.case)
    counters = sorted(groups.items())  # every writer locks them in this one order
    locks = [
        _Statement("counter", 1, (prefix, year, len(group))) for (prefix, year), group in counters
    ]
    locks.append(_Statement("audit_head", 1, (len(items), GENESIS_HASH)))
    if sqlite:
        cursor = driver.cursor()
        run: Callable[[list[_Statement], int], list[Any]] = functools.partial(_run_sqlite, cursor)
    else:
        from psycopg import RawCursor

        cursor = RawCursor(driver)
        run = functools.partial(_run_postgresql, cursor)
    try:
        answer = run(locks, -1)[0]  # one row: each counter's last number, the head's seq and hash
        for ((prefix, year), group), last in zip(counters, answer, strict=False):
            for number, case in enumerate(group, start=int(last) - len(group) + 1):
                case.reference = f"{prefix}-{year:04d}-{number:06d}"
        last_seq, prev_hash = answer[-2:]
        deadlines, mails = _dependent_rows(items)
        events, last_hash = _audit_rows(items, last_seq, prev_hash)
        rest = [
            _Statement(
                "cases",
                len(items),
                [value for item in items for value in (item.case.reference, *item.case_values)],
            )
        ]
        if deadlines:
            rest.append(_Statement("deadlines", len(deadlines) // 12, deadlines))
        if mails:
            rest.append(_Statement("outbox", len(mails) // 8, mails))
        rest.append(_Statement("audit_head_hash", 1, [last_hash]))
        rest.append(_Statement("audit_events", len(items), events))
        ids = dict(run(rest, 0))  # the new cases' (reference, id)
        for item in items:
            item.case.id = ids[item.case.reference]
    finally:
        cursor.close()
    return [item.case for item in items]


@dataclass(frozen=True)
class _Statement:
    name: str
    rows: int
    params: Sequence[Any]


def _run_sqlite(cursor: Any, statements: list[_Statement], answer: int) -> list[Any]:
    """Run `statements` in order; return the rows of statement `answer` (-1: one row made of
    every statement's single row)."""
    rows: list[Any] = []
    for statement in statements:
        cursor.execute(_sql(statement.name, statement.rows, sqlite=True), statement.params)
        if answer == -1:
            rows.extend(cursor.fetchone())
        elif statement is statements[answer]:
            rows = cursor.fetchall()
    return [tuple(rows)] if answer == -1 else rows


def _run_postgresql(cursor: Any, statements: list[_Statement], answer: int) -> list[Any]:
    """As `_run_sqlite`, in one statement: each one a WITH clause of it."""
    names = tuple((s.name, s.rows) for s in statements)
    params = [value for statement in statements for value in statement.params]
    # Not in a pipeline (which would send BEGIN along with it): psycopg's pipeline waits for
    # the answer by polling a socket that is always writable, spinning meanwhile.
    rows: list[Any] = cursor.execute(_combined(names, answer), params).fetchall()
    return rows


@functools.lru_cache(maxsize=512)
def _combined(statements: tuple[tuple[str, int], ...], answer: int) -> str:
    """One PostgreSQL statement running `statements`, each a WITH clause (PostgreSQL runs
    them all, whichever the query reads), and returning what `_run_sqlite` would."""
    # Rows a clause inserts are not in the table for the other clauses: they read the clause.
    cases = next((f"s{n}" for n, (name, _) in enumerate(statements) if name == "cases"), "cases")
    clauses = [
        f"s{n} AS ({_text(name, rows, sqlite=False, cases=cases)})"
        for n, (name, rows) in enumerate(statements)
    ]
    if answer == -1:
        read = ", ".join(f"s{n}" for n in range(len(statements)))
    else:
        read = f"s{answer}"
    return _numbered("WITH " + ", ".join(clauses) + f" SELECT * FROM {read}")


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
        " due_at, met_at, paused, paused_at) SELECT {cases}.id, v.column2, v.column3{ts},"
        " v.column4, v.column5, v.column6, v.column7, v.column8{ts}, v.column9{ts}, v.column10,"
        " v.column11{ts} FROM (VALUES {rows}) AS v JOIN {cases} ON {cases}.reference = v.column1"
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
def _sql(name: str, rows: int, *, sqlite: bool) -> str:
    """Statement `name` for `rows` rows, alone, in the driver's parameter style."""
    text = _text(name, rows, sqlite=sqlite, cases="cases")
    return text if sqlite else _numbered(text)


def _text(name: str, rows: int, *, sqlite: bool, cases: str) -> str:
    """Statement `name` for `rows` rows with `?` parameters; deadlines find their case in
    `cases` (the table, or the clause that inserts the new ones)."""
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
    return statement.replace("{cases}", cases)


def _numbered(text: str) -> str:
    """PostgreSQL's own numbered parameters, for a cursor that passes the statement as it is:
    psycopg would otherwise parse every long statement afresh (it caches short ones only)."""
    parts = text.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


class _Converter:
    """Values as each driver wants them, as SQLAlchemy's column types would convert them."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        # A submission names few instants many times (its receipt: case, mails, audit).
        self._converted: dict[datetime, str] = {}

    def instant(self, value: datetime | None) -> str | None:
        """An instant as text, so that every encoded value is a plain one (`Encoded.to_wire`)."""
        if value is None:
            return None
        converted = self._converted.get(value)
        if converted is None:
            utc = value.astimezone(UTC)
            if self.sqlite:
                # SQLAlchemy's SQLite DATETIME text, `2026-11-26 09:30:00.000000`, so the ORM
                # reads these rows back (`isoformat` writes it in half the time of `strftime`).
                converted = utc.replace(tzinfo=None).isoformat(" ", "microseconds")
            else:
                # ISO 8601 with its offset: psycopg sends text as of no type, and PostgreSQL
                # reads it as the `timestamptz` of the column, or of the statement's cast.
                converted = utc.isoformat()
            self._converted[value] = converted
        return converted

    def json(self, value: Any) -> str:
        # As SQLAlchemy's JSON type writes it; PostgreSQL casts the text (`::json`).
        return json.dumps(value)
