"""The room's iCalendar feed, read back by two independent parsers: icalendar and vobject.

icalendar resolves TZID by name; vobject builds its tzinfo from the feed's own VTIMEZONE (via
dateutil), so agreement of both with the original UTC instants checks the VTIMEZONE data too.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import vobject
from icalendar import Calendar, Event

from schedules.calendar_feed import (
    PRODID,
    STATUS_NOTES,
    FeedEvent,
    build_room_calendar,
    occurrence_uid,
)
from schedules.domain import OccurrenceState, SeriesRule
from schedules.errors import InvalidTimezone
from schedules.recurrence import expand
from tests.schedules.builders import BERLIN, local, utc

HOST = "knoten.example.org"
NOW = utc(2027, 2, 1, 9, 30)
ROOM_NAME = "Seminarraum 1, Erdgeschoss; links"
TITLE = "Lesen, Schreiben; Rechnen – Grüße aus Köln (Übung)"
DESCRIPTION = "Erste Zeile: ä ö ü ß\nZweite Zeile, mit; Zeichen \\ und Tab\tEnde"
HOST_NAME = "Dr. Jörg Weiß, Stadtbibliothek"
CANCELLED_ID = 104  # 2027-03-30, the first occurrence on summer time


def join_url(occurrence_id: int) -> str:
    return f"https://{HOST}/join/{occurrence_id}?lang=de&room=1"


def series_events() -> list[FeedEvent]:
    """Weekly Tuesday 18:00–19:30 Berlin, 2027-03-09 .. 04-13: across the 2027-03-28 DST change."""
    series = SeriesRule(
        start_local=local(2027, 3, 9, 18),
        end_local=local(2027, 3, 9, 19, 30),
        timezone=BERLIN,
        rrule="FREQ=WEEKLY;COUNT=6",
    )
    occurrences = expand(series, utc(2027, 1, 1), utc(2028, 1, 1))
    events = [
        FeedEvent(
            occurrence_id=101 + index,
            seminar_id=7,
            title=TITLE,
            description=DESCRIPTION,
            host=HOST_NAME,
            timezone=BERLIN,
            start_utc=occurrence.start_utc,
            end_utc=occurrence.end_utc,
            status="cancelled" if 101 + index == CANCELLED_ID else "scheduled",
            sequence=index * 2,
            recurrence_id=occurrence.recurrence_id,
            is_recurring=True,
            join_url=join_url(101 + index),
            updated_utc=utc(2027, 1, 15, 12) + timedelta(minutes=index),
        )
        for index, occurrence in enumerate(occurrences)
    ]
    # The fixture really spans the DST change: 17:00 UTC in winter, 16:00 UTC in summer.
    assert [e.start_utc.hour for e in events] == [17, 17, 17, 16, 16, 16]
    return events


def one_off(**changes: Any) -> FeedEvent:
    event = FeedEvent(
        occurrence_id=201,
        seminar_id=8,
        title="Offene Sprechstunde",
        description="",
        host="",
        timezone=BERLIN,
        start_utc=utc(2027, 4, 1, 8),
        end_utc=utc(2027, 4, 1, 9),
        status="ended",
        sequence=0,
        recurrence_id="2027-04-01T10:00:00",
        is_recurring=False,
        join_url=join_url(201),
        updated_utc=utc(2027, 1, 20),
    )
    return replace(event, **changes)


def build(events: list[FeedEvent], **kwargs: Any) -> bytes:
    arguments: dict[str, Any] = {
        "room_id": 1,
        "room_name": ROOM_NAME,
        "events": events,
        "host_domain": HOST,
        "now_utc": NOW,
    }
    return build_room_calendar(**(arguments | kwargs))


def expected_description(event: FeedEvent) -> str:
    lines = []
    if event.status in STATUS_NOTES:
        lines += [f"Hinweis: {STATUS_NOTES[OccurrenceState(event.status)]}", ""]
    if event.description:
        lines += [event.description, ""]
    if event.host:
        lines.append(f"Leitung: {event.host}")
    lines.append(f"Teilnehmen: {event.join_url}")
    return "\n".join(lines)


def icalendar_events(feed: bytes) -> dict[str, Event]:
    return {str(vevent["UID"]): vevent for vevent in Calendar.from_ical(feed).events}


def vobject_events(feed: bytes) -> dict[str, Any]:
    calendar = vobject.readOne(feed.decode("utf-8"))
    return {vevent.uid.value: vevent for vevent in calendar.contents.get("vevent", [])}


@pytest.fixture(scope="module")
def events() -> list[FeedEvent]:
    return [*series_events(), one_off()]


@pytest.fixture(scope="module")
def feed(events: list[FeedEvent]) -> bytes:
    return build(events)


def test_calendar_properties(feed: bytes) -> None:
    calendar = Calendar.from_ical(feed)
    calendar.validate()
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == PRODID == "-//Knoten//Seminarraum//DE"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == ROOM_NAME
    assert str(calendar["X-WR-TIMEZONE"]) == BERLIN
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    # Expanded occurrences only: no recurrence rules or exceptions for clients to merge.
    # (RRULEs appear only in the VTIMEZONE observances.)
    assert all("RRULE" not in event for event in calendar.walk("VEVENT"))
    assert b"RECURRENCE-ID" not in feed


def test_icalendar_reads_every_event_back(feed: bytes, events: list[FeedEvent]) -> None:
    parsed = icalendar_events(feed)
    assert len(parsed) == len(events)
    for event in events:
        vevent = parsed[occurrence_uid(event.occurrence_id, HOST)]
        start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
        assert vevent["DTSTART"].params["TZID"] == BERLIN
        assert vevent["DTEND"].params["TZID"] == BERLIN
        assert start == event.start_utc and end == event.end_utc
        assert start.astimezone(UTC) == event.start_utc  # the round trip, explicitly
        assert int(vevent["SEQUENCE"]) == event.sequence
        assert str(vevent["SUMMARY"]) == event.title
        assert str(vevent["DESCRIPTION"]) == expected_description(event)
        assert str(vevent["LOCATION"]) == ROOM_NAME
        assert str(vevent["URL"]) == event.join_url
        assert vevent.decoded("DTSTAMP") == NOW
        assert vevent.decoded("LAST-MODIFIED") == event.updated_utc
        if event.seminar_id == 7:
            assert (start.hour, start.minute) == (18, 0)


def test_vobject_reads_every_event_back(feed: bytes, events: list[FeedEvent]) -> None:
    parsed = vobject_events(feed)
    assert len(parsed) == len(events)
    for event in events:
        vevent = parsed[occurrence_uid(event.occurrence_id, HOST)]
        start, end = vevent.dtstart.value, vevent.dtend.value
        assert vevent.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == [BERLIN]
        assert start.astimezone(UTC) == event.start_utc
        assert end.astimezone(UTC) == event.end_utc
        assert int(vevent.sequence.value) == event.sequence
        assert vevent.summary.value == event.title
        assert vevent.description.value == expected_description(event)
        assert vevent.location.value == ROOM_NAME
        assert vevent.url.value == event.join_url
        assert vevent.last_modified.value.astimezone(UTC) == event.updated_utc
        if event.seminar_id == 7:
            assert (start.hour, start.minute) == (18, 0)


def test_vtimezone_holds_the_transitions_around_the_events(feed: bytes) -> None:
    calendar = Calendar.from_ical(feed)
    assert [tz.tz_name for tz in calendar.timezones] == [BERLIN]
    observances = {component.name for component in calendar.timezones[0].subcomponents}
    assert observances == {"STANDARD", "DAYLIGHT"}
    # Built from the VTIMEZONE text alone, not looked up by name.
    zone = calendar.timezones[0].to_tz(lookup_tzid=False)
    assert datetime(2027, 3, 23, 18, tzinfo=zone).astimezone(UTC) == utc(2027, 3, 23, 17)
    assert datetime(2027, 3, 30, 18, tzinfo=zone).astimezone(UTC) == utc(2027, 3, 30, 16)
    assert datetime(2027, 11, 2, 18, tzinfo=zone).astimezone(UTC) == utc(2027, 11, 2, 17)
    # VTIMEZONEs precede the events that use them.
    names = [component.name for component in calendar.subcomponents]
    assert names.index("VTIMEZONE") < names.index("VEVENT")


def test_uids_are_stable_across_builds_and_unique(events: list[FeedEvent]) -> None:
    shuffled = events[:]
    random.Random(4).shuffle(shuffled)
    first = icalendar_events(build(events))
    later = icalendar_events(build(shuffled, now_utc=NOW + timedelta(days=3)))
    assert set(first) == set(later)
    assert len(first) == len({e.occurrence_id for e in events})
    assert set(first) == {f"knoten-occurrence-{e.occurrence_id}@{HOST}" for e in events}
    for uid, vevent in first.items():
        assert vevent.decoded("DTSTART") == later[uid].decoded("DTSTART")


def test_same_input_gives_same_bytes(events: list[FeedEvent]) -> None:
    # The web layer may hash the feed for an ETag; input order must not matter.
    assert build(events) == build(list(reversed(events)))


def test_only_the_cancelled_occurrence_is_cancelled(feed: bytes, events: list[FeedEvent]) -> None:
    by_uid = icalendar_events(feed)
    statuses = {uid: str(vevent["STATUS"]) for uid, vevent in by_uid.items()}
    cancelled_uid = occurrence_uid(CANCELLED_ID, HOST)
    assert statuses.pop(cancelled_uid) == "CANCELLED"
    assert set(statuses.values()) == {"CONFIRMED"}
    assert str(by_uid[cancelled_uid]["TRANSP"]) == "TRANSPARENT"
    assert {vevent.status.value for vevent in vobject_events(feed).values()} == {
        "CANCELLED",
        "CONFIRMED",
    }


@pytest.mark.parametrize("state", list(OccurrenceState))
def test_status_mapping_and_notes(state: OccurrenceState) -> None:
    vevent = icalendar_events(build([one_off(status=state.value)]))[occurrence_uid(201, HOST)]
    cancelled = state is OccurrenceState.CANCELLED
    requested = state is OccurrenceState.REQUESTED  # a host's booking not confirmed yet
    expected = "CANCELLED" if cancelled else "TENTATIVE" if requested else "CONFIRMED"
    assert str(vevent["STATUS"]) == expected
    assert str(vevent["TRANSP"]) == ("TRANSPARENT" if cancelled else "OPAQUE")
    description = str(vevent["DESCRIPTION"])
    if state in (OccurrenceState.CANCELLED, OccurrenceState.MISSED, OccurrenceState.FAILED,
                 OccurrenceState.REQUESTED):  # fmt: skip
        assert description.startswith(f"Hinweis: {STATUS_NOTES[state]}\n\n")
    else:
        assert "Hinweis" not in description
    assert description.endswith(f"Teilnehmen: {join_url(201)}")


def test_empty_room_is_a_valid_calendar() -> None:
    feed = build([], calendar_name="Knoten – Raum 1")
    calendar = Calendar.from_ical(feed)
    calendar.validate()  # RFC 5545 needs one component: the calendar's VTIMEZONE
    assert calendar.events == []
    assert str(calendar["X-WR-CALNAME"]) == "Knoten – Raum 1"
    assert str(calendar["X-WR-TIMEZONE"]) == BERLIN
    assert [tz.tz_name for tz in calendar.timezones] == [BERLIN]
    parsed = vobject.readOne(feed.decode("utf-8"))
    assert parsed.prodid.value == PRODID
    assert "vevent" not in parsed.contents
    assert_wire_format(feed)


def assert_wire_format(feed: bytes) -> None:
    assert feed.startswith(b"BEGIN:VCALENDAR\r\n") and feed.endswith(b"END:VCALENDAR\r\n")
    lines = feed.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 75, line
        line.decode("utf-8")  # folding never splits a multi-byte character


def test_lines_are_folded_at_75_octets_with_crlf(events: list[FeedEvent]) -> None:
    long_title = "Große Übersicht über Bücher, Zeitschriften; Hörbücher " * 6
    feed = build([*events, one_off(occurrence_id=202, title=long_title)])
    assert_wire_format(feed)
    assert any(line.startswith(b" ") for line in feed.split(b"\r\n"))  # folding did happen
    assert str(icalendar_events(feed)[occurrence_uid(202, HOST)]["SUMMARY"]) == long_title
    assert vobject_events(feed)[occurrence_uid(202, HOST)].summary.value == long_title


def test_second_pass_of_a_dst_fold_is_written_in_utc() -> None:
    # 2027-10-31 02:30 local happens twice in Berlin: 00:30 UTC (CEST) and 01:30 UTC (CET). Only
    # the first can be written as local time; a reader would take TZID 02:30 as the first one.
    first = one_off(
        occurrence_id=301, start_utc=utc(2027, 10, 31, 0, 30), end_utc=utc(2027, 10, 31, 2, 30)
    )
    second = one_off(
        occurrence_id=302, start_utc=utc(2027, 10, 31, 1, 30), end_utc=utc(2027, 10, 31, 2, 30)
    )
    # Starts on the first pass but ends on the second: the pair is written in UTC together.
    spanning = one_off(
        occurrence_id=303, start_utc=utc(2027, 10, 31, 0, 15), end_utc=utc(2027, 10, 31, 1, 15)
    )
    feed = build([first, second, spanning])
    assert b"DTSTART;TZID=Europe/Berlin:20271031T023000\r\n" in feed
    assert b"DTEND;TZID=Europe/Berlin:20271031T033000\r\n" in feed
    assert b"DTSTART:20271031T013000Z\r\nDTEND:20271031T023000Z\r\n" in feed
    assert b"DTSTART:20271031T001500Z\r\nDTEND:20271031T011500Z\r\n" in feed
    for event in (first, second, spanning):
        uid = occurrence_uid(event.occurrence_id, HOST)
        ical = icalendar_events(feed)[uid]
        # astimezone: PEP 495 makes a time inside a fold unequal to any instant in another zone.
        assert ical.decoded("DTSTART").astimezone(UTC) == event.start_utc
        assert ical.decoded("DTEND").astimezone(UTC) == event.end_utc
        vobj = vobject_events(feed)[uid]
        assert vobj.dtstart.value.astimezone(UTC) == event.start_utc
        assert vobj.dtend.value.astimezone(UTC) == event.end_utc


def test_several_timezones_get_one_vtimezone_each(events: list[FeedEvent]) -> None:
    new_york = one_off(occurrence_id=401, timezone="America/New_York")
    feed = build([*events, new_york])
    calendar = Calendar.from_ical(feed)
    assert [tz.tz_name for tz in calendar.timezones] == ["America/New_York", BERLIN]
    assert str(calendar["X-WR-TIMEZONE"]) == BERLIN  # the most used one
    vevent = icalendar_events(feed)[occurrence_uid(401, HOST)]
    assert vevent["DTSTART"].params["TZID"] == "America/New_York"
    assert vevent.decoded("DTSTART").hour == 4  # 08:00 UTC on 2027-04-01 is 04:00 EDT
    ny = vobject_events(feed)[occurrence_uid(401, HOST)].dtstart.value
    assert ny.astimezone(UTC) == new_york.start_utc


def test_text_is_normalized_to_valid_ical_text() -> None:
    event = one_off(title="A\r\nB\x00C", description="eins\r\nzwei\rdrei\x1b\tvier")
    vevent = icalendar_events(build([event]))[occurrence_uid(201, HOST)]
    assert str(vevent["SUMMARY"]) == "A\nBC"
    assert str(vevent["DESCRIPTION"]).startswith("eins\nzwei\ndrei\tvier\n\n")


def test_times_are_truncated_to_whole_seconds() -> None:
    event = one_off(
        start_utc=utc(2027, 4, 1, 8) + timedelta(microseconds=600_000),
        end_utc=utc(2027, 4, 1, 9) + timedelta(microseconds=600_000),
    )
    vevent = icalendar_events(build([event]))[occurrence_uid(201, HOST)]
    assert vevent.decoded("DTSTART") == utc(2027, 4, 1, 8)
    assert vevent.decoded("DTEND") == utc(2027, 4, 1, 9)


@pytest.mark.parametrize(
    "changes",
    [
        {"start_utc": datetime(2027, 4, 1, 8)},
        {"updated_utc": datetime(2027, 4, 1, 8)},
        {"end_utc": utc(2027, 4, 1, 8)},
        {"status": "postponed"},
        {"sequence": -1},
        {"join_url": ""},
        {"join_url": "https://knoten.example.org/join/1\r\nX-EVIL:1"},
    ],
)
def test_feed_event_rejects_invalid_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        one_off(**changes)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"events": [one_off(), one_off()]},
        {"host_domain": ""},
        {"host_domain": "evil host"},
        {"host_domain": "user@example.org"},
        {"now_utc": datetime(2027, 2, 1)},
    ],
)
def test_build_rejects_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build(**({"events": []} | kwargs))


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(InvalidTimezone):
        build([one_off(timezone="Mars/Olympus_Mons")])
