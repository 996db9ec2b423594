"""Deadline arithmetic: (trigger instant, period, counting rule, policy) -> due instant.

This module is pure: it reads no clock and no file, and imports nothing else from `portal`
and nothing from Flask, MkDocs or SQLAlchemy. Every instant and every policy setting is an
argument, so the same inputs always give the same deadline, and anyone can check our
arithmetic against the published table in `site_src/deadlines/cases.csv`.

Instants are timezone-aware and results are in UTC; day boundaries are taken in the policy's
time zone. `explain_due` computes the deadline and records each step in plain English as it
goes; `due_at` returns its result, so the explanation can never disagree with the deadline.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Aliased: `holidays` is also the name of the policy argument (a country code).
import holidays as holiday_calendars

log = logging.getLogger(__name__)

Unit = Literal["h", "d", "w"]
Rule = Literal["exact", "eu-1182-71"]
RULES: tuple[Rule, ...] = ("exact", "eu-1182-71")

_PERIOD = re.compile(r"([1-9][0-9]*)([hdw])")
_UNIT_NAMES = {"h": ("hour", "hours"), "d": ("day", "days"), "w": ("week", "weeks")}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Period:
    """A whole number of hours, days or weeks; `str()` gives back the policy spelling (`48h`)."""

    value: int
    unit: Unit

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
            raise ValueError(f"A period needs a positive whole number, not {self.value!r}.")
        if self.unit not in _UNIT_NAMES:
            raise ValueError(f"A period is counted in h, d or w, not {self.unit!r}.")

    def __str__(self) -> str:
        return f"{self.value}{self.unit}"

    @property
    def days(self) -> int:
        """The length in calendar days; a week is 7 days, as Regulation 1182/71 counts it."""
        if self.unit == "h":
            raise ValueError(f"Period {self} is in hours, not days.")
        return self.value * 7 if self.unit == "w" else self.value

    def describe(self) -> str:
        """The period in words, e.g. `48 hours`, `1 day`, `2 weeks (14 days)`."""
        one, many = _UNIT_NAMES[self.unit]
        words = f"{self.value} {one if self.value == 1 else many}"
        return f"{words} ({self.days} days)" if self.unit == "w" else words


@dataclass(frozen=True)
class Explanation:
    """A due instant (UTC) and the plain-English steps that reached it, in order."""

    due: datetime
    steps: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.steps)


def parse_period(text: str) -> Period:
    """Read a policy period such as `48h`, `14d` or `2w`; anything else is a `ValueError`."""
    match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"Period {text!r} is not valid: write a whole number of hours, days or weeks"
            " followed by h, d or w, such as 48h, 14d or 2w."
        )
    return Period(int(match.group(1)), cast(Unit, match.group(2)))


def due_at(
    trigger: datetime,
    period: str | Period,
    *,
    rule: str = "exact",
    timezone: str = "Europe/Paris",
    holidays: str = "FR",
) -> datetime:
    """Return the due instant (UTC) of `period` counted from `trigger` under `rule`.

    The same arithmetic as `explain_due`, without composing its words (which a receipt
    does not need: they are written when a deadline is shown).
    """
    return _due(trigger, period, rule, timezone, holidays, None)


def explain_due(
    trigger: datetime,
    period: str | Period,
    *,
    rule: str = "exact",
    timezone: str = "Europe/Paris",
    holidays: str = "FR",
) -> Explanation:
    """Compute the due instant and say, step by step, how it was reached.

    `rule` is `exact` (elapsed hours; same local clock time N calendar days later) or
    `eu-1182-71` (Regulation (EEC, Euratom) No 1182/71, art. 3). `timezone` is an IANA name
    and `holidays` a country code of the `holidays` package; both come from the policy.
    """
    steps: list[str] = []
    due = _due(trigger, period, rule, timezone, holidays, steps)
    return Explanation(due=due, steps=tuple(steps))


def _due(
    trigger: datetime,
    period: str | Period,
    rule: str,
    timezone: str,
    holidays: str,
    steps: list[str] | None,
) -> datetime:
    """The due instant; with a `steps` list, also the words of how it was reached."""
    _require_aware(trigger, "trigger")
    parsed = period if isinstance(period, Period) else parse_period(period)
    if rule not in RULES:
        raise ValueError(f"Unknown counting rule {rule!r}: use one of {', '.join(RULES)}.")
    zone = _zone(timezone)
    calendar = _calendar(holidays)
    start = trigger.astimezone(UTC)
    if steps is not None:
        steps.append(f"The trigger is {_moment(start, zone)}, local time in {timezone}.")
    try:
        if rule == "exact" and parsed.unit == "h":
            due = _exact_hours(start, parsed, zone, steps)
        elif rule == "exact":
            due = _exact_days(start, parsed, zone, steps)
        elif parsed.unit == "h":
            due = _eu_hours(start, parsed, zone, calendar, steps)
        else:
            due = _eu_days(start, parsed, zone, calendar, steps)
    except OverflowError as err:
        raise ValueError(f"Period {parsed} is too long to compute a due date.") from err
    if steps is not None:
        steps.append(f"Due: {_moment(due, zone)}, that is {_utc(due)}.")
    return due


def apply_pauses(
    due: datetime,
    pauses: Iterable[tuple[datetime, datetime]],
    *,
    timezone: str = "Europe/Paris",
) -> Explanation:
    """Push `due` later by the time its clock was stopped, one step per pause.

    Paused time is elapsed time, whatever rule set `due`. A pause counts only if it starts
    before the due instant as already pushed by earlier pauses: a clock cannot be stopped
    once its deadline has passed. Overlapping or touching pauses count once. The caller
    passes only pauses that began after the trigger.
    """
    _require_aware(due, "due")
    zone = _zone(timezone)
    intervals = []
    for begin, end in pauses:
        _require_aware(begin, "pause start")
        _require_aware(end, "pause end")
        # Compared in UTC: two datetimes sharing a tzinfo compare by wall time.
        interval = (begin.astimezone(UTC), end.astimezone(UTC))
        if interval[1] < interval[0]:
            raise ValueError(f"A pause cannot end ({end.isoformat()}) before it starts.")
        intervals.append(interval)
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    current = due.astimezone(UTC)
    steps = []
    for begin, end in merged:
        if begin == end:
            continue
        if begin >= current:
            steps.append(
                f"The pause from {_moment(begin, zone)} to {_moment(end, zone)} does not start"
                f" before the due instant, {_moment(current, zone)}, so it does not count."
            )
            continue
        current += end - begin
        steps.append(
            f"The clock was stopped from {_moment(begin, zone)} to {_moment(end, zone)}"
            f" ({_duration(end - begin)}), so the due instant moves as much later, to"
            f" {_moment(current, zone)}, that is {_utc(current)}."
        )
    return Explanation(due=current, steps=tuple(steps))


def _exact_hours(
    start: datetime, period: Period, zone: ZoneInfo, steps: list[str] | None
) -> datetime:
    """Rule `exact`, hours: that many elapsed hours, so a change of clocks moves nothing."""
    due = start + timedelta(hours=period.value)
    if steps is not None:
        steps.append(
            f"Rule exact: {period.describe()} of elapsed time after the trigger;"
            " a change of clocks neither adds nor removes an hour."
        )
    _note_clock_change(start, due, zone, steps)
    return due


def _exact_days(
    start: datetime, period: Period, zone: ZoneInfo, steps: list[str] | None
) -> datetime:
    """Rule `exact`, days: the same local clock time that many calendar days later.

    A local time that does not exist that day moves forward by the gap; one that occurs
    twice takes the earlier instant (fold=0), which is also what `zoneinfo` gives for fold=0.
    """
    local = _local(start, zone)
    wall = local.replace(tzinfo=None, fold=0) + timedelta(days=period.days)
    if steps is not None:
        steps.append(
            f"Rule exact: {period.describe()} later on the calendar, at the same local clock time,"
            f" is {_day(wall.date())} at {_clock(wall)}."
        )
    earlier = wall.replace(tzinfo=zone, fold=0)
    later = wall.replace(tzinfo=zone, fold=1)
    shift = _offset(later) - _offset(earlier)
    if _wall(earlier, zone) != wall:
        if steps is not None:
            steps.append(
                f"That local time does not exist in {zone.key}: the clocks go forward"
                f" {_duration(shift)} that day. It moves forward by the gap, to"
                f" {_moment(earlier, zone)}."
            )
    elif shift:
        if steps is not None:
            steps.append(
                f"That local time occurs twice in {zone.key}: the clocks go back"
                f" {_duration(-shift)} that day. The earlier one is taken"
                f" ({_offset_text(earlier)})."
            )
    return earlier.astimezone(UTC)


def _eu_hours(
    start: datetime,
    period: Period,
    zone: ZoneInfo,
    calendar: holiday_calendars.HolidayBase,
    steps: list[str] | None,
) -> datetime:
    """Rule `eu-1182-71`, hours: Regulation 1182/71, art. 3(1) and 3(2)(a).

    The clock hour (in the policy time zone) in which the trigger falls is not counted, so
    the period starts at the next full hour and runs that many elapsed hours: a change of
    clocks neither adds nor removes an hour. A trigger at 10:00:00 exactly falls in the hour
    10:00-11:00. Art. 3(4) moves only periods in days, weeks, months or years off weekends
    and holidays, so an hour period is never moved.
    """
    first = _next_full_hour(start, zone)
    local = _local(start, zone)
    on_the_hour = local.minute == local.second == local.microsecond == 0
    exactly = " (a trigger exactly on the hour falls in the hour it starts)" if on_the_hour else ""
    if steps is not None:
        steps.append(
            "Rule eu-1182-71 (Regulation 1182/71, art. 3(1)): the hour in which the trigger"
            f" falls, from {local.hour:02d}:00, is not counted{exactly}; the period starts at the"
            f" next full hour, {_moment(first, zone)}."
        )
    due = first + timedelta(hours=period.value)
    if steps is not None:
        steps.append(
            f"It ends {period.describe()} of elapsed time later (art. 3(2)(a));"
            " a change of clocks neither adds nor removes an hour."
        )
    _note_clock_change(start, due, zone, steps)
    end_local = _local(due, zone)
    # The hour ending at 00:00 belongs to the day before.
    last_day = (end_local - timedelta(microseconds=1)).date()
    reason = _closed(last_day, calendar)
    if reason is not None:
        if steps is not None:
            steps.append(
                f"{_day(last_day)} {reason}, but the period is not moved to a working day:"
                " art. 3(4) does that only for periods in days, weeks, months or years."
            )
    return due


def _eu_days(
    start: datetime,
    period: Period,
    zone: ZoneInfo,
    calendar: holiday_calendars.HolidayBase,
    steps: list[str] | None,
) -> datetime:
    """Rule `eu-1182-71`, days and weeks: Regulation 1182/71, art. 3(1), 3(2)(b), 3(4), 3(5).

    The trigger's day is not counted; the period ends at the end (24:00 local) of its last
    day; a last day that is a Saturday, Sunday or public holiday gives way to the end of the
    next working day; and a period of two days or more includes at least two working days,
    counted from the day after the trigger.
    """
    trigger_day = _local(start, zone).date()
    first = trigger_day + timedelta(days=1)
    last = trigger_day + timedelta(days=period.days)
    if steps is not None:
        steps.append(
            "Rule eu-1182-71 (Regulation 1182/71, art. 3(1)): the day of the trigger,"
            f" {_day(trigger_day)}, is not counted; counting starts on {_day(first)}."
        )
    if steps is not None:
        steps.append(
            f"A period of {period.describe()} ends at the end of its last day (art. 3(2)(b)):"
            f" {_day(last)}."
        )
    end = last
    skipped = []
    while (reason := _closed(end, calendar)) is not None:
        skipped.append(f"{_day(end)} {reason}")
        end += timedelta(days=1)
    if skipped:
        if steps is not None:
            steps.append(
                f"{_join(skipped)}, so the period ends at the end of the next working day,"
                f" {_day(end)} (art. 3(4))."
            )
    # Art. 3(5) needs only the first two working days from the day after the trigger.
    first_two = _next_working_days(first, calendar, 2)
    if period.days >= 2 and first_two[1] > end:
        inside = [day for day in first_two if day <= end]
        only = f"there is only one, {_day(inside[0])}" if inside else "there are none"
        if steps is not None:
            steps.append(
                "A period of two days or more includes at least two working days (art. 3(5));"
                f" from {_day(first)} to {_day(end)} {only}, so the period is extended to the"
                f" end of the second working day, {_day(first_two[1])}."
            )
        end = first_two[1]
    due = _end_of_day(end, zone)
    if steps is not None:
        steps.append(f"The period ends at the end of {_day(end)} (24:00 local time).")
    return due


def _next_working_days(
    day: date, calendar: holiday_calendars.HolidayBase, count: int
) -> list[date]:
    """The first `count` working days from `day` on, `day` included."""
    found: list[date] = []
    while len(found) < count:
        if _closed(day, calendar) is None:
            found.append(day)
        day += timedelta(days=1)
    return found


def _next_full_hour(start: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after `start` at which the local clock shows a whole hour.

    Searched rather than computed: where clocks go back, 02:00 comes twice, and the next full
    hour after 02:30 (summer time) is the second 02:00, not 03:00; where they go forward,
    02:00 may not exist at all.
    """
    floor = _local(start, zone).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    candidates: list[datetime] = []
    # Up to 49 hours of wall time: Pacific/Apia skipped all of 30 December 2011. After the
    # first hit, look 3 more hours ahead in case a later wall hour comes round earlier.
    hours, last = 0, 49
    while hours <= last:
        wall = floor + timedelta(hours=hours)
        for fold in (0, 1):
            instant = wall.replace(tzinfo=zone, fold=fold)
            if _wall(instant, zone) == wall and instant.astimezone(UTC) > start:
                candidates.append(instant.astimezone(UTC))
        if candidates:
            last = min(last, hours + 3)
        hours += 1
    return min(candidates)


def _end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) at which `day` ends: local midnight starting the next day.

    Taking the later of the two folds gives the second midnight where clocks go back at
    midnight, and the moment of the jump where midnight does not exist.
    """
    after = day + timedelta(days=1)
    return max(
        datetime(after.year, after.month, after.day, tzinfo=zone, fold=fold).astimezone(UTC)
        for fold in (0, 1)
    )


def _note_clock_change(
    begin: datetime, end: datetime, zone: ZoneInfo, steps: list[str] | None
) -> None:
    if steps is None:
        return
    before, after = _offset(_local(begin, zone)), _offset(_local(end, zone))
    if before != after:
        direction = "forward" if after > before else "back"
        steps.append(
            f"The clocks go {direction} {_duration(abs(after - before))} in between"
            f" ({_offset_text(_local(begin, zone))} to {_offset_text(_local(end, zone))})."
        )


def _closed(day: date, calendar: holiday_calendars.HolidayBase) -> str | None:
    """Why `day` is not a working day (`is a public holiday (...)`), or None if it is one."""
    weekend = day.weekday() >= 5
    name = calendar.get(day)
    if name and weekend:
        return f"is a {_WEEKDAYS[day.weekday()]} and a public holiday ({name})"
    if name:
        return f"is a public holiday ({name})"
    if weekend:
        return f"is a {_WEEKDAYS[day.weekday()]}"
    return None


def _require_aware(value: object, what: str) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"The {what} must be a date and time, not {value!r}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"The {what} {value.isoformat()} has no time zone: give an aware date and time."
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ValueError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Paris."
        ) from err


def _calendar(country: str) -> holiday_calendars.HolidayBase:
    # Building a calendar loads its translations (about 0.5 ms), more than the arithmetic:
    # keep one per country. A calendar only ever adds years it has computed.
    if isinstance(country, str):
        return _cached_calendar(country)
    return _new_calendar(country)


@functools.lru_cache(maxsize=32)
def _cached_calendar(country: str) -> holiday_calendars.HolidayBase:
    return _new_calendar(country)


def _new_calendar(country: str) -> holiday_calendars.HolidayBase:
    # English names for the explanation; a country without them keeps its own language.
    try:
        return holiday_calendars.country_holidays(country, language="en_US")
    except (NotImplementedError, AttributeError, TypeError) as err:
        raise ValueError(
            f"Unknown holiday country {country!r}: use a country code such as FR or DE."
        ) from err


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    """`instant` on the local clock; via UTC, because converting a datetime to its own
    tzinfo returns it unchanged, even a wall time that does not exist."""
    return instant.astimezone(UTC).astimezone(zone)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """What the local clock reads at `instant`, as a naive datetime."""
    return _local(instant, zone).replace(tzinfo=None)


def _offset(instant: datetime) -> timedelta:
    offset = instant.utcoffset()
    assert offset is not None  # every instant here is aware
    return offset


def _offset_text(instant: datetime) -> str:
    offset = _offset(instant)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _day(day: date) -> str:
    # Our own names: strftime("%A") follows the process locale.
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _clock(moment: datetime) -> str:
    """`10:00`, or `10:00:05` when there are seconds; fractions of a second are not shown.

    People read these words; the instants themselves keep their full precision.
    """
    text = f"{moment.hour:02d}:{moment.minute:02d}"
    if moment.second:
        text += f":{moment.second:02d}"
    return text


def _moment(instant: datetime, zone: ZoneInfo) -> str:
    local = _local(instant, zone)
    return f"{_day(local.date())} at {_clock(local)} ({_offset_text(local)})"


def _utc(instant: datetime) -> str:
    moment = instant.astimezone(UTC)
    return f"{moment.date().isoformat()} {_clock(moment)} UTC"


def _duration(span: timedelta) -> str:
    total = int(span.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{amount} {unit}{'' if amount == 1 else 's'}"
        for amount, unit in (
            (days, "day"),
            (hours, "hour"),
            (minutes, "minute"),
            (seconds, "second"),
        )
        if amount
    ]
    return " ".join(parts) or "no time"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
