"""Health, metrics, OpenAPI description and the start page of the running app."""

from __future__ import annotations

import re

import aiohttp

from knoten.app import API_OPERATIONS
from tests.support.app_fixtures import RunningApp


async def test_healthz_reports_database_and_ffmpeg(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    async with http.get(knoten_app.url("/healthz")) as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert re.match(r"^\d+\.\d+", body["ffmpeg"]), body


async def test_healthz_is_503_without_ffmpeg(tmp_path, http: aiohttp.ClientSession) -> None:
    from aiohttp import web

    from knoten.app import build_app
    from tests.support.app_fixtures import make_config
    from tests.support.ports import free_tcp_port

    config = make_config(tmp_path, free_tcp_port(), KNOTEN_FFMPEG=str(tmp_path / "no-ffmpeg"))
    runner = web.AppRunner(build_app(config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", config.server.port)
    await site.start()
    try:
        async with http.get(config.public_url + "/healthz") as response:
            assert response.status == 503
            body = await response.json()
        assert body.pop("load")["level"] == "normal"  # load shedding: nothing shed
        assert body == {"status": "failing", "database": "ok", "ffmpeg": "missing"}
    finally:
        await runner.cleanup()


async def test_metrics_are_prometheus_text(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    async with http.get(knoten_app.url("/healthz")):
        pass
    async with http.get(knoten_app.url("/metrics")) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    assert 'knoten_http_requests_total{method="GET",route="/healthz",status="200"}' in text


async def test_openapi_describes_every_api_route(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    async with http.get(knoten_app.url("/api/v1/openapi.json")) as response:
        assert response.status == 200
        spec = await response.json()
    assert spec["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    routed = {
        (route.method, route.resource.canonical)
        for route in knoten_app.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method != "HEAD"
        and route.resource.canonical != "/api/v1/openapi.json"
    }
    assert described == routed
    assert len(API_OPERATIONS) == len(routed)
    assert "Error" in spec["components"]["schemas"]


async def test_start_page_in_german_and_english(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    async with http.get(knoten_app.url("/")) as response:
        assert response.status == 200
        html = await response.text()
    assert '<html lang="de">' in html
    assert "Seminarraum" in html and "Alles in Betrieb" in html
    async with http.get(knoten_app.url("/?lang=en")) as response:
        html = await response.text()
    assert '<html lang="en">' in html and "All systems running" in html
