"""Dashboard sessions over plain HTTP: sign-in, the cookie's flags, CSRF on the API and on forms,
sign-out, and that the bearer-token API behaves exactly as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import aiohttp
import pytest
from yarl import URL

from knoten.keys import DATABASE, SESSIONS
from knoten.web.session import COOKIE, IDLE_TIMEOUT, SessionStore
from tests.support.accounts import ensure_account, staff_form
from tests.support.app_fixtures import TEST_TOKEN, RunningApp, serve

pytestmark = pytest.mark.timeout(30)


async def _sign_in(knoten_app: RunningApp, http: aiohttp.ClientSession) -> tuple[str, str]:
    """Sign in like the form does; return (session id, CSRF token of the dashboard page)."""
    async with http.post(
        knoten_app.url("/signin"),
        data={**await staff_form(knoten_app), "next": "/dashboard"},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/dashboard"
        cookie = SimpleCookie(response.headers["Set-Cookie"])[COOKIE]
    async with http.get(knoten_app.url("/dashboard"), cookies={COOKIE: cookie.value}) as page:
        assert page.status == 200
        html = await page.text()
    csrf = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    return cookie.value, csrf


async def _room_names(api: aiohttp.ClientSession) -> list[str]:
    async with api.get("/api/v1/rooms") as response:
        return [room["name"] for room in await response.json()]


async def test_cookie_is_httponly_strict_and_not_secure_over_http(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        knoten_app.url("/signin"), data=await staff_form(knoten_app), allow_redirects=False
    ) as response:
        header = response.headers["Set-Cookie"]
    morsel = SimpleCookie(header)[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert not morsel["secure"], "plain-http service: a Secure cookie would never come back"
    assert not morsel["max-age"], "a browser-session cookie"
    assert TEST_TOKEN not in header, "the cookie holds a random session id, not the token"


def test_cookie_is_secure_behind_https() -> None:
    store = SessionStore(lambda: None, "https://knoten.bibliothek.example")  # type: ignore[arg-type,return-value]

    class FakeRequest:
        secure = False

    assert store.is_https(FakeRequest())  # type: ignore[arg-type]


async def test_wrong_token_is_refused_and_pages_need_a_session(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        knoten_app.url("/signin"),
        data={"username": "personal", "password": "wrong-password-0000"},
        allow_redirects=False,
    ) as response:
        assert response.status == 401
        assert "Set-Cookie" not in response.headers or COOKIE not in response.headers["Set-Cookie"]
    async with http.get(knoten_app.url("/dashboard/rooms?x=1"), allow_redirects=False) as page:
        assert page.status == 303
        location = URL(page.headers["Location"])
        assert location.path == "/signin" and location.query["next"] == "/dashboard/rooms?x=1"
    # The page shell is no way around the API's auth either.
    async with http.get(knoten_app.url("/api/v1/rooms")) as response:
        assert response.status == 401


async def test_next_never_leaves_the_site(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        async with http.post(
            knoten_app.url("/signin"), data={**await staff_form(knoten_app), "next": target},
            allow_redirects=False,
        ) as response:  # fmt: skip
            assert response.headers["Location"] == "/dashboard", target


async def test_api_with_cookie_needs_the_csrf_header_for_changes(
    knoten_app: RunningApp, http: aiohttp.ClientSession, api: aiohttp.ClientSession
) -> None:
    session_id, csrf = await _sign_in(knoten_app, http)
    cookies = {COOKIE: session_id}
    url = knoten_app.url("/api/v1/rooms")
    async with http.get(url, cookies=cookies) as response:
        assert response.status == 200, "reading needs no CSRF token"
    async with http.post(url, cookies=cookies, json={"name": "Lesesaal"}) as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "csrf_failed"
    wrong = {"X-CSRF-Token": "x" * 43}
    async with http.post(url, cookies=cookies, headers=wrong, json={"name": "Lesesaal"}) as r:
        assert r.status == 403
    evil = {"X-CSRF-Token": csrf, "Origin": "http://localhost:9"}
    async with http.post(url, cookies=cookies, headers=evil, json={"name": "Lesesaal"}) as r:
        assert r.status == 403, "a foreign Origin is refused even with the right token"
    assert await _room_names(api) == ["Seminarraum"], "refused requests change nothing"
    good = {"X-CSRF-Token": csrf, "Origin": knoten_app.base_url}
    async with http.post(url, cookies=cookies, headers=good, json={"name": "Lesesaal"}) as r:
        assert r.status == 201
    assert sorted(await _room_names(api)) == ["Lesesaal", "Seminarraum"]


async def test_bearer_behaviour_is_unchanged(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    session_id, csrf = await _sign_in(knoten_app, http)
    url = knoten_app.url("/api/v1/rooms")
    # A bearer header is judged alone: a valid cookie does not rescue a wrong token.
    headers = {"Authorization": "Bearer wrong-token", "X-CSRF-Token": csrf}
    async with http.get(url, cookies={COOKIE: session_id}, headers=headers) as response:
        assert response.status == 401
        assert "invalid_token" in response.headers["WWW-Authenticate"]
    async with http.post(
        url, headers={"Authorization": f"Bearer {TEST_TOKEN}"}, json={"name": "Werkstatt"}
    ) as response:
        assert response.status == 201, "bearer clients need no CSRF header"
    async with http.get(url, cookies={COOKIE: "not-a-session"}) as response:
        assert response.status == 401


async def test_signout_needs_the_form_token_and_ends_the_session(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    session_id, csrf = await _sign_in(knoten_app, http)
    cookies = {COOKIE: session_id}
    async with http.post(
        knoten_app.url("/signout"), cookies=cookies, data={}, allow_redirects=False
    ) as response:
        assert response.status == 403
    async with http.get(knoten_app.url("/api/v1/rooms"), cookies=cookies) as response:
        assert response.status == 200, "a refused sign-out leaves the session alone"
    async with http.post(
        knoten_app.url("/signout"), cookies=cookies, data={"csrf_token": csrf},
        allow_redirects=False,
    ) as response:  # fmt: skip
        assert response.status == 303
        assert response.headers["Location"] == "/signin?signed_out=1"
    async with http.get(knoten_app.url("/api/v1/rooms"), cookies=cookies) as response:
        assert response.status == 401, "sign-out ends the session on the server"
    assert await knoten_app.app[SESSIONS].count() == 0


async def test_idle_sessions_expire(knoten_app: RunningApp) -> None:
    clock = [datetime(2027, 1, 1, tzinfo=UTC)]
    store = SessionStore(
        lambda: knoten_app.app[DATABASE].engine, knoten_app.base_url, now=lambda: clock[0]
    )
    session_id = await store.create(await ensure_account(knoten_app))

    class FakeRequest:
        cookies = {COOKIE: session_id}  # noqa: RUF012 - a stand-in, not a model

    assert await store.get(FakeRequest()) is not None  # type: ignore[arg-type]
    clock[0] += IDLE_TIMEOUT + timedelta(seconds=1)
    assert await store.get(FakeRequest()) is None  # type: ignore[arg-type]


async def test_sessions_outlive_a_restart(app_config) -> None:  # type: ignore[no-untyped-def]
    """Staff stay signed in when the service restarts: the session is in the database."""
    async with serve(app_config) as first, aiohttp.ClientSession() as http:
        session_id, _ = await _sign_in(first, http)
    async with (
        serve(app_config) as second,
        aiohttp.ClientSession() as http,
        http.get(second.url("/api/v1/rooms"), cookies={COOKIE: session_id}) as response,
    ):
        assert response.status == 200


async def test_join_qr_code_is_svg_for_signed_in_staff(
    knoten_app: RunningApp, http: aiohttp.ClientSession, api: aiohttp.ClientSession
) -> None:
    body = {
        "title": "Sprechstunde",
        "room_id": 1,
        "start": "2027-03-16T18:00:00",
        "end": "2027-03-16T19:00:00",
    }
    async with api.post("/api/v1/seminars", json=body) as response:
        occurrence_id = (await response.json())["occurrences"][0]["id"]
    qr = knoten_app.url(f"/dashboard/occurrences/{occurrence_id}/qr.svg")
    async with http.get(qr, allow_redirects=False) as response:
        assert response.status == 303, "no QR code without a session"
    session_id, _ = await _sign_in(knoten_app, http)
    async with http.get(qr, cookies={COOKIE: session_id}) as response:
        assert response.status == 200
        assert response.content_type == "image/svg+xml"
        assert (await response.text()).lstrip().startswith("<svg")
    missing = knoten_app.url("/dashboard/occurrences/999999/qr.svg")
    async with http.get(missing, cookies={COOKIE: session_id}) as response:
        assert response.status == 404
