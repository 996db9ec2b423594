"""Tests of the deadline engine: the published table of cases, properties, explanations, pauses."""

import csv
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.deadlines import (
    Explanation,
    Period,
    apply_pauses,
    due_at,
    explain_due,
    parse_period,
)

CASES_CSV = Path(__file__).resolve().parent.parent / "site_src" / "deadlines" / "cases.csv"
COLUMNS = ["trigger", "period", "rule", "timezone", "holidays", "expected_due", "note"]
PARIS = ZoneInfo("Europe/Paris")


def _load_cases() -> list[dict[str, str]]:
    with CASES_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


CASES = _load_cases()


def test_cases_file_shape() -> None:
    """The published table has the documented columns, enough rows and one note per row."""
    with CASES_CSV.open(newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == COLUMNS
    assert len(CASES) >= 60
    notes = [case["note"] for case in CASES]
    assert len(set(notes)) == len(notes)


@pytest.mark.parametrize("case", CASES, ids=[case["note"] for case in CASES])
def test_published_case(case: dict[str, str]) -> None:
    trigger = datetime.fromisoformat(case["trigger"])
    expected = datetime.fromisoformat(case["expected_due"])
    # The table promises the expected instant in the local offset of its time zone.
    assert expected.utcoffset() == expected.astimezone(ZoneInfo(case["timezone"])).utcoffset()
    policy = {"rule": case["rule"], "timezone": case["timezone"], "holidays": case["holidays"]}
    due = due_at(trigger, case["period"], **policy)
    assert due == expected
    assert due.utcoffset() == timedelta(0)
    assert explain_due(trigger, case["period"], **policy).due == due


def test_defaults_are_exact_paris_france() -> None:
    trigger = datetime(2025, 3, 29, 2, 30, tzinfo=PARIS)
    assert due_at(trigger, "1d") == datetime(2025, 3, 30, 3, 30, tzinfo=PARIS)


def test_accepts_a_parsed_period() -> None:
    trigger = datetime(2025, 5, 5, 10, tzinfo=PARIS)
    assert due_at(trigger, Period(48, "h"), rule="eu-1182-71") == due_at(
        trigger, "48h", rule="eu-1182-71"
    )


def test_trigger_in_another_offset_counts_days_in_the_policy_zone() -> None:
    """23:30 UTC on 4 May is 01:30 on 5 May in Paris, so 5 May is the day not counted."""
    trigger = datetime(2025, 5, 4, 23, 30, tzinfo=UTC)
    assert due_at(trigger, "1d", rule="eu-1182-71") == datetime(2025, 5, 7, tzinfo=PARIS)


@pytest.mark.parametrize("text", ["48h", "14d", "2d", "60d", "1h", "2w", "100000d"])
def test_parse_period_round_trips(text: str) -> None:
    assert str(parse_period(text)) == text


def test_parse_period_value_and_unit() -> None:
    assert parse_period("48h") == Period(48, "h")
    assert parse_period("2w").days == 14
    assert parse_period("14d").days == 14


@given(st.integers(min_value=1, max_value=10**9), st.sampled_from(["h", "d", "w"]))
@settings(max_examples=200, deadline=None)
def test_parse_period_round_trips_any(value: int, unit: str) -> None:
    period = parse_period(f"{value}{unit}")
    assert (period.value, period.unit) == (value, unit)
    assert parse_period(str(period)) == period


@pytest.mark.parametrize(
    "text",
    [
        "",
        "h",
        "48",
        "0h",
        "0d",
        "-1d",
        "+2d",
        "1.5h",
        "48 h",
        " 48h",
        "48h ",
        "048h",
        "48H",
        "2m",
        "1y",
        "2 days",
        "P2D",
        "48hh",
    ],
)
def test_bad_period_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not valid"):
        parse_period(text)
    with pytest.raises(ValueError, match="not valid"):
        due_at(datetime(2025, 5, 5, tzinfo=PARIS), text)


@pytest.mark.parametrize("value", [None, 48, 2.0])
def test_period_of_wrong_type_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        parse_period(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value, unit", [(0, "h"), (-2, "d"), (True, "d"), (2, "m")])
def test_bad_period_object_is_a_value_error(value: int, unit: str) -> None:
    with pytest.raises(ValueError):
        Period(value, unit)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", ["exact", "eu-1182-71"])
def test_naive_trigger_is_a_value_error(rule: str) -> None:
    naive = datetime.fromisoformat("2025-05-05T10:00:00")
    with pytest.raises(ValueError, match="no time zone"):
        due_at(naive, "48h", rule=rule)
    with pytest.raises(ValueError, match="no time zone"):
        explain_due(naive, "2d", rule=rule)


def test_trigger_that_is_a_date_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="date and time"):
        due_at(date(2025, 5, 5), "2d")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "policy, message",
    [
        ({"rule": "calendar"}, "Unknown counting rule 'calendar'"),
        ({"rule": "EU-1182-71"}, "Unknown counting rule"),
        ({"timezone": "Europe/Atlantis"}, "Unknown time zone"),
        ({"timezone": ""}, "Unknown time zone"),
        ({"holidays": "XX"}, "Unknown holiday country"),
    ],
)
def test_bad_policy_is_a_value_error(policy: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        due_at(datetime(2025, 5, 5, tzinfo=PARIS), "2d", **policy)


@pytest.mark.parametrize("period", ["99999999d", "9999999999h"])
def test_period_beyond_the_calendar_is_a_value_error(period: str) -> None:
    with pytest.raises(ValueError, match="too long"):
        due_at(datetime(2025, 5, 5, tzinfo=PARIS), period, rule="eu-1182-71")


def test_weeks_count_as_seven_days() -> None:
    trigger = datetime(2025, 10, 18, 16, 45, tzinfo=PARIS)
    for rule in ("exact", "eu-1182-71"):
        assert due_at(trigger, "2w", rule=rule) == due_at(trigger, "14d", rule=rule)


def test_module_stays_pure() -> None:
    """Importing the engine pulls in no web, docs or database framework and no other module."""
    code = (
        "import sys, portal.deadlines; "
        "print(sorted({'flask', 'mkdocs', 'sqlalchemy'} & set(sys.modules)), "
        "sorted(m for m in sys.modules if m.startswith('portal.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['portal.deadlines']"


# Properties. Triggers are drawn from 2001 to 2032, so that 100 weeks later is still inside
# 2001-2035, outside which the `holidays` package warns for countries with lunar holidays
# (IN); half of them fall within three days of a change of clocks in Europe.


ZONES = {
    "Europe/Paris": "FR",
    "Europe/Berlin": "DE",
    "America/New_York": "US",
    "Asia/Kolkata": "IN",
    "Australia/Adelaide": "AU",
}


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def _eu_change(year: int, month: int) -> datetime:
    """European clocks change at 01:00 UTC on the last Sunday of March and of October."""
    sunday = _last_sunday(year, month)
    return datetime(sunday.year, sunday.month, sunday.day, 1, tzinfo=UTC)


_anywhere = st.integers(
    min_value=int(datetime(2001, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(datetime(2032, 12, 31, tzinfo=UTC).timestamp()),
).map(lambda seconds: datetime.fromtimestamp(seconds, tz=UTC))
_near_change = st.builds(
    lambda year, month, seconds: _eu_change(year, month) + timedelta(seconds=seconds),
    st.integers(min_value=2001, max_value=2032),
    st.sampled_from([3, 10]),
    st.integers(min_value=-3 * 86400, max_value=3 * 86400),
)
instants = st.one_of(_anywhere, _near_change)
zones = st.sampled_from(sorted(ZONES))
rules = st.sampled_from(["exact", "eu-1182-71"])
units = st.sampled_from(["h", "d", "w"])
values = st.integers(min_value=1, max_value=100)
fast = settings(max_examples=200, deadline=None)


def _policy(rule: str, zone: str) -> dict[str, str]:
    return {"rule": rule, "timezone": zone, "holidays": ZONES[zone]}


@given(instants, zones, rules, values, units)
@fast
def test_due_is_aware_utc_and_after_the_trigger(
    instant: datetime, zone: str, rule: str, value: int, unit: str
) -> None:
    trigger = instant.astimezone(ZoneInfo(zone))
    due = due_at(trigger, f"{value}{unit}", **_policy(rule, zone))
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    assert due > trigger


@given(instants, zones, rules, values, values, units)
@fast
def test_longer_period_never_ends_earlier(
    instant: datetime, zone: str, rule: str, first: int, second: int, unit: str
) -> None:
    shorter, longer = sorted((first, second))
    policy = _policy(rule, zone)
    assert due_at(instant, f"{shorter}{unit}", **policy) <= due_at(
        instant, f"{longer}{unit}", **policy
    )


@given(instants, zones, st.integers(min_value=1, max_value=10_000))
@fast
def test_exact_hours_are_elapsed_time(instant: datetime, zone: str, hours: int) -> None:
    trigger = instant.astimezone(ZoneInfo(zone))
    assert due_at(trigger, f"{hours}h", **_policy("exact", zone)) - trigger == timedelta(
        hours=hours
    )


@given(instants, zones, values)
@fast
def test_exact_days_land_on_the_same_local_date_plus_n(
    instant: datetime, zone: str, days: int
) -> None:
    tz = ZoneInfo(zone)
    due = due_at(instant, f"{days}d", **_policy("exact", zone))
    local_trigger, local_due = instant.astimezone(tz), due.astimezone(tz)
    assert local_due.date() == local_trigger.date() + timedelta(days=days)
    # Only a wall time that does not exist moves, and then by less than two hours.
    moved = datetime.combine(local_due.date(), local_due.time()) - datetime.combine(
        local_due.date(), local_trigger.time()
    )
    assert timedelta(0) <= moved < timedelta(hours=2)


@given(instants, zones, st.integers(min_value=1, max_value=1000))
@fast
def test_eu_hours_start_at_the_next_full_local_hour(
    instant: datetime, zone: str, hours: int
) -> None:
    tz = ZoneInfo(zone)
    due = due_at(instant, f"{hours}h", **_policy("eu-1182-71", zone))
    local_due = due.astimezone(tz)
    assert (local_due.minute, local_due.second, local_due.microsecond) == (0, 0, 0)
    assert timedelta(hours=hours) < due - instant <= timedelta(hours=hours + 1)


@given(instants, zones, values, st.sampled_from(["d", "w"]))
@fast
def test_eu_days_end_at_local_midnight_after_a_working_day(
    instant: datetime, zone: str, value: int, unit: str
) -> None:
    tz = ZoneInfo(zone)
    due = due_at(instant, f"{value}{unit}", **_policy("eu-1182-71", zone)).astimezone(tz)
    assert (due.hour, due.minute, due.second, due.microsecond) == (0, 0, 0, 0)
    last_day = due.date() - timedelta(days=1)
    assert last_day.weekday() < 5
    assert last_day not in holiday_calendars.country_holidays(ZONES[zone])
    assert last_day >= instant.astimezone(tz).date() + timedelta(days=value)


@given(instants, zones, rules, values, units)
@fast
def test_explanation_is_the_same_computation(
    instant: datetime, zone: str, rule: str, value: int, unit: str
) -> None:
    policy = _policy(rule, zone)
    explanation = explain_due(instant, f"{value}{unit}", **policy)
    assert explanation.due == due_at(instant, f"{value}{unit}", **policy)
    assert explanation.steps[0].startswith("The trigger is ")
    assert explanation.steps[-1].startswith("Due: ")


# Explanations, read by lawyers and customers.


def _steps(trigger: str, period: str, **policy: str) -> str:
    return str(explain_due(datetime.fromisoformat(trigger), period, **policy))


def test_explains_that_the_trigger_day_is_not_counted() -> None:
    text = _steps("2025-05-05T10:00:00+02:00", "1d", rule="eu-1182-71")
    assert "the day of the trigger, Monday 5 May 2025, is not counted" in text
    assert "Regulation 1182/71" in text
    assert "The period ends at the end of Tuesday 6 May 2025 (24:00 local time)." in text
    assert text.splitlines()[-1] == (
        "Due: Wednesday 7 May 2025 at 00:00 (UTC+02:00), that is 2025-05-06 22:00 UTC."
    )


def test_explains_the_trigger_in_local_time() -> None:
    text = _steps("2025-05-04T23:30:00+00:00", "1d", rule="eu-1182-71")
    assert text.splitlines()[0] == (
        "The trigger is Monday 5 May 2025 at 01:30 (UTC+02:00), local time in Europe/Paris."
    )


def test_names_the_holiday_it_rolls_over() -> None:
    text = _steps("2025-07-11T12:00:00+02:00", "1d", rule="eu-1182-71")
    assert "Saturday 12 July 2025 is a Saturday" in text
    assert "Sunday 13 July 2025 is a Sunday" in text
    assert "Monday 14 July 2025 is a public holiday (National Day)" in text
    assert "the next working day, Tuesday 15 July 2025 (art. 3(4))" in text


def test_names_holidays_of_the_policy_country() -> None:
    text = _steps(
        "2025-12-24T10:00:00+01:00",
        "1d",
        rule="eu-1182-71",
        timezone="Europe/Berlin",
        holidays="DE",
    )
    assert "Friday 26 December 2025 is a public holiday (Second Day of Christmas)" in text
    assert "local time in Europe/Berlin" in text


def test_names_a_holiday_on_a_weekend() -> None:
    text = _steps("2025-10-31T10:00:00+01:00", "1d", rule="eu-1182-71")
    assert "Saturday 1 November 2025 is a Saturday and a public holiday (All Saints' Day)" in text


def test_explains_the_two_working_days_extension() -> None:
    text = _steps("2025-05-28T15:00:00+02:00", "2d", rule="eu-1182-71")
    assert "at least two working days (art. 3(5))" in text
    assert "there is only one, Friday 30 May 2025" in text
    assert "the end of the second working day, Monday 2 June 2025" in text


def test_no_extension_step_when_two_working_days_are_there() -> None:
    text = _steps("2025-05-05T10:00:00+02:00", "2d", rule="eu-1182-71")
    assert "art. 3(5)" not in text
    assert "art. 3(4)" not in text


def test_explains_the_hour_not_counted() -> None:
    text = _steps("2025-05-05T10:00:00+02:00", "48h", rule="eu-1182-71")
    assert "the hour in which the trigger falls, from 10:00, is not counted" in text
    assert "exactly on the hour" in text
    assert "Monday 5 May 2025 at 11:00 (UTC+02:00)" in text
    assert "48 hours of elapsed time" in text


def test_explains_that_hour_periods_are_not_rolled() -> None:
    text = _steps("2025-05-02T15:20:00+02:00", "24h", rule="eu-1182-71")
    assert "Saturday 3 May 2025 is a Saturday, but the period is not moved" in text
    assert "art. 3(4)" in text


def test_explains_a_local_time_that_does_not_exist() -> None:
    text = _steps("2025-03-29T02:30:00+01:00", "1d")
    assert "Sunday 30 March 2025 at 02:30" in text
    assert "does not exist in Europe/Paris" in text
    assert "forward by the gap, to Sunday 30 March 2025 at 03:30 (UTC+02:00)" in text


def test_explains_a_local_time_that_occurs_twice() -> None:
    text = _steps("2025-10-25T02:30:00+02:00", "1d")
    assert "occurs twice in Europe/Paris" in text
    assert "The earlier one is taken (UTC+02:00)" in text


def test_explains_a_clock_change_in_an_hour_period() -> None:
    text = _steps("2025-03-29T12:00:00+01:00", "48h")
    assert "The clocks go forward 1 hour in between (UTC+01:00 to UTC+02:00)." in text
    text = _steps("2025-10-25T12:10:00+02:00", "48h", rule="eu-1182-71")
    assert "The clocks go back 1 hour in between (UTC+02:00 to UTC+01:00)." in text


def test_explanation_is_frozen() -> None:
    explanation = explain_due(datetime(2025, 5, 5, 10, tzinfo=PARIS), "2d")
    assert isinstance(explanation, Explanation)
    with pytest.raises(AttributeError):
        explanation.due = explanation.due  # type: ignore[misc]


# Pauses (clock stops).

DUE = datetime(2025, 5, 7, tzinfo=PARIS)


def test_no_pause_leaves_the_due_instant() -> None:
    result = apply_pauses(DUE, [])
    assert result.due == DUE and result.steps == ()
    assert result.due.utcoffset() == timedelta(0)


def test_pause_pushes_the_due_instant_by_its_length() -> None:
    pause = (datetime(2025, 5, 6, 9, tzinfo=PARIS), datetime(2025, 5, 6, 15, 30, tzinfo=PARIS))
    result = apply_pauses(DUE, [pause])
    assert result.due == DUE + timedelta(hours=6, minutes=30)
    assert result.steps == (
        "The clock was stopped from Tuesday 6 May 2025 at 09:00 (UTC+02:00) to Tuesday 6 May"
        " 2025 at 15:30 (UTC+02:00) (6 hours 30 minutes), so the due instant moves as much"
        " later, to Wednesday 7 May 2025 at 06:30 (UTC+02:00), that is 2025-05-07 04:30 UTC.",
    )


def test_overlapping_pauses_count_once() -> None:
    pauses = [
        (datetime(2025, 5, 5, 9, tzinfo=PARIS), datetime(2025, 5, 5, 12, tzinfo=PARIS)),
        (datetime(2025, 5, 5, 11, tzinfo=PARIS), datetime(2025, 5, 5, 14, tzinfo=PARIS)),
    ]
    result = apply_pauses(DUE, pauses)
    assert result.due == DUE + timedelta(hours=5)
    assert len(result.steps) == 1


def test_pause_after_the_deadline_does_not_count() -> None:
    late = (datetime(2025, 5, 9, tzinfo=PARIS), datetime(2025, 5, 10, tzinfo=PARIS))
    result = apply_pauses(DUE, [late])
    assert result.due == DUE
    assert "does not count" in result.steps[0]


def test_pause_within_the_pushed_deadline_counts() -> None:
    """A second pause after the original due instant still counts if the first moved it."""
    pauses = [
        (datetime(2025, 5, 7, 1, tzinfo=PARIS), datetime(2025, 5, 7, 2, tzinfo=PARIS)),
        (datetime(2025, 5, 6, tzinfo=PARIS), datetime(2025, 5, 6, 3, tzinfo=PARIS)),
    ]
    assert apply_pauses(DUE, pauses).due == DUE + timedelta(hours=4)


def test_pause_is_elapsed_time_across_a_clock_change() -> None:
    due = datetime(2025, 3, 31, tzinfo=PARIS)
    pause = (datetime(2025, 3, 30, tzinfo=PARIS), datetime(2025, 3, 30, 12, tzinfo=PARIS))
    assert apply_pauses(due, [pause]).due - due == timedelta(hours=11)


def test_pause_errors() -> None:
    naive = datetime.fromisoformat("2025-05-06T09:00:00")
    with pytest.raises(ValueError, match="no time zone"):
        apply_pauses(DUE, [(naive, DUE)])
    with pytest.raises(ValueError, match="before it starts"):
        apply_pauses(DUE, [(DUE, DUE - timedelta(hours=1))])
    with pytest.raises(ValueError, match="no time zone"):
        apply_pauses(naive, [])


def test_explanation_words_leave_out_fractions_of_a_second() -> None:
    """People read the steps; the due instant itself keeps its microseconds."""
    trigger = datetime(2026, 11, 26, 22, 34, 2, 828448, tzinfo=UTC)
    explanation = explain_due(trigger, "2d", rule="exact", timezone="Europe/Paris", holidays="FR")
    assert explanation.due == datetime(2026, 11, 28, 22, 34, 2, 828448, tzinfo=UTC)
    text = str(explanation)
    assert "23:34:02 (UTC+01:00)" in text and ".828448" not in text
