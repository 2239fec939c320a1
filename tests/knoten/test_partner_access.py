"""Schedule-bound partner access: a partner's page lists its dates with a pull address each;
that address is refused outside its date's window and plays inside it (ffprobe); the partner's
calendar feed lists the same dates."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from types import SimpleNamespace

import aiohttp
import pytest

from knoten.accounts.principal import Role
from knoten.partner_access import PartnerAccess
from knoten.web.session import COOKIE
from tests.support.accounts import ensure_account
from tests.support.app_fixtures import RunningApp

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

T0 = datetime(2027, 3, 16, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "admitted"),
    [
        (T0 - timedelta(minutes=10, seconds=1), False),  # before the lead-in
        (T0 - timedelta(minutes=10), True),  # the lead-in begins
        (T0 + timedelta(minutes=30), True),
        (T0 + timedelta(hours=1, minutes=20), True),  # end + lead-out 5 + grace 15
        (T0 + timedelta(hours=1, minutes=20, seconds=1), False),
    ],
)
def test_the_window_runs_from_lead_in_to_end_plus_lead_out_plus_grace(
    now: datetime, admitted: bool
) -> None:
    access = PartnerAccess(b"0123456789abcdef0123", "http://k", now=lambda: now)
    row = SimpleNamespace(id=5, start_utc=T0, end_utc=T0 + timedelta(hours=1), lead_in_minutes=10,
                          lead_out_minutes=5, actual_start_utc=None, partner_ids=(3,))  # fmt: skip
    assert access.admits(3, row) is admitted  # type: ignore[arg-type]
    assert not access.admits(4, row), "only a partner invited to the date"  # type: ignore[arg-type]
    token = access.pull_url(3, row).split("token=")[1]  # type: ignore[arg-type]
    assert access.signed_for(token, 3, 5) and not access.signed_for(token, 4, 5)
    assert not access.signed_for(token, 3, 6)


async def _probe(url: str) -> dict:
    process = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_streams", "-of", "json", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err
    return json.loads(out)


async def test_partner_pulls_its_date_inside_the_window_only(
    knoten_app: RunningApp, api: aiohttp.ClientSession, http: aiohttp.ClientSession
) -> None:
    body = {"name": "Campus Schwerin", "kind": "hls", "profile": "480p"}
    async with api.post("/api/v1/partners", json=body) as response:
        partner = await response.json()
    await ensure_account(knoten_app, "campus", "campus-passwort", Role.PARTNER,
                         partner_id=partner["id"])  # fmt: skip
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    ids = {}
    for title, start in (
        ("Jetzt gleich", soon),
        ("Im Sommer", datetime(2027, 7, 1, 16, tzinfo=UTC)),
    ):
        seminar = {"title": title, "room_id": 1, "start": start.isoformat(),
                   "end": (start + timedelta(hours=1)).isoformat(), "record": False,
                   "partner_ids": [partner["id"]], "lead_in_minutes": 5}  # fmt: skip
        async with api.post("/api/v1/seminars", json=seminar) as response:
            assert response.status == 201, await response.text()
            ids[title] = (await response.json())["occurrences"][0]["id"]
    async with api.post("/api/v1/seminars", json={
        "title": "Ohne Campus", "room_id": 1, "start": "2027-07-02T16:00:00+00:00",
        "end": "2027-07-02T17:00:00+00:00"}) as response:  # fmt: skip
        assert response.status == 201

    # The partner signs in and finds its two dates, each with its own pull address.
    form = {"username": "campus", "password": "campus-passwort"}
    async with http.post(knoten_app.url("/signin"), data=form, allow_redirects=False) as r:
        cookies = {COOKIE: SimpleCookie(r.headers["Set-Cookie"])[COOKIE].value}
    async with http.get(knoten_app.url("/dashboard/my-dates?lang=de"), cookies=cookies) as r:
        page = await r.text()
    assert "Jetzt gleich" in page and "Im Sommer" in page and "Ohne Campus" not in page
    urls = [html.unescape(u) for u in re.findall(r'value="([^"]+/live/[^"]+)"', page)]
    now_url, summer_url = urls
    assert f"/live/{ids['Jetzt gleich']}/{partner['id']}/index.m3u8?token=" in now_url
    feed = html.unescape(re.search(r'value="([^"]+\.ics\?token=[^"]+)"', page)[1])

    # Outside its window: refused. A token moved to another date or partner: refused.
    async with http.get(summer_url) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "outside_window"
    token = now_url.split("token=")[1]
    for other in (f"/live/{ids['Im Sommer']}/{partner['id']}", f"/live/{ids['Jetzt gleich']}/999"):
        async with http.get(knoten_app.url(f"{other}/index.m3u8?token={token}")) as response:
            assert response.status == 401, other
    # Inside the window but not on air yet: nothing there.
    async with http.get(now_url) as response:
        assert response.status == 404

    # On air: the address plays.
    async with api.post(f"/api/v1/occurrences/{ids['Jetzt gleich']}/start") as response:
        assert response.status == 200
    deadline = time.monotonic() + 30
    while True:
        async with http.get(now_url) as response:
            if response.status == 200 and ".ts" in await response.text():
                break
        assert time.monotonic() < deadline, "no playlist in time"
        await asyncio.sleep(0.5)
    streams = {s["codec_type"]: s["codec_name"] for s in (await _probe(now_url))["streams"]}
    assert streams == {"video": "h264", "audio": "aac"}
    async with api.post(f"/api/v1/occurrences/{ids['Jetzt gleich']}/stop") as response:
        assert response.status == 200

    # The partner's calendar feed: its dates with their pull addresses; a wrong token: 404.
    async with http.get(feed) as response:
        assert response.status == 200
        text = (await response.text()).replace("\r\n ", "")
    assert "Jetzt gleich" in text and "Im Sommer" in text and "Ohne Campus" not in text
    assert f"/live/{ids['Im Sommer']}/{partner['id']}/index.m3u8" in text
    async with http.get(feed + "x") as response:
        assert response.status == 404
