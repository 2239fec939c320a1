"""Partners API with the real app and database: CRUD, stream keys masked in every response and
kept out of the log, bad input refused naming the field, HLS pull tokens shown once and rotated,
and the link to seminars (unknown ids refused, deleted partners removed)."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from sqlalchemy.exc import OperationalError

from knoten.keys import PARTNERS
from streaming.tables import SecretString
from tests.support.app_fixtures import RunningApp

KEY = "sk-live-Zr9xQ7pLm2"
RTMP_URL = f"rtmp://live.example.org/app/{KEY}"
SRT_KEY = "Wq8vT3nB5cX1"
SRT_URL = f"srt://srt.example.org:9000?streamid=publish:{SRT_KEY}&latency=200"
RTMP = {"name": "Innovationszentrum", "kind": "rtmp", "url": RTMP_URL, "profile": "720p"}
SEMINAR = {
    "title": "Löten für Anfänger",
    "room_id": 1,
    "start": "2027-05-04T18:00:00",
    "end": "2027-05-04T19:30:00",
}


async def _send(
    api: aiohttp.ClientSession, method: str, path: str, status: int, body: dict | None = None
) -> tuple[dict | list | None, str]:
    async with api.request(method, path, json=body) as response:
        text = await response.text()
        assert response.status == status, text
        payload = await response.json() if text else None
        return payload, text


async def _create(api: aiohttp.ClientSession, body: dict) -> dict:
    created, _ = await _send(api, "POST", "/api/v1/partners", 201, body)
    assert isinstance(created, dict)
    return created


async def _listing(api: aiohttp.ClientSession) -> list[dict]:
    partners, _ = await _send(api, "GET", "/api/v1/partners", 200)
    assert isinstance(partners, list)
    return partners


@pytest.mark.both_databases
async def test_partner_lifecycle(api: aiohttp.ClientSession) -> None:
    async with api.post("/api/v1/partners", json=RTMP) as response:
        assert response.status == 201
        created = await response.json()
        assert response.headers["Location"] == f"/api/v1/partners/{created['id']}"
    assert created == {
        "id": created["id"],
        "name": "Innovationszentrum",
        "kind": "rtmp",
        "url": "rtmp://live.example.org/app/****",
        "profile": "720p",
        "enabled": True,
        "has_hls_token": False,
        "hls_token": None,
    }
    path = f"/api/v1/partners/{created['id']}"
    fetched, _ = await _send(api, "GET", path, 200)
    assert fetched == {k: v for k, v in created.items() if k != "hls_token"}
    assert await _listing(api) == [fetched]
    patched, _ = await _send(
        api, "PATCH", path, 200, {"name": "IZ", "profile": "480p", "enabled": False}
    )
    assert patched == {**fetched, "name": "IZ", "profile": "480p", "enabled": False}
    await _send(api, "DELETE", path, 204)
    await _send(api, "GET", path, 404)
    await _send(api, "DELETE", path, 404)
    assert await _listing(api) == []


async def test_unknown_partner_ids_are_404(api: aiohttp.ClientSession) -> None:
    for partner_id in ("999", "abc", "0"):
        await _send(api, "GET", f"/api/v1/partners/{partner_id}", 404)
        await _send(api, "PATCH", f"/api/v1/partners/{partner_id}", 404, {"enabled": False})
        await _send(api, "POST", f"/api/v1/partners/{partner_id}/hls-token", 404)


async def test_stream_keys_are_masked_in_every_response(
    api: aiohttp.ClientSession, knoten_app: RunningApp
) -> None:
    texts = []
    async with api.post("/api/v1/partners", json=RTMP) as response:
        created = await response.json()
        texts.append(await response.text())
    async with api.post(
        "/api/v1/partners", json={"name": "Campus", "kind": "srt", "url": SRT_URL}
    ) as response:
        srt = await response.json()
        texts.append(await response.text())
    assert srt["url"] == "srt://srt.example.org:9000?streamid=****&latency=200"
    assert srt["profile"] == "720p"
    path = f"/api/v1/partners/{created['id']}"
    for method, body in (("GET", None), ("PATCH", {"profile": "1080p"})):
        texts.append((await _send(api, method, path, 200, body))[1])
    texts.append((await _send(api, "GET", "/api/v1/partners", 200))[1])
    # The URL is write-only: a new one replaces it, and the answer shows it masked too.
    new_key = "sk-live-Nn4Kk8Yy0Uu"
    patched, text = await _send(
        api, "PATCH", path, 200, {"url": f"rtmps://live.example.org:443/app/{new_key}"}
    )
    texts.append(text)
    assert patched["url"] == "rtmps://live.example.org:443/app/****"
    for text in texts:
        for secret in (KEY, SRT_KEY, new_key):
            assert secret not in text
    repository = knoten_app.app[PARTNERS]
    stored = await repository.get(created["id"])
    assert stored.url == f"rtmps://live.example.org:443/app/{new_key}"
    assert new_key not in repr(stored)


async def test_patch_without_url_or_with_the_masked_url_keeps_the_key(
    api: aiohttp.ClientSession, knoten_app: RunningApp
) -> None:
    created = await _create(api, RTMP)
    path = f"/api/v1/partners/{created['id']}"
    # A client that round-trips the listing sends the masked URL back: that must not store ****.
    await _send(api, "PATCH", path, 200, {"name": "IZ Halle", "url": created["url"]})
    await _send(api, "PATCH", path, 200, {"enabled": False, "url": None})
    stored = await knoten_app.app[PARTNERS].get(created["id"])
    assert (stored.name, stored.enabled, stored.url) == ("IZ Halle", False, RTMP_URL)


async def test_stream_key_never_reaches_the_log(
    api: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    new_key = "sk-live-Pp5Gg7Hh9Jj"
    created = await _create(api, RTMP)
    path = f"/api/v1/partners/{created['id']}"
    await _create(api, {"name": "Campus", "kind": "srt", "url": SRT_URL})
    await _send(api, "GET", "/api/v1/partners", 200)
    await _send(api, "GET", path, 200)
    await _send(api, "PATCH", path, 200, {"url": f"rtmp://live.example.org/app/{new_key}"})
    # Refusals: a smuggled option, and a duplicate name (the database error carries the URL).
    await _send(api, "POST", "/api/v1/partners", 422, {**RTMP, "url": f"{RTMP_URL} -f flv"})
    await _send(api, "POST", "/api/v1/partners", 409, RTMP)
    await _send(api, "DELETE", path, 204)
    assert f"partner {created['id']} created" in caplog.text  # the log was captured at all
    assert f"partner {created['id']} deleted" in caplog.text
    for secret in (KEY, SRT_KEY, new_key):
        assert secret not in caplog.text


def test_database_errors_do_not_render_the_stream_key() -> None:
    """A failed statement lists its parameters in the message the error middleware logs."""
    bound = SecretString().process_bind_param(RTMP_URL, None)
    assert bound == RTMP_URL  # the driver still stores the real text
    error = OperationalError("INSERT INTO partners", (bound,), Exception("database is locked"))
    assert KEY not in str(error) and KEY not in repr(bound)


BAD_CREATES = [
    pytest.param({**RTMP, "url": "http://live.example.org/app/key"}, "url", id="http"),
    pytest.param({**RTMP, "url": "file:///etc/passwd"}, "url", id="file"),
    pytest.param({**RTMP, "url": "concat:a.flv|b.flv"}, "url", id="concat"),
    pytest.param({**RTMP, "url": "pipe:1"}, "url", id="pipe"),
    pytest.param({**RTMP, "url": "-i /etc/passwd"}, "url", id="option"),
    pytest.param({**RTMP, "url": f"{RTMP_URL}\n"}, "url", id="newline"),
    pytest.param({**RTMP, "url": f" {RTMP_URL}"}, "url", id="leading-space"),
    pytest.param({**RTMP, "url": f"{RTMP_URL} -f flv"}, "url", id="smuggled-option"),
    pytest.param({**RTMP, "url": "rtmp://live.example.org/app/****"}, "url", id="masked"),
    pytest.param({**RTMP, "url": "rtmp://live.example.org"}, "url", id="no-key-path"),
    pytest.param({**RTMP, "url": SRT_URL}, "url", id="rtmp-kind-srt-url"),
    pytest.param({**RTMP, "kind": "srt"}, "url", id="srt-kind-rtmp-url"),
    pytest.param(
        {**RTMP, "kind": "srt", "url": "rtmps://live.example.org/app/k"}, "url", id="srt-rtmps"
    ),
    pytest.param({**RTMP, "url": None}, "url", id="rtmp-without-url"),
    pytest.param({"name": "Campus", "kind": "srt"}, "url", id="srt-without-url"),
    pytest.param({"name": "Campus", "kind": "hls", "url": RTMP_URL}, "url", id="hls-with-url"),
    pytest.param({**RTMP, "profile": "4k"}, "profile", id="profile"),
    pytest.param({**RTMP, "kind": "webrtc"}, "kind", id="kind"),
    pytest.param({**RTMP, "stream_key": KEY}, "stream_key", id="unknown-field"),
    pytest.param({**RTMP, "name": ""}, "name", id="empty-name"),
    pytest.param({**RTMP, "name": "   "}, "name", id="blank-name"),
    pytest.param({**RTMP, "name": "x" * 121}, "name", id="long-name"),
    pytest.param({**RTMP, "url": "rtmp://h/app/" + "k" * 2048}, "url", id="long-url"),
    pytest.param({"kind": "rtmp", "url": RTMP_URL}, "name", id="missing-name"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATES)
async def test_bad_partner_is_422_naming_the_field(
    api: aiohttp.ClientSession, body: dict, field: str
) -> None:
    error, text = await _send(api, "POST", "/api/v1/partners", 422, body)
    assert isinstance(error, dict)
    assert error["error"]["field"] == field, error
    assert KEY not in text and SRT_KEY not in text
    assert await _listing(api) == []


BAD_PATCHES = [
    pytest.param({"url": "http://live.example.org/app/key"}, "url", id="http"),
    pytest.param({"url": "pipe:1"}, "url", id="pipe"),
    pytest.param({"url": f"{RTMP_URL}\r\n-y"}, "url", id="newline"),
    pytest.param({"url": SRT_URL}, "url", id="scheme-not-kind"),
    pytest.param({"url": "rtmp://other.example.org/app/****"}, "url", id="masked-elsewhere"),
    pytest.param({"kind": "srt"}, "kind", id="kind-change"),
    pytest.param({"profile": "4k"}, "profile", id="profile"),
    pytest.param({"name": ""}, "name", id="empty-name"),
    pytest.param({"stream_key": KEY}, "stream_key", id="unknown-field"),
]


@pytest.mark.parametrize(("body", "field"), BAD_PATCHES)
async def test_bad_patch_is_422_and_changes_nothing(
    api: aiohttp.ClientSession, knoten_app: RunningApp, body: dict, field: str
) -> None:
    created = await _create(api, RTMP)
    path = f"/api/v1/partners/{created['id']}"
    error, _ = await _send(api, "PATCH", path, 422, {"enabled": False, **body})
    assert isinstance(error, dict)
    assert error["error"]["field"] == field, error
    stored = await knoten_app.app[PARTNERS].get(created["id"])
    assert (stored.url, stored.kind, stored.profile, stored.enabled) == (
        RTMP_URL,
        "rtmp",
        "720p",
        True,
    )


async def test_url_on_an_hls_partner_is_refused_on_patch(api: aiohttp.ClientSession) -> None:
    created = await _create(api, {"name": "Campus", "kind": "hls"})
    path = f"/api/v1/partners/{created['id']}"
    error, _ = await _send(api, "PATCH", path, 422, {"url": RTMP_URL})
    assert isinstance(error, dict) and error["error"]["field"] == "url"
    # Naming the kind it already has is not a change.
    await _send(api, "PATCH", path, 200, {"kind": "hls", "profile": "audio"})


@pytest.mark.both_databases
async def test_duplicate_name_is_409(api: aiohttp.ClientSession) -> None:
    first = await _create(api, RTMP)
    error, _ = await _send(
        api, "POST", "/api/v1/partners", 409, {**RTMP, "kind": "hls", "url": None}
    )
    assert isinstance(error, dict)
    assert error["error"]["field"] == "name"
    other = await _create(api, {"name": "Campus", "kind": "hls"})
    await _send(api, "PATCH", f"/api/v1/partners/{other['id']}", 409, {"name": RTMP["name"]})
    assert [p["id"] for p in await _listing(api)] == [first["id"], other["id"]]


@pytest.mark.both_databases
async def test_hls_token_is_shown_once_and_rotates(
    api: aiohttp.ClientSession, knoten_app: RunningApp
) -> None:
    repository = knoten_app.app[PARTNERS]
    async with api.post(
        "/api/v1/partners", json={"name": "Campus", "kind": "hls", "profile": "480p"}
    ) as response:
        assert response.status == 201
        assert response.headers["Cache-Control"] == "no-store"
        created = await response.json()
    token = created["hls_token"]
    assert isinstance(token, str) and len(token) >= 32
    assert created["url"] is None and created["has_hls_token"] is True
    path = f"/api/v1/partners/{created['id']}"
    fetched, text = await _send(api, "GET", path, 200)
    listed = (await _send(api, "GET", "/api/v1/partners", 200))[1]
    assert isinstance(fetched, dict)
    assert "hls_token" not in fetched and fetched["has_hls_token"] is True
    assert token not in text and token not in listed
    assert await repository.check_hls_token(created["id"], token)
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # never the token itself
    assert not await repository.check_hls_token(created["id"], wrong)
    assert not await repository.check_hls_token(created["id"] + 1, token)

    rotated, _ = await _send(api, "POST", f"{path}/hls-token", 200)
    assert isinstance(rotated, dict)
    new_token = rotated["hls_token"]
    assert new_token != token
    assert await repository.check_hls_token(created["id"], new_token)
    assert not await repository.check_hls_token(created["id"], token)
    # A disabled partner may not pull, whatever token it presents.
    await _send(api, "PATCH", path, 200, {"enabled": False})
    assert not await repository.check_hls_token(created["id"], new_token)


async def test_push_partners_have_no_hls_token(
    api: aiohttp.ClientSession, knoten_app: RunningApp
) -> None:
    created = await _create(api, RTMP)
    assert created["hls_token"] is None and created["has_hls_token"] is False
    error, _ = await _send(api, "POST", f"/api/v1/partners/{created['id']}/hls-token", 422)
    assert isinstance(error, dict) and error["error"]["field"] == "kind"
    assert not await knoten_app.app[PARTNERS].check_hls_token(created["id"], "")


@pytest.mark.both_databases
async def test_seminar_with_unknown_partner_is_422(api: aiohttp.ClientSession) -> None:
    partner = await _create(api, RTMP)
    error, _ = await _send(
        api, "POST", "/api/v1/seminars", 422, {**SEMINAR, "partner_ids": [partner["id"], 404, 77]}
    )
    assert isinstance(error, dict)
    assert error["error"]["field"] == "partner_ids"
    assert error["error"]["message"] == "no partner with id 77, 404"
    assert (await _send(api, "GET", "/api/v1/seminars", 200))[0] == []

    seminar, _ = await _send(
        api, "POST", "/api/v1/seminars", 201, {**SEMINAR, "partner_ids": [partner["id"]]}
    )
    assert isinstance(seminar, dict) and seminar["partner_ids"] == [partner["id"]]
    path = f"/api/v1/seminars/{seminar['id']}"
    error, _ = await _send(api, "PATCH", path, 422, {"partner_ids": [partner["id"], 99]})
    assert isinstance(error, dict) and error["error"]["field"] == "partner_ids"
    assert "99" in error["error"]["message"]
    unchanged, _ = await _send(api, "GET", path, 200)
    assert isinstance(unchanged, dict) and unchanged["partner_ids"] == [partner["id"]]


@pytest.mark.both_databases
async def test_deleting_a_partner_removes_it_from_seminars(api: aiohttp.ClientSession) -> None:
    campus = await _create(api, {"name": "Campus", "kind": "hls"})
    centre = await _create(api, RTMP)
    both, _ = await _send(
        api,
        "POST",
        "/api/v1/seminars",
        201,
        {**SEMINAR, "partner_ids": [campus["id"], centre["id"]]},
    )
    later = {**SEMINAR, "start": "2027-05-11T18:00:00", "end": "2027-05-11T19:30:00"}
    only_centre, _ = await _send(
        api, "POST", "/api/v1/seminars", 201, {**later, "partner_ids": [centre["id"]]}
    )
    assert isinstance(both, dict) and isinstance(only_centre, dict)

    await _send(api, "DELETE", f"/api/v1/partners/{campus['id']}", 204)

    after_both, _ = await _send(api, "GET", f"/api/v1/seminars/{both['id']}", 200)
    after_centre, _ = await _send(api, "GET", f"/api/v1/seminars/{only_centre['id']}", 200)
    assert isinstance(after_both, dict) and isinstance(after_centre, dict)
    assert after_both["partner_ids"] == [centre["id"]]
    assert after_centre["partner_ids"] == [centre["id"]]
    # The removed id no longer blocks editing the seminar.
    await _send(api, "PATCH", f"/api/v1/seminars/{both['id']}", 200, {"title": "Löten II"})
