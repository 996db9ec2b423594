"""Retention of case files (Code of Practice, Measure 9.4): the date until which each is kept."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal.cases.retention import kept_until
from portal.catalog import Policy


@pytest.mark.parametrize(
    ("closed_at", "expected"),
    [
        (datetime(2026, 12, 4, 10, 0, tzinfo=UTC), date(2031, 12, 4)),
        # 23:30 UTC on 31 December is already 1 January in Paris: the local day counts.
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2032, 1, 1)),
        # 29 February has no twin five years later: the next day, never earlier.
        (datetime(2028, 2, 29, 12, 0, tzinfo=UTC), date(2033, 3, 1)),
    ],
)
def test_a_closed_incident_is_kept_five_years_from_closing(
    closed_at: datetime, expected: date
) -> None:
    assert kept_until("incident", closed_at, Policy()) == expected


def test_an_open_incident_says_the_period_in_words() -> None:
    assert kept_until("incident", None, Policy()) == "5 years after closing"


def test_the_period_comes_from_the_policy() -> None:
    policy = Policy.model_validate({"retention": {"incident-files": "7y"}})
    assert kept_until("incident", None, policy) == "7 years after closing"
    closed = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert kept_until("incident", closed, policy) == date(2033, 6, 1)


def test_information_requests_have_no_retention_date() -> None:
    closed = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert kept_until("information-request", closed, Policy()) is None
