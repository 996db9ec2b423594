"""The write path's pieces computed before the write lock equal what they stand for."""

from __future__ import annotations

import marshal
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import prepared_submission

from portal.cases import services
from portal.cases.audit import PreparedEvent, event_hash
from portal.cases.writer import Encoded
from portal.catalog import Catalog

NOW = datetime(2026, 11, 26, 15, 30, 12, 250000, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
# Hypothesis bounds wall times (naive), then attaches the time zone.
_FIRST, _LAST = datetime(2000, 1, 1), datetime(2100, 1, 1)  # noqa: DTZ001
instants = st.datetimes(min_value=_FIRST, max_value=_LAST, timezones=st.just(UTC))


@given(
    actor=st.text(),
    action=st.text(),
    at=instants,
    changes=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    reference=st.text(),
    prev_hash=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_a_prepared_event_hashes_as_event_hash(
    actor: str, action: str, at: datetime, changes: dict[str, Any], reference: str, prev_hash: str
) -> None:
    prepared = PreparedEvent(actor=actor, at=at, action=action, changes=changes)
    assert prepared.hash(reference, prev_hash) == event_hash(
        actor=actor,
        at=at,
        case_reference=reference,
        action=action,
        changes=changes,
        prev_hash=prev_hash,
    )


def test_a_prepared_event_keeps_the_instant_in_utc() -> None:
    paris = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Paris"))
    prepared = PreparedEvent(actor="a", at=paris, action="b", changes={})
    expected = event_hash(
        actor="a", at=paris, case_reference="INC-2026-000001", action="b", changes={}, prev_hash="0"
    )
    assert prepared.hash("INC-2026-000001", "0") == expected


def test_fields_holding_a_slot_marker_are_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        PreparedEvent(actor="\x00case\x00", at=datetime.now(UTC), action="b", changes={})


@pytest.mark.parametrize("sqlite", [True, False])
@pytest.mark.parametrize("n", [1, 3])  # an incident notice, a request for information
def test_an_encoded_submission_crosses_to_the_writer_whole(
    catalog: Catalog, n: int, sqlite: bool
) -> None:
    """What a worker sends the writer process (`to_wire`, marshalled) comes back the same:
    every value a plain one, the audit event hashing alike."""
    encoded = services.encode(prepared_submission(catalog, n, NOW), sqlite=sqlite)
    received = Encoded.from_wire(marshal.loads(marshal.dumps(encoded.to_wire())))
    for name in ("prefix", "year", "case_values", "deadline_values", "mails", "event_values"):
        assert getattr(received, name) == getattr(encoded, name)
    assert received.event.hash("INC-2026-000001", "0") == encoded.event.hash("INC-2026-000001", "0")
    assert (received.case.reference, received.case.id) == ("", 0)
