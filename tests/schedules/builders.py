"""Small constructors shared by the schedules tests, so each table row stays one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schedules.domain import OccurrenceState, OccurrenceView

BERLIN = "Europe/Berlin"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute)


def t(hhmm: str) -> datetime:
    """An instant on a fixed test day (2027-05-04, UTC) from "HH:MM"."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return utc(2027, 5, 4, hours, minutes)


def view(
    oid: int | str,
    start: str | datetime,
    end: str | datetime,
    *,
    room: int | str = 1,
    lead_in: int = 0,
    lead_out: int = 0,
    state: OccurrenceState = OccurrenceState.SCHEDULED,
    seminar_id: int | str | None = "s",
    title: str | None = None,
    actual_start: str | datetime | None = None,
) -> OccurrenceView:
    def instant(value: str | datetime) -> datetime:
        return t(value) if isinstance(value, str) else value

    return OccurrenceView(
        id=oid,
        seminar_id=seminar_id,
        room_id=room,
        title=title if title is not None else f"seminar {oid}",
        start_utc=instant(start),
        end_utc=instant(end),
        lead_in=timedelta(minutes=lead_in),
        lead_out=timedelta(minutes=lead_out),
        state=state,
        actual_start_utc=instant(actual_start) if actual_start is not None else None,
    )
