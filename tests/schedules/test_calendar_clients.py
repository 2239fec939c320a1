"""The feed's VTIMEZONEs read by three independent clients: icalendar (``to_tz`` from the
VTIMEZONE text), vobject (dateutil's tzical) and Mozilla's ical.js under Node (Thunderbird's
parser), for dates on both sides of DST changes in four zones; and the VTIMEZONE itself: RRULE
observances with their onsets in local time before the change, equal to the IANA zone at every
hour of the window, for zones with, without and with abolished DST.

Regression: icalendar's ``from_tzid`` wrote the start of summer time in Europe/Berlin at 03:00
as an RDATE list; ical.js read a seminar on 30 March 2027 18:00 Europe/Berlin as 17:00Z."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar

from schedules.calendar_feed import FeedEvent, build_room_calendar, occurrence_uid
from schedules.vtimezone import transitions, vtimezone
from tests.support.js_tools import run_node

HOST = "knoten.example.org"
#: (zone, local start) around the 2027 changes: Berlin and London on 28 March / 31 October,
#: New York on 14 March / 7 November, Sydney on 4 April / 3 October.
SEMINARS = [
    ("Europe/Berlin", datetime(2027, 3, 23, 18)),
    ("Europe/Berlin", datetime(2027, 3, 30, 18)),  # the issue's date: 16:00Z
    ("Europe/Berlin", datetime(2027, 3, 28, 3, 30)),  # right after the change
    ("Europe/Berlin", datetime(2027, 10, 31, 1, 30)),
    ("Europe/Berlin", datetime(2027, 11, 2, 18)),
    ("Europe/London", datetime(2027, 3, 30, 9)),
    ("America/New_York", datetime(2027, 3, 10, 18)),
    ("America/New_York", datetime(2027, 3, 16, 18)),
    ("America/New_York", datetime(2027, 11, 9, 18)),
    ("Australia/Sydney", datetime(2027, 4, 1, 18)),
    ("Australia/Sydney", datetime(2027, 4, 6, 18)),
    ("Australia/Sydney", datetime(2027, 10, 5, 18)),
    ("Europe/Berlin", datetime(2028, 3, 28, 18)),  # the year after: the open RRULE
]


def _events() -> list[FeedEvent]:
    events = []
    for index, (tz, start_local) in enumerate(SEMINARS, start=1):
        start = start_local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
        events.append(FeedEvent(
            occurrence_id=index, seminar_id=1, title=f"Termin {index}", description="", host="",
            timezone=tz, start_utc=start, end_utc=start + timedelta(hours=1), status="scheduled",
            sequence=0, recurrence_id=start_local.isoformat(), is_recurring=False,
            join_url=f"https://{HOST}/join/{index}", updated_utc=datetime(2027, 1, 1, tzinfo=UTC),
        ))  # fmt: skip
    return events


@pytest.fixture(scope="module")
def feed() -> bytes:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    return build_room_calendar(
        room_id=1, room_name="Seminarraum", events=_events(), host_domain=HOST, now_utc=now
    )


def _expected() -> dict[str, datetime]:
    return {occurrence_uid(e.occurrence_id, HOST): e.start_utc for e in _events()}


def test_the_issue_date_is_1600z() -> None:
    assert _expected()[occurrence_uid(2, HOST)] == datetime(2027, 3, 30, 16, tzinfo=UTC)


def test_icalendar_from_the_vtimezone_text(feed: bytes) -> None:
    calendar = Calendar.from_ical(feed)
    zones = {tz.tz_name: tz.to_tz(lookup_tzid=False) for tz in calendar.timezones}
    assert set(zones) == {"Europe/Berlin", "Europe/London", "America/New_York",
                          "Australia/Sydney"}  # fmt: skip
    read = {}
    for event in calendar.walk("VEVENT"):
        start = event["DTSTART"]
        local = start.dt.replace(tzinfo=None)
        read[str(event["UID"])] = local.replace(tzinfo=zones[start.params["TZID"]]).astimezone(UTC)
    assert read == _expected()


def test_vobject(feed: bytes) -> None:
    calendar = vobject.readOne(feed.decode())
    read = {e.uid.value: e.dtstart.value.astimezone(UTC) for e in calendar.vevent_list}
    assert read == _expected()


def test_ical_js_under_node(feed: bytes) -> None:
    read = json.loads(run_node("ical-utc.mjs", feed, needs="ical.js"))
    expected = {uid: start.strftime("%Y-%m-%dT%H:%M:%SZ") for uid, start in _expected().items()}
    assert read == expected


def test_berlin_observances_are_rrules_with_local_onsets() -> None:
    component = vtimezone("Europe/Berlin", date(2027, 1, 1), date(2029, 1, 1))
    text = component.to_ical().decode().replace("\r\n", "\n")
    observances = {sub.name: sub for sub in component.subcomponents}
    summer, winter = observances["DAYLIGHT"], observances["STANDARD"]
    assert len(component.subcomponents) == 2
    # Summer time starts at 02:00 on the clock before the change (CET), ends at 03:00 (CEST).
    assert summer["DTSTART"].to_ical() == b"20260329T020000"
    assert winter["DTSTART"].to_ical() == b"20261025T030000"
    assert "RDATE" not in text and "UNTIL" not in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in summer.to_ical().decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in winter.to_ical().decode()
    assert "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200" in summer.to_ical().decode()


def _instants(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Weekly samples plus a second before, at and an hour after every change of ``zone``."""
    weekly = [start + timedelta(days=7 * n) for n in range((end - start).days // 7)]
    around = [
        change.at_utc + timedelta(seconds=delta)
        for change in transitions(zone, start, end)
        for delta in (-1, 0, 3600)
    ]
    return weekly + around


@pytest.mark.parametrize(
    ("tzid", "until"),
    [("Europe/Berlin", 2040), ("America/New_York", 2040), ("Australia/Sydney", 2040),
     ("Australia/Lord_Howe", 2040), ("Asia/Tokyo", 2040), ("UTC", 2040),
     ("America/Santiago", 2028), ("Asia/Tehran", 2040)],
)  # fmt: skip
def test_vtimezone_equals_the_iana_zone(tzid: str, until: int) -> None:
    """Read back by icalendar (dateutil) from the text alone, at every change 2021–2027 and
    weekly, and beyond the window where the zone's rule is regular (Santiago's "first Sunday
    from the 2nd" is not a pattern the window shows; it is exact inside it). Tehran dropped DST
    in 2022 (a rule with UNTIL), Lord Howe shifts by 30 minutes."""
    component = vtimezone(tzid, date(2021, 1, 1), date(2028, 1, 1))
    calendar = Calendar()
    calendar.add_component(component)
    parsed = Calendar.from_ical(calendar.to_ical()).timezones[0].to_tz(lookup_tzid=False)
    zone = ZoneInfo(tzid)
    start, end = datetime(2021, 1, 1, tzinfo=UTC), datetime(until, 1, 1, tzinfo=UTC)
    for instant in _instants(zone, start, end):
        assert instant.astimezone(parsed).utcoffset() == instant.astimezone(zone).utcoffset(), (
            tzid,
            instant,
        )


def test_irregular_zone_lists_each_change() -> None:
    """Casablanca leaves +01 for Ramadan, on dates no yearly rule describes: one observance per
    change, each with its onset on the clock before it (dateutil misreads its negative DST, so
    the observances are compared with the zone's changes directly)."""
    zone = ZoneInfo("Africa/Casablanca")
    component = vtimezone("Africa/Casablanca", date(2024, 1, 1), date(2026, 1, 1))
    assert "RRULE" not in component.to_ical().decode()
    onsets = [
        (sub["DTSTART"].dt, sub["TZOFFSETFROM"].td, sub["TZOFFSETTO"].td)
        for sub in component.subcomponents
    ]
    changes = transitions(zone, datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    expected = [
        ((c.at_utc + c.offset_from).replace(tzinfo=None), c.offset_from, c.offset_to)
        for c in changes
    ]
    assert onsets == expected and len(onsets) == 6
