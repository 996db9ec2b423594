"""The audit log: append-only, each event chained to the one before by its hash.

An event's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of its
actor, instant, case reference, action, changes and the previous event's hash; the first
event's previous hash is 64 zeros. Editing, removing or reordering any event breaks every
hash after it, which `verify_chain` reports. The database refuses UPDATE and DELETE on the
table (triggers), and the single `audit_head` row serializes appends.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.cases.models import AuditEvent, AuditHead, table_of

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


def canonical(
    *,
    actor: str,
    at: datetime,
    case_reference: str | None,
    action: str,
    changes: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over."""
    document = {
        "action": action,
        "actor": actor,
        "at": at.astimezone(UTC).isoformat(),
        "case": case_reference,
        "changes": changes,
        "prev_hash": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(
    *,
    actor: str,
    at: datetime,
    case_reference: str | None,
    action: str,
    changes: dict[str, Any],
    prev_hash: str,
) -> str:
    """An event's hash: SHA-256 over its canonical bytes, chained by `prev_hash`.

    The one place the formula lives: writing one event, writing a batch and verifying the
    chain all call it.
    """
    document = canonical(
        actor=actor,
        at=at,
        case_reference=case_reference,
        action=action,
        changes=changes,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(document).hexdigest()


class PreparedEvent:
    """An event whose case reference and previous hash are not known yet.

    A submission's event gets both only inside the write lock; everything else in its
    canonical bytes is encoded beforehand, so that `hash(case_reference, prev_hash)` there is
    two joins and one SHA-256. It equals `event_hash` with the same fields (tests hold it).
    """

    parts: tuple[bytes, bytes, bytes]  # the canonical bytes around the two slots

    def __init__(self, *, actor: str, at: datetime, action: str, changes: dict[str, Any]) -> None:
        document = canonical(
            actor=actor,
            at=at,
            case_reference=_CASE_SLOT,
            action=action,
            changes=changes,
            prev_hash=_HASH_SLOT,
        )
        case_slot, hash_slot = _encoded(_CASE_SLOT), _encoded(_HASH_SLOT)
        if document.count(case_slot) != 1 or document.count(hash_slot) != 1:
            raise ValueError("an event's fields must not contain the slots' markers")
        head, _, rest = document.partition(case_slot)
        middle, _, tail = rest.partition(hash_slot)
        self.parts = (head, middle, tail)

    @classmethod
    def from_parts(cls, parts: tuple[bytes, bytes, bytes]) -> PreparedEvent:
        """The event whose `parts` these are (as sent to the writer process)."""
        event = cls.__new__(cls)
        event.parts = parts
        return event

    def hash(self, case_reference: str, prev_hash: str) -> str:
        head, middle, tail = self.parts
        return hashlib.sha256(
            head + _encoded(case_reference) + middle + _encoded(prev_hash) + tail
        ).hexdigest()


# Markers no real field holds (a NUL is never part of a reference, and `changes` are ours).
_CASE_SLOT = "\x00case\x00"
_HASH_SLOT = "\x00prev_hash\x00"


def _encoded(value: str) -> bytes:
    """A string as `canonical` encodes it."""
    return json.dumps(value, ensure_ascii=False).encode()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    at: datetime,
    case_reference: str | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event in the session's transaction; it is kept only if that transaction commits.

    Call it last in a transaction: the head row stays locked until commit.
    """
    event = Event(actor, action, at, case_reference, changes or {})
    return record_many(session, [event])[0]


@dataclass(frozen=True)
class Event:
    """An event to record: who did what, when, to which case, with which changes."""

    actor: str
    action: str
    at: datetime
    case_reference: str | None
    changes: dict[str, Any]


def record_many(session: Session, events: list[Event]) -> list[AuditEvent]:
    """Append `events` in order with three statements, whatever their number."""
    if not events:
        return []
    connection = session.connection()
    statement = _advance_head_statement(connection.dialect.name)
    last_seq, prev_hash = connection.execute(statement, {"count": len(events)}).one()
    rows = []
    for seq, event in enumerate(events, start=last_seq - len(events) + 1):
        digest = event_hash(
            actor=event.actor,
            at=event.at,
            case_reference=event.case_reference,
            action=event.action,
            changes=event.changes,
            prev_hash=prev_hash,
        )
        rows.append(
            {
                "seq": seq,
                "at": event.at,
                "actor": event.actor,
                "case_reference": event.case_reference,
                "action": event.action,
                "changes": event.changes,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    # Core statements, not the ORM: this runs inside every submission's write lock.
    connection.execute(_SET_HEAD, {"last_hash": prev_hash})
    connection.execute(_INSERT_EVENT, rows)
    return [AuditEvent(**row) for row in rows]


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain does not hold, and why."""

    seq: int
    reason: str


def verify_chain(session: Session) -> list[ChainBreak]:
    """Recompute every hash in order; an empty list means the log is intact."""
    breaks: list[ChainBreak] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for event in _events(session):
        if event.seq != expected_seq:
            breaks.append(ChainBreak(event.seq, f"expected event number {expected_seq}"))
        if event.prev_hash != expected_prev:
            breaks.append(ChainBreak(event.seq, "does not follow the previous event's hash"))
        digest = event_hash(
            actor=event.actor,
            at=event.at,
            case_reference=event.case_reference,
            action=event.action,
            changes=event.changes,
            prev_hash=event.prev_hash,
        )
        if digest != event.hash:
            breaks.append(ChainBreak(event.seq, "its contents do not match its hash"))
        expected_prev = event.hash
        expected_seq = event.seq + 1
    head = session.get(AuditHead, _HEAD_ID)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != expected_prev):
        breaks.append(ChainBreak(head.seq, "the chain's head does not match its last event"))
    return breaks


def _events(session: Session) -> Iterator[AuditEvent]:
    yield from session.scalars(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    )


_SET_HEAD = (
    update(table_of(AuditHead))
    .where(table_of(AuditHead).c.id == _HEAD_ID)
    .values(last_hash=bindparam("last_hash"))
)
# RETURNING: many rows in one multi-VALUES statement (see services._INSERT_DEADLINE).
_INSERT_EVENT = insert(table_of(AuditEvent)).returning(table_of(AuditEvent).c.id)


@functools.cache
def _advance_head_statement(dialect: str) -> Any:
    """Lock the head row (creating it on first use), advance it by `count` events, and return
    (last new seq, previous hash)."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    head = table_of(AuditHead)
    return (
        module.insert(head)
        .values(id=_HEAD_ID, seq=bindparam("count"), last_hash=GENESIS_HASH)
        .on_conflict_do_update(index_elements=["id"], set_={"seq": head.c.seq + bindparam("count")})
        .returning(head.c.seq, head.c.last_hash)
    )
