"""HLS pull for an ``hls`` partner through the whole service: a real partner and occurrence
started from the API, the playlist and segments served with the partner's token, FFmpeg reading
the stream over loopback HTTP through the endpoint, refusals (401/404) for wrong tokens, other
partners and path tricks, and nothing served once the occurrence stops."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from streaming.live.hls import rewrite_playlist, with_token
from tests.support.app_fixtures import RunningApp

SECRET = b"not a segment: must never be served"


async def _json(response: aiohttp.ClientResponse, status: int) -> dict:
    body = await response.json()
    assert response.status == status, body
    return body


async def _hls_partner(api: aiohttp.ClientSession, name: str) -> tuple[int, str]:
    body = {"name": name, "kind": "hls", "profile": "480p"}
    async with api.post("/api/v1/partners", json=body) as response:
        created = await _json(response, 201)
    assert created["kind"] == "hls" and created["hls_token"]
    return created["id"], created["hls_token"]


async def _wait_playlist(http: aiohttp.ClientSession, url: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(url) as response:
            if response.status == 200:
                text = await response.text()
                if any(line and not line.startswith("#") for line in text.splitlines()):
                    return text
            else:
                assert response.status == 404, await response.text()
        if time.monotonic() > deadline:
            raise AssertionError(f"no playlist with segments within {timeout} s")
        await asyncio.sleep(0.25)


async def _run(*argv: str, timeout: float = 15) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def _probe_streams(source: str) -> dict[str, tuple]:
    code, out, err = await _run(
        "ffprobe", "-v", "error", "-show_streams", "-of", "json", source, timeout=15
    )
    assert code == 0, err
    return {
        s["codec_type"]: (s["codec_name"], s.get("width"), s.get("height"))
        for s in json.loads(out)["streams"]
    }


async def _raw_get(base_url: str, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (no client-side normalisation of ``..`` or ``%2e``)."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_rewrite_playlist_adds_the_token_to_relative_uris_only() -> None:
    playlist = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.0,\nindex7.ts\n"
        "#EXTINF:2.0,\nhttps://cdn.example/x.ts\n#EXTINF:2.0,\n/abs/y.ts\n\n"
    )  # fmt: skip
    out = rewrite_playlist(playlist, "a/b+c")
    assert "index7.ts?token=a%2Fb%2Bc" in out.splitlines()
    assert '#EXT-X-MAP:URI="init.mp4?token=a%2Fb%2Bc"' in out
    # Never hand the token to another host, nor to a path outside the partner's directory.
    assert "https://cdn.example/x.ts" in out.splitlines() and "/abs/y.ts" in out.splitlines()
    assert with_token("seg.ts?x=1", "t") == "seg.ts?x=1&token=t"


@pytest.mark.slow
async def test_hls_partner_pulls_the_live_stream(
    api: aiohttp.ClientSession,
    http: aiohttp.ClientSession,
    knoten_app: RunningApp,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    partner_id, token = await _hls_partner(api, "Stadtbibliothek HLS")
    other_id, other_token = await _hls_partner(api, "Nicht eingeladen")
    seminar = {
        "title": "HLS live",
        "room_id": 1,
        "start": "2027-06-01T18:00:00",
        "end": "2027-06-01T19:00:00",
        "partner_ids": [partner_id],
        "record": False,
    }
    async with api.post("/api/v1/seminars", json=seminar) as response:
        occurrence_id = (await _json(response, 201))["occurrences"][0]["id"]
    base = knoten_app.url(f"/live/{occurrence_id}/{partner_id}")
    playlist_url = f"{base}/index.m3u8?token={token}"

    # Not on air yet: the right token gets a 404 (JSON), nothing else is told.
    async with http.get(playlist_url) as response:
        assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"

    async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
        assert (await _json(response, 200))["state"] == "live"
    text = await _wait_playlist(http, playlist_url, 20)

    # The playlist: headers, and every segment URI carries the same token.
    async with http.get(playlist_url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
        assert response.headers["Cache-Control"] == "no-cache"
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and any(line.startswith("#EXTINF:") for line in lines)
    segments = [line for line in lines if line and not line.startswith("#")]
    assert segments
    for uri in segments:
        parts = urlsplit(uri)
        assert parts.path.endswith(".ts") and "/" not in parts.path, uri
        assert parse_qs(parts.query) == {"token": [token]}, uri

    # A segment through the endpoint is a valid 480p TS with H.264 and AAC.
    async with http.get(f"{base}/{segments[-1]}") as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "video/mp2t"
        assert "max-age" in response.headers["Cache-Control"]
        segment = tmp_path / "segment.ts"
        segment.write_bytes(await response.read())
    streams = await _probe_streams(str(segment))
    assert streams["video"] == ("h264", 854, 480) and streams["audio"][0] == "aac"

    # FFmpeg itself reads the live stream over loopback HTTP through the endpoint.
    assert await _probe_streams(playlist_url) == streams
    pulled = tmp_path / "pulled.ts"
    code, _, err = await _run(
        "ffmpeg", "-v", "error", "-nostdin", "-i", playlist_url, "-t", "3", "-c", "copy",
        "-f", "mpegts", "-y", str(pulled), timeout=15,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await _run(
        "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(pulled)
    )
    assert code == 0 and float(json.loads(out)["format"]["duration"]) >= 2.5, (out, err)

    # Missing or wrong tokens: 401 with a JSON body, for the playlist and for segments.
    segment_name = urlsplit(segments[-1]).path
    for url in (
        f"{base}/index.m3u8",
        f"{base}/index.m3u8?token=",
        f"{base}/index.m3u8?token=wrong-{token[:8]}",
        f"{base}/index.m3u8?token={other_token}",
        f"{base}/{segment_name}",
        f"{base}/{segment_name}?token=wrong",
    ):
        async with http.get(url) as response:
            assert response.status == 401, url
            assert (await response.json())["error"]["code"] == "unauthorized"
            assert token not in await response.text()
    # A valid partner that is not on this occurrence: 404, as is an unknown occurrence.
    other = knoten_app.url(f"/live/{occurrence_id}/{other_id}/index.m3u8?token={other_token}")
    unknown = knoten_app.url(f"/live/999999/{partner_id}/index.m3u8?token={token}")
    for url in (other, unknown, f"{base}/nothing.ts?token={token}"):
        async with http.get(url) as response:
            assert response.status == 404, url
            assert (await response.json())["error"]["code"] == "not_found"

    # Path tricks: files that exist next to and above the partner's directory, and a symlink.
    data_dir = knoten_app.config.data_dir
    partner_dir = data_dir / "live" / str(occurrence_id) / str(partner_id)
    (data_dir / "secret.ts").write_bytes(SECRET)
    (data_dir / "live" / str(occurrence_id) / "secret.ts").write_bytes(SECRET)
    (partner_dir / "evil.ts").symlink_to(data_dir / "secret.ts")
    prefix = f"/live/{occurrence_id}/{partner_id}"
    query = f"?token={token}"
    for target in (
        f"{prefix}/../secret.ts{query}",
        f"{prefix}/../../../secret.ts{query}",
        f"{prefix}/..%2Fsecret.ts{query}",
        f"{prefix}/%2e%2e%2fsecret.ts{query}",
        f"{prefix}/%2e%2e/secret.ts{query}",
        f"{prefix}/%2e%2e{query}",
        f"{prefix}/..{query}",
        f"{prefix}/%2F{data_dir.as_posix().lstrip('/')}%2Fsecret.ts{query}",
        f"{prefix}/{data_dir.as_posix()}/secret.ts{query}",
        f"{prefix}/evil.ts{query}",
        f"{prefix}/index0.ts%00.ts{query}",
        f"{prefix}/.ts{query}",
        f"{prefix}/index.m3u8.tmp{query}",
        f"/live/{occurrence_id}/{partner_id}%2F..%2F{partner_id}/index.m3u8{query}",
        f"/live/{occurrence_id}/..%2F{occurrence_id}/{partner_id}/index.m3u8{query}",
        f"/live/{occurrence_id}/0{partner_id}/index.m3u8{query}",
        f"/live/{occurrence_id}/-{partner_id}/index.m3u8{query}",
    ):
        status, body = await _raw_get(knoten_app.base_url, target)
        assert status == 404, (target, status, body[:200])
        assert SECRET not in body, target

    # Stopped: nothing is served any more, not even the segments still on disk.
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
        assert (await _json(response, 200))["state"] == "ended"
    for url in (playlist_url, f"{base}/{segments[-1]}"):
        async with http.get(url) as response:
            assert response.status == 404, url
            assert (await response.json())["error"]["code"] == "not_found"

    # The token never reaches the service's own log lines (aiohttp's access log, which the
    # CLI disables, is the test fixture's and not checked here).
    leaked = [
        r.getMessage()
        for r in caplog.records
        if r.name.split(".")[0] in {"knoten", "streaming", "schedules", "recordings"}
        and token in r.getMessage()
    ]
    assert not leaked
    assert time.monotonic() - started < 40
