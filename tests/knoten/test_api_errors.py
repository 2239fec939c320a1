"""Every bad request under /api/v1 gets a JSON error with the right status, never HTML."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.app_fixtures import RunningApp


async def _error(response: aiohttp.ClientResponse) -> dict:
    assert response.content_type == "application/json", await response.text()
    body = await response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "field"} <= set(body["error"])
    return body["error"]


async def test_missing_token_is_401(knoten_app: RunningApp, http: aiohttp.ClientSession) -> None:
    async with http.get(knoten_app.url("/api/v1/rooms")) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        error = await _error(response)
    assert error["code"] == "unauthorized"
    assert error["message"] == "missing bearer token"


async def test_wrong_token_is_401(knoten_app: RunningApp, http: aiohttp.ClientSession) -> None:
    headers = {"Authorization": "Bearer not-the-token"}
    async with http.get(knoten_app.url("/api/v1/rooms"), headers=headers) as response:
        assert response.status == 401
        error = await _error(response)
    assert error["message"] == "invalid token"


async def test_malformed_json_is_400(api: aiohttp.ClientSession) -> None:
    async with api.post(
        "/api/v1/rooms", data=b'{"name": "A",', headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        error = await _error(response)
    assert error["code"] == "malformed_json"


async def test_json_that_is_not_an_object_is_400(api: aiohttp.ClientSession) -> None:
    async with api.post("/api/v1/rooms", json=["a"]) as response:
        assert response.status == 400
        assert (await _error(response))["code"] == "malformed_json"


async def test_unknown_path_is_json_404(api: aiohttp.ClientSession) -> None:
    async with api.get("/api/v1/nothing-here") as response:
        assert response.status == 404
        assert (await _error(response))["code"] == "not_found"


async def test_unknown_room_is_404(api: aiohttp.ClientSession) -> None:
    for room_id in ("999", "0", "9223372036854775808"):
        async with api.get(f"/api/v1/rooms/{room_id}") as response:
            assert response.status == 404
            assert (await _error(response))["code"] == "room_not_found"
    # Not an id at all: no route matches ({room_id:[0-9]+}).
    async with api.get("/api/v1/rooms/abc") as response:
        assert response.status == 404
        assert (await _error(response))["code"] == "not_found"


async def test_wrong_method_is_405(api: aiohttp.ClientSession) -> None:
    async with api.put("/api/v1/rooms", json={}) as response:
        assert response.status == 405
        assert "GET" in response.headers["Allow"]
        assert (await _error(response))["code"] == "method_not_allowed"


async def test_oversized_body_is_413(api: aiohttp.ClientSession, knoten_app: RunningApp) -> None:
    size = knoten_app.config.server.max_body_bytes + 1
    payload = b'{"name": "' + b"x" * size + b'"}'
    async with api.post(
        "/api/v1/rooms", data=payload, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 413
        assert (await _error(response))["code"] == "payload_too_large"
    async with api.get("/api/v1/rooms") as response:
        assert [room["name"] for room in await response.json()] == ["Seminarraum"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "A", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "A", "source": "file:/etc/passwd"}, "source"),
        ({"name": "A", "source": "-f lavfi"}, "source"),
        ({"name": "A", "source": "../../etc/passwd"}, "source"),
        ({"name": "A", "source": "/etc/passwd"}, "source"),
        ({"name": "A", "source": "rtsp://cam.local/live -y"}, "source"),
        ({"name": "A", "colour": "blue"}, "colour"),
    ],
)
async def test_validation_error_is_422_naming_the_field(
    api: aiohttp.ClientSession, body: dict, field: str
) -> None:
    async with api.post("/api/v1/rooms", json=body) as response:
        assert response.status == 422
        error = await _error(response)
    assert error["code"] == "validation_error"
    assert error["field"] == field
    async with api.get("/api/v1/rooms") as response:
        assert len(await response.json()) == 1, "a refused request must change nothing"


async def test_duplicate_room_name_is_409(api: aiohttp.ClientSession) -> None:
    async with api.post("/api/v1/rooms", json={"name": "Seminarraum"}) as response:
        assert response.status == 409
        error = await _error(response)
    assert error["field"] == "name"


async def test_errors_outside_the_api_stay_html(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    async with http.get(knoten_app.url("/no-such-page")) as response:
        assert response.status == 404
        assert response.content_type != "application/json"
