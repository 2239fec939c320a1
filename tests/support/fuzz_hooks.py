"""Schemathesis hooks for tests/knoten/test_api_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

The OpenAPI description cannot say which ids exist or that a seminar must lie in the future, so
random data almost never gets past validation to the deeper operations. These hooks give the
example phase valid bodies (dates relative to today) and id 1 for every path id, which the
service's default room and the first objects the run creates carry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import schemathesis


def _examples() -> dict[tuple[str, str], dict[str, Any]]:
    # With an offset: the description declares `format: date-time` (RFC 3339).
    begin = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=2)
    begin = begin.replace(hour=18, minute=0, second=0, microsecond=0)
    return {
        ("post", "/api/v1/rooms"): {"name": "Lesesaal", "source": "testsrc"},
        ("post", "/api/v1/seminars"): {
            "title": "Offene Werkstatt",
            "room_id": 1,
            "start": begin.isoformat(),
            "end": (begin + timedelta(hours=1)).isoformat(),
            "recurrence": "FREQ=WEEKLY;COUNT=3",
            "record": False,
        },
        ("post", "/api/v1/partners"): {
            "name": "Campus-TV",
            "kind": "rtmp",
            "url": "rtmp://127.0.0.1:9/live/schluessel",
            "enabled": False,
        },
    }


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    paths = raw_schema.get("paths", {})
    for (method, path), body in _examples().items():
        operation = paths.get(path, {}).get(method)
        if operation is None or "requestBody" not in operation:
            continue
        media = operation["requestBody"]["content"].get("application/json")
        if media is not None:
            media["example"] = body
    for item in paths.values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter.setdefault("example", 1)
