"""One host's whole afternoon, end to end, against real media: headless Chromium drives the
dashboard of a real Knoten (FFmpeg test-pattern camera in room 1, a real nginx-rtmp partner),
a second browser context watches through the join link, and the recording is played back.

Flow: sign in; book a weekly seminar with recording and a partner; see it in the calendar; run
into a conflict; open the live panel and start early; watch camera and partner output come up
without a reload; open the preview (WebRTC, same path as participants); watch as a participant
in a second context; stop; find the recording, play it, keep it, share it, delete it. No page
requests anything but the service. Screenshots of every step land in ``artifacts_dir``.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.accounts import TEST_PASSWORD, staff_form
from tests.support.app_fixtures import RunningApp
from tests.support.browser import JsTimeoutError, RequestLog, eval_with_timeout, wait_for_js
from tests.support.nginx_rtmp import NginxRtmpPartner

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

BERLIN = ZoneInfo("Europe/Berlin")
TITLE = "Lesecafé digital"
BUDGET_S = 60.0

# Picture in a <video>: decoded size known and frames still arriving (sampled twice).
FRAMES_GROWING = """async (selector) => {
  const v = document.querySelector(selector);
  if (!v || !v.videoWidth) return null;
  const q = () => v.getVideoPlaybackQuality().totalVideoFrames;
  const a = q();
  await new Promise((r) => setTimeout(r, 400));
  const b = q();
  return b > a ? {width: v.videoWidth, height: v.videoHeight, a, b} : null;
}"""

# framesDecoded of the join page's inbound video RTP stream (-1 while there is none).
FRAMES_DECODED = """async () => {
  const pc = window.knotenJoin.peer();
  if (!pc) return -1;
  let frames = -1;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") frames = s.framesDecoded || 0;
  });
  return frames;
}"""


def _day() -> date:
    return datetime.now(BERLIN).date()


async def _shot(page: Page, directory: Path, name: str, full: bool = True) -> None:
    await page.screenshot(path=str(directory / f"{name}.png"), full_page=full)


def _foreign(urls: list[str], base_url: str) -> list[str]:
    origin = urlsplit(base_url)
    return [
        u
        for u in urls
        if urlsplit(u).scheme in {"http", "https", "ws", "wss"} and urlsplit(u)[:2] != origin[:2]
    ]


async def _frames_decoded(page: Page) -> int:
    return int(await eval_with_timeout(page, FRAMES_DECODED, 5))


async def _watch_as_participant(context: BrowserContext, join_url: str, shots: Path) -> Page:
    """Open the join link; return the page once it plays a picture with frames still decoding."""
    viewer = await context.new_page()
    await viewer.goto(join_url)
    await wait_for_js(viewer, "window.knotenJoin && window.knotenJoin.status() === 'live'", 15)
    await wait_for_js(viewer, FRAMES_GROWING, 15, arg="#player")
    first = await _frames_decoded(viewer)
    await asyncio.sleep(1.0)
    later = await _frames_decoded(viewer)
    assert first > 0 and later > first, ("framesDecoded must grow", first, later)
    await _shot(viewer, shots, "08-participant-watching", full=False)
    return viewer


async def test_host_runs_a_recorded_seminar_end_to_end(
    knoten_app: RunningApp,
    api: aiohttp.ClientSession,
    browser: Browser,
    page: Page,
    request_log: RequestLog,
    console_log: list[str],
    artifacts_dir: Path,
    nginx_partner: NginxRtmpPartner,
) -> None:
    began = time.monotonic()
    base = knoten_app.base_url
    first = _day() + timedelta(days=14)

    # A partner exists already (set up once by the librarian on the partners page).
    partner = {"name": "Offener Kanal", "kind": "rtmp", "url": nginx_partner.url("knoten")}
    async with api.post("/api/v1/partners", json=partner) as response:
        assert response.status == 201, await response.text()

    # -- 1. sign in ---------------------------------------------------------------------------
    await page.goto(knoten_app.url("/signin?lang=de"))
    await page.goto(knoten_app.url("/dashboard"))
    await expect(page).to_have_url(re.compile(r"/signin"))
    await page.get_by_label("Benutzername").fill((await staff_form(knoten_app))["username"])
    await page.get_by_label("Passwort").fill(TEST_PASSWORD)
    await _shot(page, artifacts_dir, "01-signin")
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("heading", name="Kalender", exact=True)).to_be_visible()

    # -- 2. book a weekly, recorded seminar with the partner ------------------------------------
    await page.get_by_role("link", name="Neues Seminar").click()
    await page.get_by_label("Titel").fill(TITLE)
    await page.get_by_label("Kursleitung").fill("Frau Aydın")
    await page.get_by_label("Datum", exact=True).fill(first.isoformat())
    await page.get_by_label("Beginn").fill("16:00")
    await page.get_by_label("Ende", exact=True).fill("17:00")
    await page.get_by_label("Jede Woche").check()
    await page.locator("#count").fill("3")
    await expect(page.get_by_label("Aufzeichnen")).to_be_checked()
    await page.get_by_label("Offener Kanal").check()
    await _shot(page, artifacts_dir, "02-seminar-form")
    await page.get_by_role("button", name="Speichern").click()

    # -- 3. it is in the calendar ----------------------------------------------------------------
    await page.wait_for_url(lambda url: "/dashboard?" in url and "week=" in url)
    event = page.get_by_test_id("event").filter(has_text=TITLE)
    await expect(event).to_have_count(1)
    await expect(event).to_contain_text("16:00–17:00")
    await _shot(page, artifacts_dir, "03-calendar")
    calendar_url = page.url

    # -- 4. a clashing booking names the seminar ------------------------------------------------
    await page.goto(knoten_app.url("/dashboard/seminars/new"))
    await page.get_by_label("Titel").fill("Vorlesestunde")
    await page.get_by_label("Datum", exact=True).fill(first.isoformat())
    await page.get_by_label("Beginn").fill("16:30")
    await page.get_by_label("Ende", exact=True).fill("17:30")
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.get_by_test_id("when-error")).to_contain_text(TITLE)
    await _shot(page, artifacts_dir, "04-conflict")

    # -- 5. live panel: start early --------------------------------------------------------------
    await page.goto(calendar_url)
    await event.click()
    await page.wait_for_url(re.compile(r"/dashboard/occurrences/\d+$"))
    occurrence_id = int(page.url.rsplit("/", 1)[1])
    state = page.get_by_test_id("live-state")
    await expect(state).to_have_text("Geplant")
    await expect(page.get_by_test_id("preview-button")).to_be_hidden()
    await _shot(page, artifacts_dir, "05-live-scheduled")
    await page.evaluate("window.__noReload = true")
    await page.get_by_role("button", name="Jetzt starten").click()
    await page.get_by_test_id("confirm-dialog").get_by_role("button", name="Starten").click()
    await expect(state).to_have_text("Live")

    # -- 6. camera and partner output come up live, without a reload -----------------------
    source = page.get_by_test_id("source-state")
    await expect(source).to_have_attribute("data-state", "live", timeout=20_000)
    await expect(page.get_by_test_id("source-on-air")).to_have_attribute("data-on-air", "camera")
    await expect(page.get_by_test_id("source-format")).to_contain_text("×")
    output = page.get_by_test_id("output").first
    await expect(output).to_contain_text("Offener Kanal")
    await expect(output).to_have_attribute("data-state", "live", timeout=15_000)
    await expect(output.get_by_test_id("output-bitrate")).to_contain_text("kbit/s", timeout=10_000)
    await expect(page.get_by_test_id("viewers")).to_have_text("0")
    assert await page.evaluate("window.__noReload === true"), "the panel never reloaded"
    await _shot(page, artifacts_dir, "06-live-running")

    # -- 7. the preview, over the participants' WebRTC path --------------------------------------
    await page.get_by_role("button", name="Vorschau anzeigen").click()
    await wait_for_js(page, FRAMES_GROWING, 15, arg="#preview-video")
    await expect(page.get_by_test_id("preview-status")).to_have_text("Vorschau läuft (ohne Ton)")
    await expect(page.get_by_test_id("viewers")).to_have_text("1", timeout=5_000)
    await _shot(page, artifacts_dir, "07-live-preview")

    # -- 8. a participant watches in a second browser context ------------------------------------
    join_url = await page.get_by_test_id("join-url").input_value()
    assert join_url.startswith(f"{base}/join/{occurrence_id}?t=")
    participant_log = RequestLog()
    participant = await browser.new_context(viewport={"width": 800, "height": 600})
    participant.set_default_timeout(10_000)
    participant.on("request", participant_log.on_request)
    try:
        try:
            viewer = await _watch_as_participant(participant, join_url, artifacts_dir)
        except (JsTimeoutError, AssertionError) as first_failure:
            # The join page is being reworked elsewhere; one retry on a fresh page, then fail.
            print(f"join page retry after: {first_failure}")
            for old in participant.pages:
                await old.close()
            viewer = await _watch_as_participant(participant, join_url, artifacts_dir)
        await expect(page.get_by_test_id("viewers")).to_have_text("2", timeout=5_000)
        await _shot(page, artifacts_dir, "09-live-two-viewers")

        # -- 9. stop: everyone's peer ends -------------------------------------------------------
        await page.get_by_role("button", name="Vorschau schließen").click()
        assert await page.evaluate("window.knotenLive.preview() === null")
        await page.get_by_role("button", name="Beenden").click()
        await page.get_by_role("button", name="Jetzt beenden").click()
        await expect(state).to_have_text("Beendet")
        await expect(page.get_by_test_id("preview-button")).to_be_hidden()
        await expect(page.get_by_test_id("recording-after")).to_be_visible()
        await wait_for_js(viewer, "window.knotenJoin.status() === 'ended'", 10)
        await _shot(page, artifacts_dir, "10-live-ended")
    finally:
        await asyncio.wait_for(participant.close(), 15)  # closes its peer connection
    assert participant_log.urls, "the participant page loaded"
    assert participant_log.non_loopback() == []
    assert _foreign(participant_log.urls, base) == []

    # -- 10. the recording: find it, play it, keep it, share it, delete it ------------------------
    await page.get_by_test_id("recording-after").get_by_role("link").click()
    await page.wait_for_url(knoten_app.url("/dashboard/recordings"))
    row = page.get_by_test_id("recording-row").filter(has_text=TITLE)
    await expect(row).to_have_count(1)
    # The page refreshes by itself while the recording is finalized (≤ 30 s).
    await expect(row).to_have_attribute("data-status", "available", timeout=30_000)
    await _shot(page, artifacts_dir, "11-recordings")
    await page.get_by_label("Suche").fill("Lesecafé")
    await expect(page.get_by_test_id("recording-row")).to_have_count(1)
    await page.get_by_label("Suche").fill("gibt es nicht")
    await expect(page.get_by_test_id("recording-row")).to_have_count(0)
    await page.get_by_label("Suche").fill("")

    await row.get_by_role("button", name=f"Abspielen: „{TITLE}“").click()
    await wait_for_js(
        page,
        "(() => { const v = document.querySelector('#player-video');"
        " return v.readyState >= 2 && v.currentTime > 0.5 && !v.paused && v.videoWidth; })()",
        10,
    )
    await _shot(page, artifacts_dir, "12-recording-playing")
    await page.get_by_role("button", name="Schließen").first.click()

    await row.get_by_label(f"„{TITLE}“ dauerhaft behalten").check()
    await expect(page.locator("#recordings-message")).to_contain_text("dauerhaft behalten")
    async with api.get("/api/v1/recordings") as response:
        recording = next(r for r in await response.json() if r["title"] == TITLE)
    assert recording["keep"] is True

    await row.get_by_role("button", name=f"Link teilen: „{TITLE}“").click()
    share_box = page.get_by_test_id("share-url")
    await expect(share_box).to_have_value(re.compile("^" + re.escape(f"{base}/share/recordings/")))
    await expect(share_box).to_be_focused()
    share_url = await share_box.input_value()
    await _shot(page, artifacts_dir, "13-recording-shared")
    async with aiohttp.ClientSession() as anonymous, anonymous.get(share_url) as response:
        assert response.status == 200  # the link works without any sign-in

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await row.get_by_role("button", name=f"Löschen: {TITLE}").click()
    await expect(page.get_by_test_id("recording-row")).to_have_count(0)
    await expect(page.locator("#recordings-message")).to_have_text("Die Aufzeichnung ist gelöscht.")
    async with api.get(f"/api/v1/recordings/{recording['id']}") as response:
        assert response.status == 404
    await _shot(page, artifacts_dir, "14-recording-deleted")

    # -- nothing left the service ----------------------------------------------------------------
    assert request_log.non_loopback() == []
    assert _foreign(request_log.urls, base) == []
    assert request_log.matching(r"/api/v1/recordings/\d+/media"), "the video came from the API"
    errors = [
        line
        for line in console_log
        if line.startswith(("error", "pageerror")) and "Failed to load resource" not in line
    ]
    assert not errors, errors
    elapsed = time.monotonic() - began
    print(f"end-to-end flow took {elapsed:.1f} s")
    assert elapsed < BUDGET_S, f"the flow took {elapsed:.1f} s (budget {BUDGET_S} s)"
