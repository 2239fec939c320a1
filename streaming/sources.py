"""Room sources: what a room's stored ``source`` string may be, and the camera it names.

A source is the built-in test pattern, a file inside the data directory, a camera URL (RTSP,
RTMP, SRT), a V4L2 device, ``srt-push``: the host's encoder (OBS, a hardware encoder) calls
Knoten's SRT listener with the room's key, or ``whip``: OBS or a browser publishes over WebRTC
(``POST /whip/rooms/{id}``, the room's key as bearer token) and Knoten hands the packets to the
camera FFmpeg as plain RTP on loopback (:class:`WhipPorts`). ``schedules/`` stores the string
as an opaque value; this module is the one place that validates it, masks it for listings and
turns it into the :class:`CameraSource` a live session opens. Anything else is refused before
it is stored, so nothing a user typed can later become an FFmpeg option or reach outside the
data directory.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from streaming.errors import InvalidMediaUrl, InvalidRoomSource
from streaming.ffmpeg.urls import mask_url, validate_input_url
from streaming.live.plan import CameraSource

TEST_PATTERN = "testsrc"
#: The host pushes (OBS, hardware encoder) to Knoten's SRT listener with the room's key.
SRT_PUSH = "srt-push"
#: The host publishes over WebRTC (WHIP, RFC 9725) with the room's key as bearer token.
WHIP = "whip"
SOURCE_URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "srt://")
_V4L2_DEVICE = re.compile(r"^/dev/video[0-9]{1,2}$")


def validate_room_source(value: str, data_dir: Path) -> str:
    """The canonical form of ``value``, or :class:`InvalidRoomSource` naming the ``source``."""
    value = value.strip()
    if value in (TEST_PATTERN, SRT_PUSH, WHIP):
        return value
    if _V4L2_DEVICE.match(value):
        return value
    if value.startswith(SOURCE_URL_SCHEMES):
        try:
            return validate_input_url(value, field="source")
        except InvalidMediaUrl as exc:
            raise InvalidRoomSource(exc.message) from None
    if "://" in value or value.startswith("-") or ":" in value.split("/")[0]:
        raise InvalidRoomSource(
            "source must be 'testsrc', 'srt-push', 'whip', a file inside the data directory, an "
            "rtsp://, rtmp:// or srt:// URL, or a /dev/videoN device"
        )
    if any(ord(ch) < 32 for ch in value) or not value:
        raise InvalidRoomSource("source contains control characters or is empty")
    # Relative paths are taken relative to the data directory; absolute ones must point into it.
    root = data_dir.resolve()
    candidate = PurePosixPath(value)
    if ".." in candidate.parts:
        raise InvalidRoomSource("source path may not contain '..'")
    path = (root / candidate).resolve() if not candidate.is_absolute() else Path(value).resolve()
    if not path.is_relative_to(root):
        raise InvalidRoomSource(f"source file must lie inside the data directory ({root})")
    return str(path.relative_to(root))


def public_source(value: str) -> str:
    """The source as shown in API listings: credentials and keys masked."""
    if value.startswith(SOURCE_URL_SCHEMES):
        return mask_url(value)
    return value


def new_stream_key() -> str:
    """A room's push key. It is the SRT passphrase, which must have 10–79 characters: 32
    URL-safe characters fit and carry 192 random bits."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class PushIngest:
    """Where rooms with an ``srt-push`` source receive their encoder: room *n* listens on
    ``port_base + n - 1`` while one of its seminars is live."""

    host: str = "127.0.0.1"
    port_base: int = 9710

    def port(self, room_id: int) -> int:
        return self.port_base + room_id - 1

    def listen_url(self, room_id: int, key: str) -> str:
        """Where Knoten waits; the key is the SRT passphrase (AES), so a caller without it is
        refused during the handshake."""
        return f"srt://{self.host}:{self.port(room_id)}?mode=listener&{_passphrase(key)}"

    def encoder_url(self, public_host: str, room_id: int, key: str) -> str:
        """What the host enters in OBS or the encoder (the key included)."""
        return f"srt://{public_host}:{self.port(room_id)}?{_passphrase(key)}"


def _passphrase(key: str) -> str:
    return f"passphrase={key}&pbkeylen=16"


#: RTP payload types of the packets handed to FFmpeg (whatever the publisher negotiated).
WHIP_VIDEO_PT = 96
WHIP_AUDIO_PT = 111


@dataclass(frozen=True)
class WhipPorts:
    """Where the packets of a room's WHIP publisher go: plain RTP to loopback UDP ports that
    the room's camera FFmpeg reads while one of its seminars is live. Room *n* uses
    ``port_base + 4(n - 1)`` for video and the port two above for audio (FFmpeg takes the next
    odd port of each for RTCP)."""

    port_base: int = 9810
    host: str = "127.0.0.1"

    def video(self, room_id: int) -> tuple[str, int]:
        return self.host, self.port_base + 4 * (room_id - 1)

    def audio(self, room_id: int) -> tuple[str, int]:
        return self.host, self.port_base + 4 * (room_id - 1) + 2

    def sdp(self, room_id: int) -> str:
        """The description FFmpeg opens (``-f sdp``): H.264 and Opus as Knoten forwards them."""
        _, video = self.video(room_id)
        _, audio = self.audio(room_id)
        return (
            "v=0\r\n"
            f"o=- 0 0 IN IP4 {self.host}\r\n"
            f"s=Knoten WHIP room {room_id}\r\n"
            f"c=IN IP4 {self.host}\r\n"
            "t=0 0\r\n"
            f"m=video {video} RTP/AVP {WHIP_VIDEO_PT}\r\n"
            f"a=rtpmap:{WHIP_VIDEO_PT} H264/90000\r\n"
            f"a=fmtp:{WHIP_VIDEO_PT} packetization-mode=1\r\n"
            f"m=audio {audio} RTP/AVP {WHIP_AUDIO_PT}\r\n"
            f"a=rtpmap:{WHIP_AUDIO_PT} opus/48000/2\r\n"
        )


#: Camera kinds whose feed always carries sound: the test pattern's tone, a push from OBS or an
#: encoder (they always send an audio track), and V4L2 devices, files and URL cameras, for which
#: Knoten adds silence when they have no sound of their own. Remote voices are mixed into the
#: broadcast only for these: the mix needs the room's audio as its first input.
ALWAYS_AUDIO = frozenset(
    {"testsrc", "srt-push", "v4l2", "file", "rtsp", "rtsps", "rtmp", "rtmps", "srt"}
)


def camera_source(
    source: str,
    data_dir: Path,
    push_url: str | None = None,
    whip: tuple[Path, str] | None = None,
) -> CameraSource:
    """The stored (validated) room source as the media plane's camera. An ``srt-push`` room
    needs its ``push_url`` (:meth:`PushIngest.listen_url`), a ``whip`` room where to write
    which SDP (:meth:`WhipPorts.sdp`)."""
    if source == WHIP:
        if whip is None:
            raise ValueError("a whip room needs its SDP file and text")
        return CameraSource("whip", path=whip[0], sdp=whip[1], listener=True)
    if source == SRT_PUSH:
        if push_url is None:
            raise ValueError("an srt-push room needs its listen URL")
        return CameraSource("srt-push", url=push_url, listener=True)
    if source == TEST_PATTERN:
        return CameraSource("testsrc")
    if source.startswith("/dev/video"):
        return CameraSource("v4l2", path=Path(source))
    if "://" in source:
        return CameraSource(source.split("://", 1)[0].lower(), url=source)
    return CameraSource("file", path=(data_dir / source).resolve())
