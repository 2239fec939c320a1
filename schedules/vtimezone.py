"""VTIMEZONE components (RFC 5545 §3.6.5) from the IANA database, with yearly RRULE observances.

``icalendar.Timezone.from_tzid`` writes every transition as a DTSTART/RDATE list with the onset
in the wrong wall time (summer time in Europe/Berlin "starting" at 03:00 instead of 02:00), and
Mozilla's ical.js (Thunderbird) then read a seminar on 30 March 2027 18:00 Europe/Berlin as
17:00Z. This module writes what calendar programs write themselves:

* each observance's DTSTART is the onset in the local time *before* the change (the
  TZOFFSETFROM wall clock, §3.6.5), e.g. ``20270328T020000`` with ``TZOFFSETFROM:+0100``;
* transitions that repeat every year on the same rule (month, weekday, "last" or "n-th" week
  or a fixed day, wall time, offsets and name) become one observance with
  ``RRULE:FREQ=YEARLY;BYMONTH=…;BYDAY=…``; the rule still in force at the end of the window is
  left open (no UNTIL), so later dates read right too; earlier rules end with UNTIL (in UTC,
  as §3.8.5.3 demands inside VTIMEZONE);
* a transition that fits no yearly pattern stands alone (DTSTART only);
* a zone without transitions in the window gets one STANDARD observance.

It is pure: the zone database is the only input besides the window.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Zones change at most a few times a day; a daily scan plus bisection finds each change.
_STEP = timedelta(days=1)


@dataclass(frozen=True)
class Transition:
    """One change of a zone's offset, DST flag or abbreviation."""

    at_utc: datetime
    offset_from: timedelta
    offset_to: timedelta
    name: str
    daylight: bool

    @property
    def onset(self) -> datetime:
        """Wall time of the change on the clock before it (naive), as DTSTART wants it."""
        return (self.at_utc + self.offset_from).replace(tzinfo=None)

    def kind(self) -> tuple[timedelta, timedelta, str, bool, int, int, tuple[int, int, int]]:
        """What must agree for two transitions to share one yearly rule (day aside)."""
        onset = self.onset
        return (self.offset_from, self.offset_to, self.name, self.daylight, onset.month,
                onset.weekday(), (onset.hour, onset.minute, onset.second))  # fmt: skip

    def day_rules(self) -> set[str]:
        """The yearly rules this date satisfies: ``-1SU`` (last), ``2SU`` (second), ``d15``."""
        onset = self.onset
        day = _DAYS[onset.weekday()]
        rules = {f"{(onset.day - 1) // 7 + 1}{day}", f"d{onset.day}"}
        if onset.day + 7 > calendar.monthrange(onset.year, onset.month)[1]:
            rules.add(f"-1{day}")
        return rules


def _state(zone: ZoneInfo, at: datetime) -> tuple[timedelta, timedelta, str]:
    local = at.astimezone(zone)
    return local.utcoffset() or timedelta(0), local.dst() or timedelta(0), local.tzname() or ""


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[Transition]:
    """Every change of ``zone`` in ``[start, end)`` (aware UTC datetimes), to the second."""
    at, state = start, _state(zone, start)
    while at < end:
        nxt = min(at + _STEP, end)
        nxt_state = _state(zone, nxt)
        if nxt_state != state:
            low, high = at, nxt  # state(low) == state, state(high) != state
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                mid = mid.replace(microsecond=0)
                if _state(zone, mid) == state:
                    low = mid
                else:
                    high = mid
            new = _state(zone, high)
            yield Transition(high, state[0], new[0], new[2], new[1] != timedelta(0))
            at, state = high, new
            continue
        at, state = nxt, nxt_state


def _runs(changes: list[Transition]) -> Iterator[tuple[list[Transition], str | None]]:
    """Group same-kind transitions of consecutive years that share a day rule."""
    run: list[Transition] = []
    rules: set[str] = set()
    for change in changes:
        if run and change.onset.year == run[-1].onset.year + 1 and rules & change.day_rules():
            run.append(change)
            rules &= change.day_rules()
            continue
        if run:
            yield run, _preferred(rules) if len(run) > 1 else None
        run, rules = [change], change.day_rules()
    if run:
        yield run, _preferred(rules) if len(run) > 1 else None


def _preferred(rules: set[str]) -> str:
    # "last Sunday" is how the rules are written (EU, and what readers expect); then "n-th".
    for rule in sorted(rules, key=lambda r: (not r.startswith("-1"), r.startswith("d"), r)):
        return rule
    raise ValueError("no rule")


def vtimezone(tzid: str, first: date, last: date) -> Timezone:
    """The VTIMEZONE of ``tzid`` correct for every instant from ``first`` to ``last`` and, while
    the zone keeps its current rule, after it. The window starts one year earlier internally, so
    the rule in force on ``first`` is defined by a real transition."""
    zone = ZoneInfo(tzid)
    start = datetime(first.year - 1, 1, 1, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC)
    component = Timezone()
    component.add("tzid", tzid)
    changes = list(transitions(zone, start, end))
    if not changes:
        offset, _, name = _state(zone, start)
        observance = TimezoneStandard()
        observance.add("dtstart", datetime(1970, 1, 1))
        observance.add("tzoffsetfrom", offset)
        observance.add("tzoffsetto", offset)
        observance.add("tzname", name)
        component.add_component(observance)
        return component
    by_kind: dict[tuple, list[Transition]] = {}
    for change in changes:
        by_kind.setdefault(change.kind(), []).append(change)
    final_year = changes[-1].onset.year
    observances = []
    for group in by_kind.values():
        for run, rule in _runs(group):
            observances.append(_observance(run, rule, open_ended=run[-1].onset.year >= final_year))
    observances.sort(key=lambda o: (o["DTSTART"].dt, o.name))
    for observance in observances:
        component.add_component(observance)
    return component


def _observance(
    run: list[Transition], rule: str | None, *, open_ended: bool
) -> TimezoneStandard | TimezoneDaylight:
    first = run[0]
    observance = TimezoneDaylight() if first.daylight else TimezoneStandard()
    observance.add("dtstart", first.onset)
    observance.add("tzoffsetfrom", first.offset_from)
    observance.add("tzoffsetto", first.offset_to)
    observance.add("tzname", first.name)
    if rule is not None:
        recur: dict[str, object] = {"freq": "YEARLY", "bymonth": first.onset.month}
        if rule.startswith("d"):
            recur["bymonthday"] = int(rule[1:])
        else:
            recur["byday"] = rule
        if not open_ended:
            recur["until"] = run[-1].at_utc
        observance.add("rrule", vRecur(recur))
    return observance
