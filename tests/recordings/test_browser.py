"""Chromium plays a recording through the share page (the realistic path: no bearer token in a
browser): the <video> element's currentTime advances."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from knoten.keys import ARCHIVE_PATHS, FINALIZER, RECORDINGS
from tests.recordings.fixtures_media import make_recording
from tests.support.browser import eval_with_timeout, wait_for_js

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_orphan_ffmpeg")]


async def test_chromium_plays_the_shared_recording(knoten_app, api, page, request_log):
    app = knoten_app.app
    recording_id = await make_recording(app[RECORDINGS], app[ARCHIVE_PATHS], app[FINALIZER],
                                        seconds=4, started_at=datetime.now(UTC))  # fmt: skip
    async with api.post(f"/api/v1/recordings/{recording_id}/share", json={}) as response:
        share = await response.json()
    await page.goto(share["url"])
    await eval_with_timeout(
        page,
        "() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }",
        10,
    )
    played = await wait_for_js(
        page, "() => { const v = document.querySelector('video'); "
        "return v.currentTime > 1.0 && !v.error && [v.currentTime, v.videoWidth]; }", 15,
    )  # fmt: skip
    assert played[1] == 320
    assert request_log.matching(r"/share/recordings/.+/media")
    assert not request_log.non_loopback()
