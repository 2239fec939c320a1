"""Rooms API: the default room, create/read/update/delete, masked camera credentials."""

from __future__ import annotations

import aiohttp
import pytest

pytestmark = pytest.mark.both_databases


async def test_default_room_exists_on_first_start(api: aiohttp.ClientSession) -> None:
    async with api.get("/api/v1/rooms") as response:
        assert response.status == 200
        rooms = await response.json()
    assert rooms == [
        {"id": 1, "name": "Seminarraum", "source": "testsrc", "timezone": "Europe/Berlin"}
    ]


async def test_room_lifecycle(api: aiohttp.ClientSession) -> None:
    async with api.post(
        "/api/v1/rooms", json={"name": "Makerspace", "source": "/dev/video0"}
    ) as response:
        assert response.status == 201
        room = await response.json()
        assert response.headers["Location"] == f"/api/v1/rooms/{room['id']}"
    assert room["timezone"] == "Europe/Berlin"
    async with api.patch(
        f"/api/v1/rooms/{room['id']}", json={"name": "Makerspace 2", "timezone": "Europe/Vienna"}
    ) as response:
        assert response.status == 200
        assert await response.json() == {
            "id": room["id"],
            "name": "Makerspace 2",
            "source": "/dev/video0",
            "timezone": "Europe/Vienna",
        }
    async with api.delete(f"/api/v1/rooms/{room['id']}") as response:
        assert response.status == 204
    async with api.get(f"/api/v1/rooms/{room['id']}") as response:
        assert response.status == 404


async def test_camera_credentials_never_listed(api: aiohttp.ClientSession) -> None:
    secret_url = "rtsp://admin:geheim123@192.0.2.10:554/stream1"
    async with api.post("/api/v1/rooms", json={"name": "Cam", "source": secret_url}) as response:
        assert response.status == 201
        created = await response.text()
    async with api.get("/api/v1/rooms") as response:
        listing = await response.text()
    for text in (created, listing):
        assert "geheim123" not in text
        assert "rtsp://" in text


async def test_file_source_inside_data_dir_is_accepted(api: aiohttp.ClientSession) -> None:
    async with api.post("/api/v1/rooms", json={"name": "Film", "source": "media/intro.mp4"}) as r:
        assert r.status == 201
        assert (await r.json())["source"] == "media/intro.mp4"
