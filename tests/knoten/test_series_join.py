"""One join link per seminar: before, during and after a date it opens the right one; a wrong
or per-date token opens nothing; per-date links keep working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import aiohttp
import pytest

from knoten.config import Config
from knoten.series_links import pick
from schedules.ports import LoggingSessionRunner
from tests.support.app_fixtures import admin_session, serve

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2027, 3, 16, 17, 0, tzinfo=UTC)


def _date(day: int, state: str = "scheduled") -> SimpleNamespace:
    start = T0 + timedelta(days=day)
    return SimpleNamespace(id=day, start_utc=start, end_utc=start + timedelta(hours=1),
                           lead_out_minutes=10, state=state)  # fmt: skip


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (T0 - timedelta(days=3), 0),  # long before: the first date
        (T0 - timedelta(minutes=5), 0),  # in the lead-in of the first
        (T0 + timedelta(minutes=30), 0),  # during the first
        (T0 + timedelta(minutes=65), 0),  # in its lead-out
        (T0 + timedelta(minutes=71), 1),  # after it: the next
        (T0 + timedelta(days=1, minutes=30), 1),  # during the second
        (T0 + timedelta(days=1, hours=2), 3),  # the third is cancelled: the fourth
        (T0 + timedelta(days=9), 3),  # after the last: the last
    ],
)
def test_pick_opens_the_current_or_next_date(now: datetime, expected: int) -> None:
    dates = [_date(0), _date(1), _date(2, "cancelled"), _date(3)]
    assert pick(dates, now).id == expected  # type: ignore[arg-type, union-attr]


async def test_series_link_redirects_to_the_date_on_now(app_config: Config) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(minutes=10)
    body = {"title": "Kurs in 3 Terminen", "room_id": 1, "start": first.isoformat(),
            "end": (first + timedelta(hours=1)).isoformat(),
            "recurrence": "FREQ=DAILY;COUNT=3", "lead_in_minutes": 0}  # fmt: skip
    runner = LoggingSessionRunner()
    async with serve(app_config, session_runner=runner) as app, admin_session(app) as api:
        async with api.post("/api/v1/seminars", json=body) as response:
            assert response.status == 201, await response.text()
            seminar = await response.json()
        today = seminar["occurrences"][0]
        link = seminar["series_join_url"]
        async with aiohttp.ClientSession() as http:
            async with http.get(link, allow_redirects=False) as response:
                assert response.status == 303
                assert response.headers["Location"] == today["join_url"]
                assert response.headers["Cache-Control"] == "no-store"
            # The per-date link it leads to opens the join page.
            async with http.get(today["join_url"]) as response:
                assert response.status == 200
            # Before a course: its link opens its first date.
            later = {**body, "title": "Später", "start": (first + timedelta(days=5)).isoformat(),
                     "end": (first + timedelta(days=5, hours=1)).isoformat()}  # fmt: skip
            async with api.post("/api/v1/seminars", json=later) as response:
                upcoming = await response.json()
            async with http.get(upcoming["series_join_url"], allow_redirects=False) as response:
                assert response.headers["Location"] == upcoming["occurrences"][0]["join_url"]
            # A wrong token, or a per-date token, opens nothing.
            path = urlsplit(link).path
            date_token = today["join_url"].split("t=", 1)[1]
            for token in ("x", date_token, link.split("t=", 1)[1] + "x"):
                async with http.get(app.url(f"{path}?t={token}"), allow_redirects=False) as r:
                    assert r.status == 403, token
