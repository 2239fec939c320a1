"""Small helpers of the fault suite: polling a condition with a deadline and reading the API of a
running service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


async def wait_for(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> float:
    """Poll ``predicate`` until it is true; returns the seconds it took."""
    started = time.monotonic()
    while True:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


async def get_json(api: aiohttp.ClientSession, path: str, **params: Any) -> Any:
    async with api.get(path, params=params) as response:
        assert response.status == 200, (path, response.status, await response.text())
        return await response.json()
