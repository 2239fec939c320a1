"""A person who follows a mistyped link gets a page in their language with status 404, not
aiohttp's bare "404: Not Found"; the API, scripts and media keep their own answers.

Regression: issue #16 — a mistyped share link showed "404: Not Found" on a German page.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.app_fixtures import RunningApp

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.parametrize(
    "path",
    ["/share/recording/abc", "/dashboard/nirgends", "/joinn/5", "/share/recordings/abc.def.ghi"],
)
async def test_mistyped_pages_are_german_404_pages(
    knoten_app: RunningApp, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(knoten_app.url(path), headers=HTML) as response:
        body = await response.text()
        assert response.status == 404
        assert response.content_type == "text/html"
    assert '<html lang="de">' in body
    assert "nicht gefunden" in body and "Not Found" not in body


async def test_english_on_request(knoten_app: RunningApp, http: aiohttp.ClientSession) -> None:
    async with http.get(knoten_app.url("/nirgends?lang=en"), headers=HTML) as response:
        assert response.status == 404
        assert "Page not found" in await response.text()


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/healthz/nirgends", "text/html"),  # a JSON prefix
        ("/static/nirgends.js", "*/*"),
        ("/static/nirgends.js", "text/html"),
        ("/nirgends", "*/*"),  # a script, not a browser's page request
    ],
)
async def test_other_requests_keep_their_404(
    knoten_app: RunningApp, http: aiohttp.ClientSession, path: str, accept: str
) -> None:
    async with http.get(knoten_app.url(path), headers={"Accept": accept}) as response:
        assert response.status == 404
        assert response.content_type != "text/html"
