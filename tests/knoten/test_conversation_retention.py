"""A date's chat goes with its recording, and 30 days after the date when it has none; time
comes from an injected clock, so nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from foundation.clock import FakeClock
from knoten.config import Config
from knoten.conversation.retention import DateFacts, dates_to_purge
from knoten.keys import CONVERSATION_RETENTION, CONVERSATIONS, RECORDINGS
from tests.support.app_fixtures import admin_session, serve

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
END = datetime(2031, 3, 4, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("facts", "now", "purged"),
    [
        (DateFacts(1, END, recorded=False), END + timedelta(days=29), []),
        (DateFacts(1, END, recorded=False), END + timedelta(days=31), [1]),
        (DateFacts(1, END, recorded=True), END + timedelta(days=400), []),  # goes with it
        (DateFacts(1, None, recorded=False), END, [1]),  # the date itself is gone
    ],
)
def test_rule(facts: DateFacts, now: datetime, purged: list[int]) -> None:
    assert dates_to_purge([facts], now, days=30) == purged


async def _seminar(api: aiohttp.ClientSession, day: int, record: bool) -> int:
    body = {"title": f"Termin {day}", "room_id": 1, "start": f"2031-03-{day:02d}T18:00:00",
            "end": f"2031-03-{day:02d}T19:30:00", "record": record}  # fmt: skip
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["occurrences"][0]["id"]


async def test_chat_goes_with_the_recording_or_after_30_days(app_config: Config) -> None:
    clock = FakeClock(NOW)
    async with serve(app_config, clock=clock) as running, admin_session(running) as api:
        app = running.app
        hub = app[CONVERSATIONS]
        recorded = await _seminar(api, 4, record=True)
        plain = await _seminar(api, 5, record=False)
        for occurrence_id in (recorded, plain):
            await hub.say(await hub.conversation(occurrence_id), None, "Willkommen!")
        recording = await app[RECORDINGS].create(recorded, 1, "Termin 4", END)
        await app[RECORDINGS].set_status(recording.id, "available")

        retention = app[CONVERSATION_RETENTION]
        clock.set(END + timedelta(days=20))
        assert await retention.run_once() == []
        clock.set(END + timedelta(days=40))
        assert await retention.run_once() == [plain]  # no recording: 30 days after its end
        async with api.get(f"/api/v1/occurrences/{plain}/messages") as response:
            assert await response.json() == []
        async with api.get(f"/api/v1/occurrences/{recorded}/messages") as response:
            assert [m["text"] for m in await response.json()] == ["Willkommen!"]

        async with api.delete(f"/api/v1/recordings/{recording.id}") as response:
            assert response.status == 204
        async with api.get(f"/api/v1/occurrences/{recorded}/messages") as response:
            assert await response.json() == []  # deleted with the recording
