"""Columns that hold what submitters wrote, sealed with AES-256-GCM (`portal.proof.sealing`).

`SealedText` seals a whole value. `SealedJSON` keeps a submission's `CLEAR_FIELDS` (the
products, categories, topic and instants the dashboard filters and sorts on) beside
`"sealed"`, the whole document sealed; what is read back is the document as submitted.
Values stored before encryption (no `enc:v1:` prefix) read as they are, which is what lets
`seal_existing` (the migration) run twice and change nothing the second time.

Column types cannot see the app, so the keys live here, for the process: `use_data_key`
(called by `create_app` and `portal db upgrade`) adds a key and makes it the one that
seals; every key added still opens what it sealed.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Integer, Text, TypeDecorator, column, select, table, update
from sqlalchemy.engine import Connection, Dialect

from portal.proof.keys import ProofError
from portal.proof.sealing import DataKey, is_sealed, key_id_of

CLEAR_FIELDS = (
    "product",
    "products",
    "product_version",
    "categories",
    "topic",
    "aware_at",
    "started_at",
)
SEALED = "sealed"
_keys: dict[str, DataKey] = {}
_current: list[DataKey] = []


def use_data_key(key: DataKey) -> None:
    """Seal with `key` from now on in this process (and keep opening with earlier ones)."""
    _keys[key.id] = key
    _current[:] = [key]


def seal_text(text: str) -> str:
    """`text` sealed with the current key."""
    if not _current:
        raise ProofError("no data key: the app (or `portal db upgrade`) loads it first")
    return _current[0].seal(text)


def open_text(value: str) -> str:
    """The text of a sealed value, or a value stored before encryption as it is."""
    if not is_sealed(value):
        return value
    key = _keys.get(key_id_of(value))
    if key is None:
        raise ProofError(f"content sealed with data key {key_id_of(value)}, which is not loaded")
    return key.open(value)


def seal_document(document: dict[str, Any]) -> dict[str, Any]:
    """A submission as stored: its clear fields, and the whole of it sealed."""
    if is_sealed(document.get(SEALED)):
        return document
    stored = {name: document[name] for name in CLEAR_FIELDS if name in document}
    stored[SEALED] = seal_text(json.dumps(document, ensure_ascii=False))
    return stored


def open_document(stored: dict[str, Any]) -> dict[str, Any]:
    """A submission as submitted, from its stored form."""
    if not is_sealed(stored.get(SEALED)):
        return stored
    document: dict[str, Any] = json.loads(open_text(stored[SEALED]))
    return document


class SealedText(TypeDecorator[str]):
    """Text sealed at rest."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None or is_sealed(value) else seal_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else open_text(value)


class SealedJSON(TypeDecorator[dict[str, Any]]):
    """A submission's JSON, sealed at rest but for its `CLEAR_FIELDS`."""

    impl = JSON
    cache_ok = True

    def process_bind_param(
        self, value: dict[str, Any] | None, dialect: Dialect
    ) -> dict[str, Any] | None:
        return None if value is None else seal_document(value)

    def process_result_value(
        self, value: dict[str, Any] | None, dialect: Dialect
    ) -> dict[str, Any] | None:
        return None if value is None else open_document(value)


def seal_existing(connection: Connection, *, undo: bool = False) -> int:
    """Seal every row stored in clear (submissions, messages, outbox addresses and bodies),
    or with `undo` open every sealed one; return how many rows changed. Rows already in the
    wanted form are left alone, so a second run changes nothing.

    Plain table definitions, not the models: a migration must see the tables as they are at
    its revision, and read and write the stored form, around the sealing column types.
    """
    changed = 0
    cases = table("cases", column("id", Integer), column("submission", JSON))
    for row in connection.execute(select(cases.c.id, cases.c.submission)).all():
        stored = row.submission if isinstance(row.submission, dict) else json.loads(row.submission)
        if is_sealed(stored.get(SEALED)) == undo:
            new = open_document(stored) if undo else seal_document(stored)
            connection.execute(update(cases).where(cases.c.id == row.id).values(submission=new))
            changed += 1
    for name, columns in (("messages", ("body",)), ("outbox", ("to_address", "body"))):
        rows = table(name, column("id", Integer), *(column(c, Text) for c in columns))
        for row in connection.execute(select(rows)).all():
            values = {
                c: open_text(value) if undo else seal_text(value)
                for c in columns
                if (value := getattr(row, c)) is not None and is_sealed(value) == undo
            }
            if values:
                connection.execute(update(rows).where(rows.c.id == row.id).values(**values))
                changed += 1
    return changed
