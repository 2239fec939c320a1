"""Open-ended series are stored up to a rolling horizon that moves forward with time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from knoten.db import Database
from schedules.clock import FakeClock
from schedules.service import HORIZON, ScheduleService, SeminarDraft


@pytest.mark.both_databases
async def test_open_ended_series_is_extended_as_time_passes(database_url: str) -> None:
    database = Database(database_url)
    await database.start()
    try:
        clock = FakeClock(datetime(2027, 1, 4, 8, 0, tzinfo=UTC))
        service = ScheduleService(lambda: database.engine, clock)
        detail = await service.create_seminar(
            SeminarDraft(
                title="Offener Treff",
                room_id=1,
                start=datetime(2027, 1, 5, 18, 0),
                end=datetime(2027, 1, 5, 19, 0),
                rrule="FREQ=WEEKLY",
            )
        )
        first = detail.occurrences
        assert first[-1].start_utc <= clock.now() + HORIZON
        assert len(first) == 53  # weekly within 366 days
        assert await service.extend_horizons() == 0, "nothing to add at the same instant"

        clock.advance(timedelta(days=28))
        assert await service.extend_horizons() == 4
        after = (await service.seminar(detail.seminar.id)).occurrences
        assert [o.id for o in after[: len(first)]] == [o.id for o in first]
        assert after[-1].start_utc - first[-1].start_utc == timedelta(days=28)
    finally:
        await database.aclose()
