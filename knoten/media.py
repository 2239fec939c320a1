"""The FFmpeg installation the service runs: where it is and which version it reports."""

from __future__ import annotations

import logging

from streaming.errors import FfmpegNotFound
from streaming.ffmpeg.tools import ffmpeg_version

log = logging.getLogger(__name__)


class MediaTools:
    """Caches the FFmpeg version once found; asks again while it is missing."""

    def __init__(self, ffmpeg: str, ffprobe: str) -> None:
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self._version: str | None = None

    async def version(self) -> str | None:
        if self._version is None:
            try:
                self._version = await ffmpeg_version(self.ffmpeg)
            except FfmpegNotFound as exc:
                log.warning("ffmpeg is not usable: %s", exc)
        return self._version
