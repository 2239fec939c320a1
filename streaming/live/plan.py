"""What a live session is asked to do: a frozen plan built by the composition root.

The plan names the room's camera, the partner destinations (with their secret URLs) and where
the session may put its sockets and HLS files. Everything in it has been validated before; the
session only turns it into FFmpeg specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from streaming.ffmpeg.spec import (
    AUDIO_ONLY,
    PROFILES,
    DeviceInput,
    FeedInput,
    FileInput,
    RtpInput,
    TestPattern,
    UrlInput,
    VideoProfile,
)

PartnerKind = Literal["rtmp", "srt", "hls"]
ProfileName = Literal["1080p", "720p", "480p", "audio"]
DEFAULT_MASTER = "720p"


@dataclass(frozen=True)
class CameraSource:
    """The room's camera: ``kind`` is testsrc, file, rtsp, rtmp, srt, srt-push, v4l2 or whip."""

    kind: str
    url: str | None = field(default=None, repr=False)  # remote cameras: may carry secrets
    path: Path | None = None  # files and devices; for whip where the session writes ``sdp``
    listener: bool = False  # Knoten waits for the camera to call (push from an encoder)
    sdp: str | None = None  # whip: the RTP description FFmpeg reads the publisher's packets by

    def ffmpeg_input(
        self, profile: VideoProfile
    ) -> TestPattern | UrlInput | FileInput | DeviceInput | RtpInput:
        if self.kind == "whip" and self.path is not None:
            return RtpInput(self.path)
        if self.kind == "testsrc":
            return TestPattern(width=profile.width, height=profile.height, fps=profile.fps)
        if self.kind == "v4l2" and self.path is not None:
            return DeviceInput(self.path)
        # Files and URL cameras may have no sound: Knoten's silence stands in for it, so the
        # feed always has audio and the remote voices can be mixed into it.
        if self.kind == "file" and self.path is not None:
            return FileInput(self.path, loop=True, realtime=True, silence=True)
        if self.url is not None:
            return UrlInput(self.url, silence=True)
        raise ValueError(f"camera source {self.kind!r} is incomplete")


@dataclass(frozen=True, repr=False)
class PartnerTarget:
    partner_id: int
    name: str
    kind: PartnerKind
    profile: ProfileName
    url: str | None = None  # the push URL with its stream key: never log or repr it

    def __repr__(self) -> str:
        return f"PartnerTarget({self.partner_id}, {self.name!r}, {self.kind}, {self.profile})"


@dataclass(frozen=True)
class SessionPlan:
    occurrence_id: int
    title: str
    start_label: str  # local start time for the lead-in slate, e.g. "18:00"
    camera: CameraSource
    run_dir: Path  # sockets and slate text of this session
    hls_dir: Path  # HLS output root; partner playlists go below it
    partners: tuple[PartnerTarget, ...] = ()
    record: bool = False
    extra_feeds: tuple[str, ...] = field(default=("webrtc",))
    # Mix the date's remote-audio bus (speakers on stage) into the master, once, for every
    # partner, the recording and the viewers (see LiveSession.bus).
    remote_audio: bool = True
    # Lay the speakers' camera tiles (at most two) over the picture where it is encoded, once,
    # for every partner, the recording and the viewers (see LiveSession.tiles).
    speaker_tiles: bool = True
    # The public HLS rendition for audiences behind an HTTP cache (see LiveSession and
    # streaming.live.hls.public_hls_output): a copy of the master, no encode.
    public_hls: bool = False

    def master_profile(self) -> VideoProfile:
        """The best picture any partner asked for (encode once at that size), 720p at least
        for viewers and the recording when no partner wants more. Constrained baseline, so
        WebRTC viewers get the same video without another encode, one slice per frame so
        each viewer gets a frame in one segmented send."""
        sizes = [PROFILES[p.profile] for p in self.partners if p.profile in PROFILES]
        best = max([PROFILES[DEFAULT_MASTER], *sizes], key=lambda p: p.width * p.height)
        return VideoProfile(
            f"master-{best.name}",
            best.width,
            best.height,
            best.fps,
            best.video_kbps,
            audio_kbps=best.audio_kbps,
            gop_seconds=1.0,
            h264_profile="baseline",
            one_slice=True,
        )


def profile_for(name: ProfileName) -> VideoProfile:
    return AUDIO_ONLY if name == "audio" else PROFILES[name]


__all__ = ["CameraSource", "FeedInput", "PartnerTarget", "SessionPlan", "profile_for"]
