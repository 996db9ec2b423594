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

from sqlalchemy import select, update
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

    The one place the formula lives: writing an event and verifying the chain both call it.
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
    changes = changes or {}
    connection = session.connection()
    statement = _advance_head_statement(connection.dialect.name)
    seq, prev_hash = connection.execute(statement).one()
    digest = event_hash(
        actor=actor,
        at=at,
        case_reference=case_reference,
        action=action,
        changes=changes,
        prev_hash=prev_hash,
    )
    connection.execute(
        update(table_of(AuditHead)).where(table_of(AuditHead).c.id == _HEAD_ID),
        {"last_hash": digest},
    )
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        case_reference=case_reference,
        action=action,
        changes=changes,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(event)
    session.flush()
    return event


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


@functools.cache
def _advance_head_statement(dialect: str) -> Any:
    """Lock the head row (creating it on first use), advance it by one event, and return
    (the new event's seq, the previous hash)."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    head = table_of(AuditHead)
    return (
        module.insert(head)
        .values(id=_HEAD_ID, seq=1, last_hash=GENESIS_HASH)
        .on_conflict_do_update(index_elements=["id"], set_={"seq": head.c.seq + 1})
        .returning(head.c.seq, head.c.last_hash)
    )
