"""RFC 5545 recurrence for seminars: parsing, validation, expansion and per-occurrence overrides.

A series is expanded in *local wall time* (dateutil's ``rrule`` on naive datetimes) and each
occurrence is converted to UTC afterwards, which is what keeps a weekly 18:00 seminar at 18:00
across DST changes. Occurrences that land in a DST gap are shifted forward by the gap length (see
:mod:`schedules.timing`).

Policy decisions, all checked by :func:`validate_series`:

* FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY; BYHOUR/BYMINUTE/BYSECOND are refused because the
  time of day always comes from the seminar's start. COUNT and UNTIL together are refused (RFC 5545
  forbids it). UNTIL may be a UTC time (``...Z``, the iCalendar form), a floating local time or a
  date (the whole day counts).
* The seminar's start must itself be the first occurrence of the rule; RFC 5545 leaves a start
  that does not match its rule undefined, and clients disagree about it.
* Limits: at most :data:`MAX_OCCURRENCES` occurrences within :data:`MAX_SERIES_SPAN` of the first
  start. A bounded rule (COUNT or UNTIL) must also end within that span, because bounded series are
  materialized and conflict-checked as a whole. An unbounded rule is allowed and only ever expanded
  inside a caller-given window, so the limit then caps its density (a daily rule forever is too
  dense; a weekly one is fine).
* Exdates are naive local start times and must each be an occurrence of the rule.

Bounded work: dateutil looks for the next occurrence until datetime's last year, so a rule that
never matches (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) would cost seconds of CPU on the event loop
to refuse. :func:`_first_occurrence` therefore asks a copy of the rule moved to a year just below
9999 with the same calendar, where the search ends after a few decades of days at most.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

from schedules.domain import OccurrenceOverride, OccurrenceTime, SeriesRule
from schedules.errors import (
    InvalidRecurrence,
    OccurrenceNotFound,
    ScheduleValidationError,
    SeriesTooLong,
)
from schedules.timing import (
    load_timezone,
    resolve_local,
    resolve_recurring_local,
    resolve_span,
    to_local,
    validate_duration,
    validate_lead_times,
)

MAX_OCCURRENCES = 500
MAX_SERIES_SPAN = relativedelta(years=2)
#: Exdates further from the start are refused: checking them walks the rule that far.
MAX_EXDATE_SPAN = relativedelta(years=10)
#: Years from here on are refused in UNTIL; the probe copy of a rule lives in the years above.
_LAST_YEAR = 9000

ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_TOO_FINE_FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY")
_ALLOWED_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO"}
    | {"BYMONTH", "BYSETPOS", "WKST"}
)
_TIME_OF_DAY_PARTS = frozenset({"BYHOUR", "BYMINUTE", "BYSECOND"})
_UNTIL_PATTERN = re.compile(r"[0-9]{8}(T[0-9]{6}Z?)?")
_COUNT_PATTERN = re.compile(r"[0-9]{1,6}")
# Widens the local-time search window so that occurrences shifted by a DST gap (up to a whole day
# in zones such as Pacific/Apia in 2011) or sitting next to an offset change are not lost.
_EXPANSION_SLACK = timedelta(days=2)


def recurrence_id_for(nominal_local: datetime) -> str:
    """Stable identity of an occurrence: its nominal local start as ISO text, to the second."""
    return nominal_local.isoformat(timespec="seconds")


def parse_recurrence_id(recurrence_id: str) -> datetime:
    """Inverse of :func:`recurrence_id_for`; raises ``ValueError`` for malformed ids."""
    value = datetime.fromisoformat(recurrence_id)
    if value.tzinfo is not None:
        raise ValueError(f"recurrence id must be a naive local time, got {recurrence_id!r}")
    return value


def _split_rule(text: str) -> dict[str, str]:
    """Strictly parse RRULE text into upper-cased parts, FREQ first."""
    body = text.strip()
    if "\n" in body or "\r" in body:
        raise InvalidRecurrence("give a single RRULE; use exdates to leave occurrences out")
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    parts: dict[str, str] = {}
    for piece in filter(None, (p.strip() for p in body.split(";"))):
        key, sep, value = piece.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not key or not value:
            raise InvalidRecurrence(f"malformed rule part {piece!r}; expected NAME=VALUE")
        if key in _TIME_OF_DAY_PARTS:
            raise InvalidRecurrence(
                f"{key} is not supported: the time of day always comes from the seminar start"
            )
        if key not in _ALLOWED_PARTS:
            raise InvalidRecurrence(f"unknown or unsupported rule part {key!r}")
        if key in parts:
            raise InvalidRecurrence(f"rule part {key} is given twice")
        parts[key] = value
    frequency = parts.get("FREQ")
    if frequency is None:
        raise InvalidRecurrence("the rule needs FREQ, e.g. 'FREQ=WEEKLY;BYDAY=TU;COUNT=10'")
    if frequency in _TOO_FINE_FREQUENCIES:
        raise InvalidRecurrence(
            f"FREQ={frequency} is too fine: a seminar repeats at most daily "
            f"(use one of {', '.join(ALLOWED_FREQUENCIES)})"
        )
    if frequency not in ALLOWED_FREQUENCIES:
        raise InvalidRecurrence(f"unknown FREQ {frequency!r}")
    for key in ("INTERVAL", "COUNT"):
        # ASCII digits only ("²".isdigit() is true) and below a million: dateutil turns a huge
        # INTERVAL into a step past datetime's range.
        if key in parts and not (_COUNT_PATTERN.fullmatch(parts[key]) and int(parts[key]) > 0):
            raise InvalidRecurrence(f"{key} must be a positive whole number below a million")
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidRecurrence("give either COUNT or UNTIL, not both")
    if "UNTIL" in parts:
        _parse_until(parts["UNTIL"])
    return {"FREQ": frequency} | {k: v for k, v in parts.items() if k != "FREQ"}


def _parse_until(value: str) -> datetime:
    if not _UNTIL_PATTERN.fullmatch(value):
        raise InvalidRecurrence(
            f"UNTIL {value!r} must look like 20270601, 20270601T235959 or 20270601T215959Z"
        )
    try:
        if len(value) == 8:
            until = datetime.strptime(value, "%Y%m%d")
        else:
            until = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise InvalidRecurrence(f"UNTIL {value!r} is not a valid date") from exc
    if until.year >= _LAST_YEAR:  # the conversion to local time must stay within datetime
        raise InvalidRecurrence(f"UNTIL {value!r} lies too far in the future")
    return until


def normalize_rrule(text: str) -> str:
    """Check RRULE syntax; return the rule in canonical form (upper case, FREQ first)."""
    return ";".join(f"{key}={value}" for key, value in _split_rule(text).items())


def is_bounded(series: SeriesRule) -> bool:
    """True if the series has a last occurrence (one-off, or a rule with COUNT or UNTIL)."""
    if not series.rrule:
        return True
    parts = _split_rule(series.rrule)
    return "COUNT" in parts or "UNTIL" in parts


def _build_rule(series: SeriesRule, zone: ZoneInfo) -> rrule:
    """The dateutil rule over naive local wall time, with UNTIL converted to local wall time."""
    assert series.rrule
    parts = _split_rule(series.rrule)
    if "UNTIL" in parts:
        raw = parts["UNTIL"]
        until = _parse_until(raw)
        if len(raw) == 8:
            until = until.replace(hour=23, minute=59, second=59)  # a date includes its whole day
        elif raw.endswith("Z"):
            until = to_local(until.replace(tzinfo=UTC), zone).replace(tzinfo=None)
        parts["UNTIL"] = f"{until:%Y%m%dT%H%M%S}"
    text = ";".join(f"{key}={value}" for key, value in parts.items())
    try:
        rule = rrulestr(text, dtstart=series.start_local)
    except (ValueError, TypeError) as exc:
        raise InvalidRecurrence(f"invalid rule: {exc}") from exc
    assert isinstance(rule, rrule)
    return rule


def _probe_year(year: int) -> int:
    """A year above :data:`_LAST_YEAR` whose next four years have the same calendars (weekday of
    1 January and leap years) as ``year`` and the three after it; as close to 9999 as possible."""

    def shape(first: int) -> tuple[tuple[int, bool], ...]:
        return tuple((date(y, 1, 1).weekday(), calendar.isleap(y)) for y in range(first, first + 4))

    wanted = shape(year)
    for candidate in range(MAXYEAR - 3, _LAST_YEAR, -1):
        if shape(candidate) == wanted:
            return candidate
    raise AssertionError("the Gregorian calendar repeats every 400 years")  # pragma: no cover


def _first_occurrence(rule: rrule, start: datetime) -> datetime | None:
    """The rule's first occurrence if it lies within three years of ``start``, else None.

    Asked of a copy moved to :func:`_probe_year`, where dateutil's search for an occurrence
    that never comes stops at 9999 after a few decades instead of eight thousand years. Rule
    parts only see the calendar, which is the same there for the years that matter.
    """
    until = rule._until  # dateutil keeps no public accessor
    if until is not None and until < start:
        return None
    if until is not None and until.year > start.year + 3:
        until = None  # beyond what is looked at; moved, it could leave datetime's range
    shift = _probe_year(start.year) - start.year
    probe = rule.replace(
        dtstart=start.replace(year=start.year + shift),
        until=None if until is None else until.replace(year=until.year + shift),
    )
    first = next(iter(probe), None)
    if first is None or first.year - shift > start.year + 3:
        return None
    return first.replace(year=first.year - shift)


def _exdates(series: SeriesRule) -> frozenset[datetime]:
    for value in series.exdates:
        if value.tzinfo is not None:
            raise ScheduleValidationError("exdates", "give exdates as local wall-clock times")
    return frozenset(series.exdates)


def validate_series(series: SeriesRule) -> None:
    """Check everything about a series that does not depend on other bookings.

    Raises :class:`InvalidTimezone`, :class:`NonexistentLocalTime`, :class:`InvalidRecurrence`,
    :class:`SeriesTooLong` or :class:`ScheduleValidationError`, each naming the offending field.
    """
    zone = load_timezone(series.timezone)
    validate_lead_times(series.lead_in_minutes, series.lead_out_minutes)
    resolve_span(series.start_local, series.end_local, zone)
    exdates = _exdates(series)
    if not series.rrule:
        if exdates:
            raise ScheduleValidationError("exdates", "exdates need a recurrence rule")
        return
    rule = _build_rule(series, zone)
    first = _first_occurrence(rule, series.start_local)
    if first is None:
        raise InvalidRecurrence(
            "the rule produces no occurrences in the first years (is UNTIL before the start, "
            "or do its parts exclude each other, such as BYMONTH=2;BYMONTHDAY=30?)"
        )
    if first != series.start_local:
        raise InvalidRecurrence(
            f"the seminar start ({series.start_local:%a %Y-%m-%d %H:%M}) must be the first "
            f"occurrence of the rule, which is {first:%a %Y-%m-%d %H:%M}"
        )
    horizon = series.start_local + MAX_SERIES_SPAN
    # The rule matches its start, so the walk below ends at the first occurrence past the
    # horizon (a few decades of days at most even for leap-day rules), not at the year 9999.
    first_ones: list[datetime] = []
    for value in rule:
        first_ones.append(value)
        if value >= horizon or len(first_ones) > MAX_OCCURRENCES:
            break
    within_span = [value for value in first_ones if value < horizon]
    if len(within_span) > MAX_OCCURRENCES:
        raise SeriesTooLong(
            f"the series has more than {MAX_OCCURRENCES} occurrences within two years; "
            "repeat less often or split it"
        )
    if is_bounded(series) and len(within_span) < len(first_ones):
        raise SeriesTooLong(
            f"the series runs past {horizon:%Y-%m-%d}: a series with COUNT or UNTIL may span at "
            "most two years (or leave both out for an open-ended series)"
        )
    _check_exdates(rule, series.start_local, sorted(exdates))


def _check_exdates(rule: rrule, start: datetime, exdates: list[datetime]) -> None:
    """Each exdate must be an occurrence; one walk over the rule for all of them.

    ``value in rule`` walks from the start for every exdate: 500 exdates in the year 2999 held
    the event loop for minutes. The walk is bounded by :data:`MAX_EXDATE_SPAN`.
    """
    if not exdates:
        return
    limit = start + MAX_EXDATE_SPAN
    if exdates[-1] >= limit:
        raise ScheduleValidationError(
            "exdates", f"exdates may lie at most ten years after the start ({limit:%Y-%m-%d})"
        )
    occurrences = set()
    for value in rule:
        if value > exdates[-1]:
            break
        occurrences.add(value)
    for value in exdates:
        if value not in occurrences:
            raise ScheduleValidationError(
                "exdates", f"{value:%a %Y-%m-%d %H:%M} is not an occurrence of the series"
            )


def _exact_duration(series: SeriesRule, zone: ZoneInfo) -> timedelta:
    # RFC 5545 §3.8.5.3: with DTEND, every instance gets the same *exact* duration as the first.
    start = resolve_local(series.start_local, zone, field="start")
    return resolve_local(series.end_local, zone, field="end") - start


def _check_window(window_start_utc: datetime, window_end_utc: datetime) -> None:
    if window_start_utc.tzinfo is None or window_end_utc.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    if window_end_utc < window_start_utc:
        raise ValueError("window end is before window start")


def expand(
    series: SeriesRule, window_start_utc: datetime, window_end_utc: datetime
) -> list[OccurrenceTime]:
    """Occurrences of ``series`` whose start lies in ``[window_start_utc, window_end_utc)``.

    Start-in-window (not overlap) means consecutive windows partition a series exactly. Expansion
    runs in local wall time, exdates are removed, and every occurrence keeps the exact duration of
    the first one. Overrides are not applied here (see :func:`apply_overrides`). Works for
    unbounded rules because only the window is generated. Expects a validated series.
    """
    _check_window(window_start_utc, window_end_utc)
    zone = load_timezone(series.timezone)
    duration = _exact_duration(series, zone)
    if not series.rrule:
        start = resolve_local(series.start_local, zone)
        if window_start_utc <= start < window_end_utc:
            return [OccurrenceTime(recurrence_id_for(series.start_local), start, start + duration)]
        return []
    exdates = _exdates(series)
    low = to_local(window_start_utc, zone).replace(tzinfo=None) - _EXPANSION_SLACK
    high = to_local(window_end_utc, zone).replace(tzinfo=None) + _EXPANSION_SLACK
    result: list[OccurrenceTime] = []
    for nominal in _build_rule(series, zone).between(low, high, inc=True):
        if nominal in exdates:
            continue
        start = resolve_recurring_local(nominal, zone)
        if window_start_utc <= start < window_end_utc:
            result.append(OccurrenceTime(recurrence_id_for(nominal), start, start + duration))
    return result


def occurrence_for(series: SeriesRule, recurrence_id: str) -> OccurrenceTime:
    """The un-overridden occurrence with this recurrence id, or :class:`OccurrenceNotFound`."""
    try:
        nominal = parse_recurrence_id(recurrence_id)
    except ValueError as exc:
        raise OccurrenceNotFound(recurrence_id, "malformed recurrence id") from exc
    zone = load_timezone(series.timezone)
    if series.rrule:
        exists = nominal in _build_rule(series, zone) and nominal not in _exdates(series)
    else:
        exists = nominal == series.start_local
    if not exists:
        raise OccurrenceNotFound(recurrence_id, "not an occurrence of this seminar")
    start = resolve_recurring_local(nominal, zone)
    return OccurrenceTime(recurrence_id, start, start + _exact_duration(series, zone))


def validate_override(series: SeriesRule, override: OccurrenceOverride) -> None:
    """The override must name an occurrence of the series and, if moved, have a valid span."""
    occurrence_for(series, override.recurrence_id)
    if override.start_utc is not None and override.end_utc is not None:
        validate_duration(override.start_utc, override.end_utc)


def apply_overrides(
    occurrences: Iterable[OccurrenceTime], overrides: Iterable[OccurrenceOverride]
) -> list[OccurrenceTime]:
    """Apply per-occurrence moves and cancellations; result sorted by start.

    Cancelled occurrences stay in the result with ``cancelled=True`` (they still exist as
    occurrences with a state, e.g. for the calendar feed); moved ones get the override's times and
    ``moved=True``. Overrides for recurrence ids not in ``occurrences`` are ignored; if several
    overrides name the same id, the last one wins.
    """
    by_id = {override.recurrence_id: override for override in overrides}
    result: list[OccurrenceTime] = []
    for occurrence in occurrences:
        override = by_id.get(occurrence.recurrence_id)
        if override is not None:
            occurrence = _overridden(occurrence, override)
        result.append(occurrence)
    result.sort(key=lambda o: (o.start_utc, o.recurrence_id))
    return result


def _overridden(occurrence: OccurrenceTime, override: OccurrenceOverride) -> OccurrenceTime:
    if override.start_utc is not None and override.end_utc is not None:
        occurrence = replace(
            occurrence, start_utc=override.start_utc, end_utc=override.end_utc, moved=True
        )
    if override.cancelled:
        occurrence = replace(occurrence, cancelled=True)
    return occurrence


def expand_with_overrides(
    series: SeriesRule,
    window_start_utc: datetime,
    window_end_utc: datetime,
    overrides: Sequence[OccurrenceOverride],
) -> list[OccurrenceTime]:
    """Like :func:`expand`, but judged by the occurrences' *effective* (possibly moved) start.

    An occurrence moved out of the window is dropped and one moved into it from outside is
    included. Overrides naming ids that are no longer in the series (e.g. after the rule was
    edited) are skipped.
    """
    _check_window(window_start_utc, window_end_utc)
    base = {o.recurrence_id: o for o in expand(series, window_start_utc, window_end_utc)}
    for override in overrides:
        start = override.start_utc
        if start is None or override.recurrence_id in base:
            continue
        if window_start_utc <= start < window_end_utc:
            try:
                base[override.recurrence_id] = occurrence_for(series, override.recurrence_id)
            except OccurrenceNotFound:
                continue
    return [
        occurrence
        for occurrence in apply_overrides(base.values(), overrides)
        if window_start_utc <= occurrence.start_utc < window_end_utc
    ]
