"""German words for what media does, in Chromium: a partner that refuses the connection is a
sentence on the live panel with FFmpeg's lines behind "Einzelheiten"; a recording downloads as
``<date>-<title>.mp4`` from the recordings page and from the share page.

Regression: issue #16 saw FFmpeg's "Conversion failed!" on the German live panel and recordings
that downloaded as "media".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from knoten.keys import ARCHIVE_PATHS, FINALIZER, RECORDINGS
from tests.knoten.test_dashboard_browser import sign_in
from tests.recordings.fixtures_media import make_recording
from tests.support.app_fixtures import RunningApp
from tests.support.page_checks import PageWalk, english_words
from tests.support.ports import free_tcp_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(90),
    pytest.mark.usefixtures("no_orphan_ffmpeg"),
]

BERLIN = ZoneInfo("Europe/Berlin")


async def _post(api: aiohttp.ClientSession, path: str, body: dict) -> dict:
    async with api.post(path, json=body) as response:
        assert response.status in (200, 201), (path, response.status, await response.text())
        return await response.json()


async def test_a_refusing_partner_is_explained_in_german_with_the_detail_on_demand(
    knoten_app: RunningApp, api: aiohttp.ClientSession, page: Page, artifacts_dir: Path
) -> None:
    closed = free_tcp_port()  # nobody listens: FFmpeg's connection is refused
    partner = await _post(api, "/api/v1/partners", {
        "name": "Offener Kanal", "kind": "rtmp", "url": f"rtmp://127.0.0.1:{closed}/live/key",
    })  # fmt: skip
    day = datetime.now(BERLIN).date() + timedelta(days=1)
    seminar = await _post(api, "/api/v1/seminars", {
        "title": "Lesekreis", "room_id": 1, "record": False, "partner_ids": [partner["id"]],
        "start": f"{day.isoformat()}T10:00:00", "end": f"{day.isoformat()}T11:00:00",
    })  # fmt: skip
    occurrence_id = seminar["occurrences"][0]["id"]
    await sign_in(page, knoten_app, f"/dashboard/occurrences/{occurrence_id}")
    try:
        await _post(api, f"/api/v1/occurrences/{occurrence_id}/start", {})
        problem = page.get_by_test_id("output-problem")
        await expect(problem).to_contain_text("Das Ziel nimmt keine Verbindung an.", timeout=30_000)
        await expect(problem).to_contain_text("Knoten versucht es von selbst erneut.")
        detail = page.get_by_test_id("output-detail")
        await expect(detail.locator("code")).not_to_be_visible()
        await detail.get_by_text("Einzelheiten").click()
        await expect(detail.locator("code")).to_contain_text("refused")
        # Still open after the next updates (the table is rebuilt every second).
        await page.wait_for_timeout(2500)
        await expect(detail.locator("code")).to_be_visible()
        await page.screenshot(path=str(artifacts_dir / "output-problem.png"), full_page=True)
        await detail.get_by_text("Einzelheiten").click()
        row_text = await page.get_by_test_id("output").inner_text()
        assert english_words([row_text]) == [], row_text
        # The whole live panel while live, with an output in trouble: German and accessible.
        walk = PageWalk(artifacts_dir)
        await walk.check(page, "live-panel-live")
        walk.assert_clean()
    finally:
        async with api.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
            assert response.status in (200, 409)


async def test_recordings_download_as_date_and_title(
    knoten_app: RunningApp, api: aiohttp.ClientSession, page: Page, artifacts_dir: Path
) -> None:
    app = knoten_app.app
    # 23:30 UTC on 16 March is already the 17th in Berlin: the name carries the room's date.
    started = datetime(2027, 3, 16, 23, 30, tzinfo=UTC)
    recording_id = await make_recording(
        app[RECORDINGS], app[ARCHIVE_PATHS], app[FINALIZER], seconds=2,
        title="Lesekreis: Über „Faust“ / Teil 1", started_at=started,
    )  # fmt: skip
    expected = "2027-03-17-Lesekreis-Über-„Faust“-Teil-1.mp4"
    async with api.get(f"/api/v1/recordings/{recording_id}/media?download=true") as response:
        assert response.status == 200
        header = response.headers["Content-Disposition"]
    assert header == (
        'attachment; filename="2027-03-17-Lesekreis-Ueber-Faust-Teil-1.mp4"; '
        "filename*=UTF-8''2027-03-17-Lesekreis-%C3%9Cber-%E2%80%9EFaust%E2%80%9C-Teil-1.mp4"
    )

    await sign_in(page, knoten_app, "/dashboard/recordings")
    row = page.get_by_test_id("recording-row").first
    async with page.expect_download() as info:
        await row.get_by_role("link", name=re.compile(r"^Herunterladen: ")).click()
    download = await info.value
    assert download.suggested_filename == expected
    saved = artifacts_dir / "download.mp4"
    await download.save_as(saved)
    assert saved.stat().st_size == app[ARCHIVE_PATHS].media(recording_id).stat().st_size

    share = await _post(api, f"/api/v1/recordings/{recording_id}/share", {})
    await page.goto(share["url"])
    await expect(page.locator("time").first).to_have_text("Mittwoch, 17. März 2027, 00:30 Uhr")
    async with page.expect_download() as info:
        await page.get_by_test_id("download").click()
    assert (await info.value).suggested_filename == expected


async def test_join_page_after_the_end_links_the_recording_once_the_host_shared_it(
    knoten_app: RunningApp, api: aiohttp.ClientSession, page: Page, artifacts_dir: Path
) -> None:
    soon = datetime.now(BERLIN).replace(second=0, microsecond=0, tzinfo=None) + timedelta(hours=2)
    seminar = await _post(api, "/api/v1/seminars", {
        "title": "Lesekreis", "room_id": 1, "record": False,
        "start": soon.isoformat(), "end": (soon + timedelta(minutes=30)).isoformat(),
    })  # fmt: skip
    occurrence_id = seminar["occurrences"][0]["id"]
    async with api.get(f"/api/v1/occurrences/{occurrence_id}") as response:
        join_url = (await response.json())["join_url"]
    await _post(api, f"/api/v1/occurrences/{occurrence_id}/start", {})
    await _post(api, f"/api/v1/occurrences/{occurrence_id}/stop", {})
    app = knoten_app.app
    recording_id = await make_recording(
        app[RECORDINGS], app[ARCHIVE_PATHS], app[FINALIZER], seconds=2, title="Lesekreis",
        occurrence_id=occurrence_id, seminar_id=seminar["id"], started_at=datetime.now(UTC),
    )  # fmt: skip

    await page.goto(join_url + "&lang=de")
    await expect(page.get_by_test_id("message")).to_contain_text("beendet")
    await expect(page.get_by_test_id("recording-link")).to_be_hidden()

    share = await _post(api, f"/api/v1/recordings/{recording_id}/share", {})
    await page.reload()
    link = page.get_by_role("link", name="Aufzeichnung ansehen")
    await expect(link).to_be_visible()
    assert await link.get_attribute("href") == share["url"]  # the host's very link
    await page.screenshot(path=str(artifacts_dir / "join-ended-recording.png"), full_page=True)
    await link.click()
    await expect(page.get_by_test_id("player")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lesekreis")
