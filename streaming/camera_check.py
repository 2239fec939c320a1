"""Testing a room's camera address when it is saved: reachable? a picture? what size?

A wrong address used to show only when a seminar started and the slate went on air. Staff now
get the answer as they save the room (the room is saved either way: a camera may be switched
off at the time). One ffprobe run with a short timeout (killed with its process group when it
overruns, so the event loop never waits on it); addresses are shown without credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from streaming.errors import FfprobeFailed
from streaming.ffmpeg.tools import ffprobe_json
from streaming.ffmpeg.urls import MASK, mask_url
from streaming.sources import SOURCE_URL_SCHEMES

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 5.0

CheckStatus = Literal["ok", "no_picture", "unreachable", "not_checked"]


@dataclass(frozen=True, slots=True)
class CameraCheck:
    """``ok``: a video stream of ``width``×``height`` was found; ``no_picture``: reachable but
    no video; ``unreachable``: ffprobe failed or timed out (``message`` says why, secrets
    masked); ``not_checked``: nothing to reach before a seminar runs (test pattern, a push
    from an encoder, a local device)."""

    status: CheckStatus
    address: str | None = None
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    message: str | None = None


def shown_address(url: str) -> str:
    """The address as people see it: credentials left out, stream keys masked."""
    return mask_url(url).replace(f"{MASK}@", "")


async def check_camera(
    source: str, data_dir: Path, ffprobe: str = "ffprobe", timeout: float = CHECK_TIMEOUT_S
) -> CameraCheck:
    """Probe the validated room ``source`` (see :func:`streaming.sources.validate_room_source`)."""
    if source.startswith("/dev/"):
        return CameraCheck("not_checked")  # a local device: opened only while a seminar runs
    if source.startswith(SOURCE_URL_SCHEMES):
        target: str | Path = source
        address = shown_address(source)
    elif "/" in source or "." in source:  # a file inside the data directory
        target = (data_dir / source).resolve()
        address = source
    else:
        return CameraCheck("not_checked")
    try:
        probe = await ffprobe_json(target, ffprobe, timeout=timeout)
    except FfprobeFailed as exc:
        log.info("camera check of %s: %s", address, exc)
        return CameraCheck("unreachable", address, message=str(exc)[-300:])
    video = _first_video(probe)
    if video is None:
        return CameraCheck("no_picture", address, message="no video stream")
    return CameraCheck(
        "ok",
        address,
        width=_int(video.get("width")),
        height=_int(video.get("height")),
        codec=str(video.get("codec_name") or "") or None,
    )


def _first_video(probe: dict[str, Any]) -> dict[str, Any] | None:
    for stream in probe.get("streams") or []:
        if isinstance(stream, dict) and stream.get("codec_type") == "video":
            return stream
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None
