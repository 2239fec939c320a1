"""RRULE parsing and validation, expansion in local wall time, limits, exdates and overrides."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from schedules.domain import OccurrenceOverride, OccurrenceTime, SeriesRule
from schedules.errors import (
    InvalidRecurrence,
    InvalidTimezone,
    NonexistentLocalTime,
    OccurrenceNotFound,
    ScheduleValidationError,
    SeriesTooLong,
)
from schedules.recurrence import (
    MAX_OCCURRENCES,
    apply_overrides,
    expand,
    expand_with_overrides,
    is_bounded,
    normalize_rrule,
    occurrence_for,
    parse_recurrence_id,
    recurrence_id_for,
    validate_override,
    validate_series,
)
from schedules.timing import to_local
from tests.schedules.builders import BERLIN, local, utc

EVERYTHING = (utc(2000, 1, 1), utc(2100, 1, 1))


def weekly(
    start: datetime, rule: str | None = "FREQ=WEEKLY;COUNT=10", **changes: object
) -> SeriesRule:
    series = SeriesRule(start_local=start, end_local=start + timedelta(hours=2), rrule=rule)
    return replace(series, **changes)  # type: ignore[arg-type]


def starts(series: SeriesRule, window: tuple[datetime, datetime] = EVERYTHING) -> list[datetime]:
    return [o.start_utc for o in expand(series, *window)]


# --- DST -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recurrence_id", "expected_utc"),
    [
        ("2027-03-21T18:00:00", utc(2027, 3, 21, 17)),  # last winter Sunday
        ("2027-03-28T18:00:00", utc(2027, 3, 28, 16)),  # the spring-forward day itself
        ("2027-07-04T18:00:00", utc(2027, 7, 4, 16)),
        ("2027-10-24T18:00:00", utc(2027, 10, 24, 16)),  # last summer Sunday
        ("2027-10-31T18:00:00", utc(2027, 10, 31, 17)),  # the fall-back day itself
        ("2027-11-07T18:00:00", utc(2027, 11, 7, 17)),
    ],
)
def test_weekly_18_00_stays_18_00_local_across_dst(
    recurrence_id: str, expected_utc: datetime
) -> None:
    series = weekly(local(2027, 3, 7, 18), "FREQ=WEEKLY;BYDAY=SU;UNTIL=20271231T230000Z")
    validate_series(series)
    by_id = {o.recurrence_id: o for o in expand(series, *EVERYTHING)}
    occurrence = by_id[recurrence_id]
    assert occurrence.start_utc == expected_utc
    assert occurrence.end_utc - occurrence.start_utc == timedelta(hours=2)
    assert to_local(occurrence.start_utc, BERLIN).hour == 18


def test_daily_02_30_is_shifted_by_the_gap_on_spring_forward_day() -> None:
    series = SeriesRule(
        local(2027, 3, 26, 2, 30), local(2027, 3, 26, 3, 15), rrule="FREQ=DAILY;COUNT=5"
    )
    validate_series(series)
    result = expand(series, *EVERYTHING)
    assert [(o.recurrence_id[5:16], o.start_utc) for o in result] == [
        ("03-26T02:30", utc(2027, 3, 26, 1, 30)),
        ("03-27T02:30", utc(2027, 3, 27, 1, 30)),
        ("03-28T02:30", utc(2027, 3, 28, 1, 30)),  # 03:30 CEST: shifted by the gap length
        ("03-29T02:30", utc(2027, 3, 29, 0, 30)),
        ("03-30T02:30", utc(2027, 3, 30, 0, 30)),
    ]
    assert {o.end_utc - o.start_utc for o in result} == {timedelta(minutes=45)}


def test_daily_02_30_takes_the_first_instant_on_fall_back_day() -> None:
    series = SeriesRule(
        local(2027, 10, 30, 2, 30), local(2027, 10, 30, 3), rrule="FREQ=DAILY;COUNT=3"
    )
    assert starts(series) == [
        utc(2027, 10, 30, 0, 30),
        utc(2027, 10, 31, 0, 30),
        utc(2027, 11, 1, 1, 30),
    ]


def test_series_may_not_start_in_a_gap() -> None:
    series = SeriesRule(
        local(2027, 3, 28, 2, 30), local(2027, 3, 28, 4), rrule="FREQ=DAILY;COUNT=3"
    )
    with pytest.raises(NonexistentLocalTime):
        validate_series(series)


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("FREQ=WEEKLY;BYDAY=TU;COUNT=10", "FREQ=WEEKLY;BYDAY=TU;COUNT=10"),
        ("rrule:freq=weekly;byday=tu;count=10", "FREQ=WEEKLY;BYDAY=TU;COUNT=10"),
        (" COUNT=3;FREQ=DAILY; ", "FREQ=DAILY;COUNT=3"),
        (
            "FREQ=MONTHLY;BYDAY=1MO;UNTIL=20271231T230000Z",
            "FREQ=MONTHLY;BYDAY=1MO;UNTIL=20271231T230000Z",
        ),
        ("FREQ=YEARLY", "FREQ=YEARLY"),
    ],
)
def test_normalize_rrule(text: str, canonical: str) -> None:
    assert normalize_rrule(text) == canonical


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("FREQ=HOURLY;COUNT=3", "too fine"),
        ("FREQ=MINUTELY", "too fine"),
        ("FREQ=SECONDLY", "too fine"),
        ("FREQ=WEEKLY;BYHOUR=9,18", "time of day"),
        ("FREQ=DAILY;BYMINUTE=30", "time of day"),
        ("", "needs FREQ"),
        ("BYDAY=TU;COUNT=3", "needs FREQ"),
        ("FREQ=FORTNIGHTLY", "unknown FREQ"),
        ("FREQ=WEEKLY;COUNT=0", "positive"),
        ("FREQ=WEEKLY;COUNT=-1", "positive"),
        ("FREQ=WEEKLY;INTERVAL=0", "positive"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20270601", "not both"),
        ("FREQ=WEEKLY;UNTIL=2027", "UNTIL"),
        ("FREQ=WEEKLY;UNTIL=20271340", "not a valid date"),
        ("FREQ=WEEKLY;COLOUR=RED", "unknown or unsupported"),
        ("FREQ=WEEKLY;FREQ=DAILY", "twice"),
        ("FREQ=WEEKLY;COUNT", "NAME=VALUE"),
        ("FREQ=WEEKLY\nEXDATE:20270309T180000", "single RRULE"),
    ],
)
def test_invalid_rules_are_rejected_clearly(text: str, fragment: str) -> None:
    with pytest.raises(InvalidRecurrence) as caught:
        normalize_rrule(text)
    assert caught.value.field == "recurrence"
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("series", "error", "field", "fragment"),
    [
        (
            weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;BYDAY=XX"),
            InvalidRecurrence,
            "recurrence",
            "BYDAY",
        ),
        (
            weekly(local(2027, 3, 1, 18), "FREQ=WEEKLY;BYDAY=TU"),
            InvalidRecurrence,
            "recurrence",
            "first occurrence",
        ),
        (
            weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;UNTIL=20270101"),
            InvalidRecurrence,
            "recurrence",
            "no occurrences",
        ),
        (
            weekly(local(2027, 3, 2, 18), timezone="Europe/Atlantis"),
            InvalidTimezone,
            "timezone",
            "IANA",
        ),
        (
            weekly(local(2027, 3, 2, 18), lead_in_minutes=90),
            ScheduleValidationError,
            "lead_in_minutes",
            "0 to 60",
        ),
        (
            weekly(local(2027, 3, 2, 18), exdates=(local(2027, 3, 3, 18),)),
            ScheduleValidationError,
            "exdates",
            "not an occurrence",
        ),
        (
            weekly(local(2027, 3, 2, 18), exdates=(utc(2027, 3, 9, 17),)),
            ScheduleValidationError,
            "exdates",
            "local wall-clock",
        ),
        (
            weekly(local(2027, 3, 2, 18), None, exdates=(local(2027, 3, 2, 18),)),
            ScheduleValidationError,
            "exdates",
            "need a recurrence",
        ),
    ],
)
def test_validate_series_rejects(
    series: SeriesRule, error: type[Exception], field: str, fragment: str
) -> None:
    with pytest.raises(error) as caught:
        validate_series(series)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert fragment in caught.value.message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("until", "includes_last"),
    [
        ("20270330T160000Z", True),  # exactly 18:00 CEST
        ("20270330T155959Z", False),
        ("20270330", True),  # a date includes its whole day
        ("20270329", False),
        ("20270330T180000", True),  # floating local time
        ("20270330T175959", False),
    ],
)
def test_until_forms(until: str, includes_last: bool) -> None:
    series = weekly(local(2027, 3, 2, 18), f"FREQ=WEEKLY;UNTIL={until}")
    validate_series(series)
    assert (utc(2027, 3, 30, 16) in starts(series)) is includes_last
    assert len(starts(series)) == (5 if includes_last else 4)


# --- limits and horizon --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "ok"),
    [
        (f"FREQ=DAILY;COUNT={MAX_OCCURRENCES}", True),
        (f"FREQ=DAILY;COUNT={MAX_OCCURRENCES + 1}", False),
        ("FREQ=DAILY;COUNT=100000", False),
        ("FREQ=DAILY", False),  # open-ended and denser than the limit
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", False),  # 522 in two years
        ("FREQ=WEEKLY", True),  # open-ended is fine at a sane density
        ("FREQ=WEEKLY;UNTIL=20290301", True),  # just under two years
        ("FREQ=WEEKLY;UNTIL=20290306T170000Z", False),  # first occurrence past the two-year mark
        ("FREQ=MONTHLY;COUNT=30", False),  # bounded but longer than two years
    ],
)
def test_series_length_limit(rule: str, ok: bool) -> None:
    series = weekly(local(2027, 3, 2, 18), rule)
    if ok:
        validate_series(series)
        return
    with pytest.raises(SeriesTooLong) as caught:
        validate_series(series)
    assert caught.value.field == "recurrence"
    assert isinstance(caught.value, InvalidRecurrence)


def test_unbounded_rule_is_expanded_only_inside_the_window() -> None:
    series = weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;BYDAY=TU")
    validate_series(series)
    assert not is_bounded(series)
    result = expand(series, utc(2040, 1, 1), utc(2040, 2, 1))
    assert [o.recurrence_id for o in result] == [
        "2040-01-03T18:00:00",
        "2040-01-10T18:00:00",
        "2040-01-17T18:00:00",
        "2040-01-24T18:00:00",
        "2040-01-31T18:00:00",
    ]
    assert {o.start_utc.hour for o in result} == {17}


def test_window_is_half_open_on_the_start_instant() -> None:
    series = weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;COUNT=3")
    assert starts(series, (utc(2027, 3, 9, 17), utc(2027, 3, 16, 17))) == [utc(2027, 3, 9, 17)]
    assert starts(series, (utc(2027, 3, 9, 17), utc(2027, 3, 9, 17))) == []
    with pytest.raises(ValueError):
        expand(series, utc(2027, 3, 9), utc(2027, 3, 8))


def test_one_off_seminar_expands_to_itself() -> None:
    series = SeriesRule(local(2027, 3, 2, 18), local(2027, 3, 2, 20))
    validate_series(series)
    assert is_bounded(series)
    assert expand(series, *EVERYTHING) == [
        OccurrenceTime("2027-03-02T18:00:00", utc(2027, 3, 2, 17), utc(2027, 3, 2, 19))
    ]
    assert expand(series, utc(2027, 3, 3), utc(2027, 4, 1)) == []


# --- exdates and overrides -----------------------------------------------------------------------


def test_exdates_are_removed_and_count_includes_them() -> None:
    series = weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;COUNT=4", exdates=(local(2027, 3, 9, 18),))
    validate_series(series)
    ids = [o.recurrence_id[:10] for o in expand(series, *EVERYTHING)]
    # RFC 5545: COUNT counts the rule's instances before EXDATE removes any.
    assert ids == ["2027-03-02", "2027-03-16", "2027-03-23"]
    with pytest.raises(OccurrenceNotFound):
        occurrence_for(series, "2027-03-09T18:00:00")


def test_recurrence_ids_round_trip_and_find_occurrences() -> None:
    series = weekly(local(2027, 3, 23, 18), "FREQ=WEEKLY;COUNT=3")
    assert recurrence_id_for(local(2027, 3, 30, 18)) == "2027-03-30T18:00:00"
    assert parse_recurrence_id("2027-03-30T18:00:00") == local(2027, 3, 30, 18)
    found = occurrence_for(series, "2027-03-30T18:00:00")
    assert (found.start_utc, found.end_utc) == (utc(2027, 3, 30, 16), utc(2027, 3, 30, 18))
    for bad in (
        "2027-03-31T18:00:00",
        "2027-04-13T18:00:00",
        "yesterday",
        "2027-03-30T18:00:00+02:00",
    ):
        with pytest.raises(OccurrenceNotFound):
            occurrence_for(series, bad)


def test_apply_overrides_moves_and_cancels() -> None:
    series = weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;COUNT=3")
    overrides = [
        OccurrenceOverride("2027-03-09T18:00:00", cancelled=True),
        OccurrenceOverride(
            "2027-03-02T18:00:00", start_utc=utc(2027, 3, 20, 9), end_utc=utc(2027, 3, 20, 10)
        ),
        OccurrenceOverride("2027-12-24T18:00:00", cancelled=True),  # not in this list: ignored
    ]
    result = apply_overrides(expand(series, *EVERYTHING), overrides)
    assert [(o.recurrence_id[:10], o.start_utc, o.cancelled, o.moved) for o in result] == [
        ("2027-03-09", utc(2027, 3, 9, 17), True, False),
        ("2027-03-16", utc(2027, 3, 16, 17), False, False),
        ("2027-03-02", utc(2027, 3, 20, 9), False, True),
    ]


def test_expand_with_overrides_follows_moved_occurrences_across_the_window() -> None:
    series = weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;COUNT=10")
    overrides = [
        # 2027-03-09 moves out of March, 2027-04-06 moves into it.
        OccurrenceOverride(
            "2027-03-09T18:00:00", start_utc=utc(2027, 4, 20, 8), end_utc=utc(2027, 4, 20, 9)
        ),
        OccurrenceOverride(
            "2027-04-06T18:00:00", start_utc=utc(2027, 3, 31, 8), end_utc=utc(2027, 3, 31, 9)
        ),
        OccurrenceOverride(
            "2027-03-10T18:00:00", start_utc=utc(2027, 3, 12, 8), end_utc=utc(2027, 3, 12, 9)
        ),  # stale
    ]
    march = expand_with_overrides(series, utc(2027, 3, 1), utc(2027, 4, 1), overrides)
    assert [o.recurrence_id[:10] for o in march] == [
        "2027-03-02",
        "2027-03-16",
        "2027-03-23",
        "2027-03-30",
        "2027-04-06",
    ]
    assert march[-1].moved and march[-1].start_utc == utc(2027, 3, 31, 8)
    april = expand_with_overrides(series, utc(2027, 4, 1), utc(2027, 5, 1), overrides)
    assert "2027-03-09T18:00:00" in [o.recurrence_id for o in april]
    assert "2027-04-06T18:00:00" not in [o.recurrence_id for o in april]


def test_validate_override() -> None:
    series = weekly(local(2027, 3, 2, 18), "FREQ=WEEKLY;COUNT=3")
    validate_override(series, OccurrenceOverride("2027-03-09T18:00:00", cancelled=True))
    with pytest.raises(OccurrenceNotFound):
        validate_override(series, OccurrenceOverride("2027-03-10T18:00:00", cancelled=True))
    backwards = OccurrenceOverride(
        "2027-03-09T18:00:00", start_utc=utc(2027, 3, 9, 18), end_utc=utc(2027, 3, 9, 17)
    )
    with pytest.raises(ScheduleValidationError) as caught:
        validate_override(series, backwards)
    assert caught.value.field == "end"
    with pytest.raises(ValueError):
        OccurrenceOverride("2027-03-09T18:00:00", start_utc=utc(2027, 3, 9, 18))
