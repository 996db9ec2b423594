"""Case references: `INC-2026-000042`, numbered per prefix and year of receipt.

The number comes from a counter row incremented by one upsert inside the case's own
transaction: PostgreSQL holds that row's lock until commit and SQLite has a single writer, so
two submissions can never take the same number, and a rolled-back submission gives its
number back. The unique constraint on `cases.reference` is the last guard.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.cases.models import REFERENCE_PREFIXES, ReferenceCounter, table_of

REFERENCE_PATTERN = re.compile(r"^(INC|REQ)-[0-9]{4}-[0-9]{6,}$")


def next_reference(session: Session, kind: str, year: int) -> str:
    """Take the next reference for `kind` in `year`, within the session's transaction."""
    prefix = REFERENCE_PREFIXES[kind]
    connection = session.connection()
    statement = _statement(connection.dialect.name)
    number = connection.execute(statement, {"prefix": prefix, "year": year}).scalar_one()
    return f"{prefix}-{year:04d}-{number:06d}"


def is_reference(text: str) -> bool:
    """Whether `text` looks like a reference (cheap check before touching the database)."""
    return bool(REFERENCE_PATTERN.match(text))


@functools.cache
def _statement(dialect: str) -> Any:
    module: Any
    if dialect == "postgresql":
        module = postgresql
    elif dialect == "sqlite":
        module = sqlite
    else:
        raise NotImplementedError(f"references need PostgreSQL or SQLite, not {dialect}")
    table = table_of(ReferenceCounter)
    return (
        module.insert(table)
        .values(prefix=bindparam("prefix"), year=bindparam("year"), last=1)
        .on_conflict_do_update(index_elements=["prefix", "year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
