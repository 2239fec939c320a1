"""An OBS-style push: the host's encoder sends SRT to the room's listener. With the room's key the
picture reaches the partners; with a wrong key the handshake is refused and the slate stays."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from knoten.config import Config
from knoten.keys import SEMINAR_CONTROLLER
from streaming.ffmpeg.tools import ffprobe_json
from tests.support.app_fixtures import make_config, serve
from tests.support.bookings import add_rtmp_partner, book_date
from tests.support.ports import free_tcp_port

DATE = datetime(2027, 5, 4, 18, 0)  # booked far ahead and started by hand

pytestmark = pytest.mark.slow


def _push(url: str, seconds: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
         "-re", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
         "-g", "30", "-c:a", "aac", "-f", "mpegts", url],
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
def push_config(tmp_path: Path) -> Config:
    return make_config(
        tmp_path / "data", free_tcp_port(), KNOTEN_SRT_PORT_BASE=str(free_tcp_port())
    )


async def test_push_with_key_goes_on_air_wrong_key_refused(
    push_config: Config, nginx_partner
) -> None:
    async with serve(push_config) as app:
        headers = {"Authorization": f"Bearer {app.token}"}
        async with aiohttp.ClientSession(base_url=app.base_url, headers=headers) as api:
            async with api.get("/api/v1/rooms/1/ingest") as response:
                assert response.status == 409  # the test pattern room takes no pushes
            async with api.patch("/api/v1/rooms/1", json={"source": "srt-push"}) as response:
                assert response.status == 200
                assert "passphrase" not in await response.text()
            async with api.get("/api/v1/rooms/1/ingest") as response:
                ingest = await response.json()
            partner_id = await add_rtmp_partner(api, nginx_partner.url("c"))
            occurrence_id = (
                await book_date(
                    api,
                    DATE,
                    title="OBS-Übertragung",
                    start=True,
                    partner_ids=[partner_id],
                    record=False,
                )
            )["id"]
        session = app.app[SEMINAR_CONTROLLER].session(occurrence_id)
        assert session is not None
        await _until(lambda: session.source_status().on_air == "slate", 15, "slate")

        wrong = ingest["url"].replace(ingest["passphrase"], "falscher-schluessel-123")
        intruder = _push(wrong, 5)
        returncode = await asyncio.to_thread(intruder.wait, 15)
        assert returncode != 0, "a push with the wrong key must be refused"
        assert session.source_status().on_air == "slate"

        host = _push(ingest["url"], 12)
        try:
            await _until(lambda: session.source_status().on_air == "camera", 15, "camera")
            probe = await ffprobe_json(nginx_partner.url("c"), timeout=15)
        finally:
            host.kill()
            host.wait()
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
