"""What an FFmpeg process does: frozen specs (input, profile, outputs) and the pure argv builder.

Owns the encoding policy of Knoten (x264 settings, GOP, AAC) and the translation of a spec into
an argument vector. ffmpeg-python builds the filter graph and we only call ``.compile()``; the
supervisor runs the result. Every user-supplied string has been validated by the time a spec
exists (``__post_init__``), so ``build_argv`` never turns user text into an option.

Profiles:
- Video profiles use libx264 ``veryfast`` + ``zerolatency`` (no B-frames, no lookahead: partners
  and viewers see the picture within a frame or two), CBR-ish rate control (``maxrate`` = target,
  2 s buffer), and a fixed GOP (``-g`` = ``-keyint_min`` = fps × gop_seconds, scene-cut off) so
  partners joining mid-stream and the recorder's segmenter find keyframes on a fixed beat.
- ``h264_profile`` defaults to ``main``: with zerolatency there are no B-frames anyway, and CABAC
  saves ~10 % bitrate for partners and recordings. Feeds for WebRTC must use ``baseline`` (x264's
  baseline is constrained baseline, what browsers and aiortc negotiate).
- ``one_slice`` (the master, which WebRTC viewers receive as it is): every frame in one slice.
  ``zerolatency`` encodes each frame in as many slices as x264 has threads (sliced threads), and
  each slice ends in a shorter RTP packet, which cannot share a segmented send with the next
  slice's packets: every viewer then costs one more ``sendmsg`` per frame. Two frame threads
  instead keep two cores busy for one frame (33 ms at 30 fps) more of delay; measured with
  ``python -m bench send_path``: 2.03 → 1.03 send calls and 25 → 20 µs per frame and viewer.
- ``AUDIO_ONLY`` (width = height = 0) encodes just AAC and drops video (``-vn``); it is kept out
  of ``PROFILES`` because that mapping lists picture qualities.
- ``profile=None`` means stream copy (``-c copy``): no decode, no encode.

Several outputs of one spec share one encode through the tee muxer (encode once, fan out). Such a
process fails as a whole; destinations that must fail alone get their own spec and supervisor.

Fixed-purpose commands that the generic spec does not express are built here too, on the same
``global_args``: the live WebRTC feed (``webrtc_feed_argv``: video copied, audio to Opus), the
live mix of the remote-audio bus into the master (``mix_feed_argv``) and the archive's one-shot
jobs (``remux_argv``, ``reopen_argv``, ``poster_argv``, ``thumbnails_argv``), which
``streaming.ffmpeg.oneshot`` runs to completion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import ffmpeg as ffmpeg_python

from streaming.ffmpeg.urls import validate_input_url, validate_push_url

FONT_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
AUDIO_RATE = 48_000
LOGLEVEL = "level+info"  # info keeps stream mapping/open errors for the stderr ring buffer
OUTPUT_FORMATS = frozenset({"flv", "mpegts", "mp4", "matroska", "mov", "segment", "null", "hls"})
# Which remote protocols FFmpeg may open (incl. the ones the demuxer opens underneath).
PROTOCOL_WHITELIST: Mapping[str, str] = MappingProxyType(
    {
        "rtsp": "rtsp,rtp,udp,tcp",
        "rtsps": "rtsps,rtsp,rtp,udp,tcp,tls",
        "rtmp": "rtmp,tcp",
        "rtmps": "rtmps,rtmp,tcp,tls",
        "srt": "srt",
        "http": "http,https,tcp,tls,crypto",
        "https": "http,https,tcp,tls,crypto",
    }
)
# Muxer option names/values come from code, but keep them inside tee's and FFmpeg's quoting-free
# alphabet anyway so that no escaping is ever needed.
_OPTION_NAME = re.compile(r"[a-z][a-z0-9_]*")
_OPTION_VALUE = re.compile(r"[A-Za-z0-9+_.,/%-]+")
_GLOBAL_HEADER_FORMATS = frozenset({"flv", "mp4", "mov", "matroska"})


def _check_size(width: int, height: int, fps: int) -> None:
    if not (16 <= width <= 7680 and 16 <= height <= 4320):
        raise ValueError("width/height out of range")
    if width % 2 or height % 2:
        raise ValueError("width and height must be even (yuv420p)")
    if not 1 <= fps <= 120:
        raise ValueError("fps must be between 1 and 120")


@dataclass(frozen=True, slots=True)
class TestPattern:
    """lavfi testsrc2 (moving picture) with a running wall clock and a sine tone, at 1× speed."""

    __test__ = False  # not a pytest test class, despite the name

    width: int = 1280
    height: int = 720
    fps: int = 30
    tone_hz: int = 440  # 0 = silence
    clock: bool = True

    def __post_init__(self) -> None:
        _check_size(self.width, self.height, self.fps)
        if not 0 <= self.tone_hz <= 20_000:
            raise ValueError("tone_hz must be between 0 and 20000")


@dataclass(frozen=True, slots=True)
class UrlInput:
    """A remote source (camera, encoder, stream); ``url`` is validated as an input URL."""

    url: str
    realtime: bool = False  # -re: read at native rate (for files served over http)
    loop: bool = False  # -stream_loop -1 (seekable sources only)
    silence: bool = False  # see FileInput.silence

    def __post_init__(self) -> None:
        validate_input_url(self.url)


@dataclass(frozen=True, slots=True)
class FileInput:
    """A local file chosen by code (slate clip, recording): an absolute ``Path``, never a str."""

    path: Path
    loop: bool = False
    realtime: bool = True  # files feeding a live output must not be read faster than 1×
    # A camera that may have no sound: Knoten's silence is mapped after the source's own audio,
    # so the output's first audio track is the source's if it has one and silence otherwise
    # (consumers read only the first). Needs an encoding video profile.
    silence: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.path, Path) or not self.path.is_absolute():
            raise ValueError("FileInput.path must be an absolute pathlib.Path")


@dataclass(frozen=True, slots=True)
class FeedInput:
    """An internal MPEG-TS feed read from a Unix socket that Knoten serves (code-chosen path)."""

    path: Path
    analyze_us: int = 500_000  # -analyzeduration: how long FFmpeg may look before it starts

    def __post_init__(self) -> None:
        if not isinstance(self.path, Path) or not self.path.is_absolute():
            raise ValueError("FeedInput.path must be an absolute pathlib.Path")
        if not 0 < self.analyze_us <= 10_000_000:
            raise ValueError("FeedInput.analyze_us must be between 1 µs and 10 s")


@dataclass(frozen=True, slots=True)
class SlateInput:
    """A still slate: plain background, the text of ``text_file`` (re-read every frame, so the
    message changes without a restart) and silence. The text never enters the filtergraph, so
    a seminar title cannot inject filter syntax."""

    text_file: Path
    width: int = 1280
    height: int = 720
    fps: int = 30
    # Chosen by streaming.live.slate_text so the wrapped text fits; None: a sixteenth of the
    # height (and a sixtieth as line spacing).
    font_size: int | None = None
    line_spacing: int | None = None

    def __post_init__(self) -> None:
        _check_size(self.width, self.height, self.fps)
        if not isinstance(self.text_file, Path) or not self.text_file.is_absolute():
            raise ValueError("SlateInput.text_file must be an absolute pathlib.Path")
        for value in (self.font_size, self.line_spacing):
            if value is not None and not 1 <= value <= self.height:
                raise ValueError("SlateInput font_size/line_spacing must fit the picture")


@dataclass(frozen=True, slots=True)
class DeviceInput:
    """A V4L2 camera (``/dev/videoN``, checked). It has no sound of its own: silence is added so
    every feed downstream keeps an audio track (partners and players expect one)."""

    path: Path

    def __post_init__(self) -> None:
        if not re.fullmatch(r"/dev/video[0-9]{1,2}", str(self.path)):
            raise ValueError("DeviceInput.path must be /dev/videoN")


@dataclass(frozen=True, slots=True)
class RtpInput:
    """Plain RTP on loopback UDP ports, described by an SDP file Knoten wrote (code-chosen
    path): how a WHIP publisher's packets reach the camera FFmpeg, which depacketizes them."""

    sdp: Path

    def __post_init__(self) -> None:
        if not isinstance(self.sdp, Path) or not self.sdp.is_absolute():
            raise ValueError("RtpInput.sdp must be an absolute pathlib.Path")


Input = TestPattern | UrlInput | FileInput | FeedInput | SlateInput | DeviceInput | RtpInput


@dataclass(frozen=True, slots=True)
class TileOverlay:
    """A raw ``yuva420p`` canvas (the speakers' camera tiles, ``streaming.dialog.tiles``) read
    from a Unix socket Knoten serves and laid over the encoded picture at (``x``, ``y``).
    Transparent where no speaker is shown, so the picture is unchanged then."""

    path: Path
    width: int
    height: int
    fps: int
    x: int
    y: int

    def __post_init__(self) -> None:
        if not isinstance(self.path, Path) or not self.path.is_absolute():
            raise ValueError("TileOverlay.path must be an absolute pathlib.Path")
        _check_size(self.width, self.height, self.fps)
        if self.x < 0 or self.y < 0:
            raise ValueError("TileOverlay position must not be negative")


@dataclass(frozen=True, slots=True)
class VideoProfile:
    """An encoding quality. width = height = 0 means audio only (see ``AUDIO_ONLY``)."""

    name: str
    width: int
    height: int
    fps: int
    video_kbps: int
    audio_kbps: int = 128
    gop_seconds: float = 1.0
    h264_profile: Literal["baseline", "main", "high"] = "main"
    one_slice: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("profile name is empty")
        if not self.audio_only:
            _check_size(self.width, self.height, self.fps)
            if self.video_kbps <= 0 or self.gop_seconds <= 0:
                raise ValueError("video_kbps and gop_seconds must be positive")
        if not 8 <= self.audio_kbps <= 512:
            raise ValueError("audio_kbps must be between 8 and 512")

    @property
    def audio_only(self) -> bool:
        return self.width == 0 and self.height == 0

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.fps * self.gop_seconds))


PROFILES: Mapping[str, VideoProfile] = MappingProxyType(
    {
        "1080p": VideoProfile("1080p", 1920, 1080, 30, 4500, audio_kbps=160),
        "720p": VideoProfile("720p", 1280, 720, 30, 2500),
        "480p": VideoProfile("480p", 854, 480, 30, 1000, audio_kbps=96),
    }
)
AUDIO_ONLY = VideoProfile("audio", 0, 0, 0, 0, audio_kbps=128)


@dataclass(frozen=True, slots=True)
class Output:
    """One destination: a push URL (validated: rtmp/rtmps → flv, srt → mpegts) or an absolute
    ``Path`` chosen by code. ``options`` are muxer options such as (("movflags", "+faststart"),)."""

    url_or_path: str | Path
    format: str
    options: tuple[tuple[str, str], ...] = ()
    socket: bool = False  # a Path that is a Unix socket Knoten listens on (internal feed)

    def __post_init__(self) -> None:
        if self.format not in OUTPUT_FORMATS:
            raise ValueError(
                f"output format {self.format!r} is not one of {sorted(OUTPUT_FORMATS)}"
            )
        if self.socket and not isinstance(self.url_or_path, Path):
            raise ValueError("socket outputs take a Path")
        if isinstance(self.url_or_path, Path):
            if not self.url_or_path.is_absolute():
                raise ValueError("output paths must be absolute")
        else:
            url = validate_push_url(self.url_or_path)
            wanted = "mpegts" if url.lower().startswith("srt:") else "flv"
            if self.format != wanted:
                raise ValueError(f"{url.split(':', 1)[0]} outputs need format {wanted!r}")
        for name, value in self.options:
            if not _OPTION_NAME.fullmatch(name) or not _OPTION_VALUE.fullmatch(value):
                raise ValueError(f"muxer option {name!r} has an unsafe name or value")

    @property
    def target(self) -> str:
        if self.socket:
            return f"unix:{self.url_or_path}"
        return str(self.url_or_path)

    @property
    def is_rtmp(self) -> bool:
        return isinstance(self.url_or_path, str) and self.url_or_path.lower().startswith("rtmp")


@dataclass(frozen=True, slots=True)
class FfmpegSpec:
    """One FFmpeg process: one input, one encoding (or copy), one or more outputs."""

    name: str
    input: Input
    profile: VideoProfile | None
    outputs: tuple[Output, ...]
    duration_s: float | None = None
    overwrite: bool = False  # file outputs: -y (replace) instead of -n (fail if it exists)
    tiles: TileOverlay | None = None  # speakers' camera tiles over the encoded picture

    def __post_init__(self) -> None:
        if self.tiles is not None and (self.profile is None or self.profile.audio_only):
            raise ValueError("tiles are laid over an encoded picture: they need a video profile")
        if getattr(self.input, "silence", False) and (
            self.profile is None or self.profile.audio_only
        ):
            raise ValueError("silence for a camera without sound needs a video profile")
        if not self.name:
            raise ValueError("spec name is empty")
        if not isinstance(self.outputs, tuple) or not self.outputs:
            raise ValueError("a spec needs a non-empty tuple of outputs")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError("duration_s must be positive")
        if self.profile is None and isinstance(self.input, TestPattern | SlateInput | DeviceInput):
            raise ValueError("a test pattern is raw video: it needs a profile to encode with")


def build_argv(spec: FfmpegSpec, ffmpeg: str = "ffmpeg") -> list[str]:
    """Turn ``spec`` into FFmpeg's argv. Pure: no I/O, same spec → same list."""
    video, audio = _input_streams(spec)
    profile = spec.profile
    streams: list[Any] = []
    if profile is None:
        streams = [video, audio]
    else:
        if not profile.audio_only:
            picture = _scale(video, spec.input, profile)
            if spec.tiles is not None:
                picture = _overlay(picture, spec.tiles)
            streams.append(picture)
        streams.append(audio)
    silence = isinstance(spec.input, UrlInput | FileInput) and spec.input.silence
    if silence:
        # Paced like the camera: the muxer interleaves by timestamp, so silence read at 1x
        # beside a live URL camera (read as it arrives) held every camera packet back by what
        # FFmpeg buffered while probing the camera (1.3 s measured with an RTMP camera), which
        # was latency for everyone and a late slate when the camera died.
        streams.append(_silence(realtime=spec.input.realtime))
    kwargs = _codec_options(profile)
    if silence:
        # The silence never ends: without -shortest a camera that ended would leave FFmpeg
        # running on silence alone, and its watchdog would never see the camera gone.
        kwargs["shortest"] = None
    if spec.duration_s is not None:
        kwargs["t"] = _number(spec.duration_s)
    if len(spec.outputs) == 1:
        out = spec.outputs[0]
        kwargs.update(_muxer_options(out))
        node = ffmpeg_python.output(*streams, out.target, format=out.format, **kwargs)
    else:
        if profile is not None and any(o.format in _GLOBAL_HEADER_FORMATS for o in spec.outputs):
            # tee hides the real muxers from the encoders: ask for out-of-band SPS/PPS so flv/mp4
            # get their codec headers (mpegts re-inserts them before each keyframe itself).
            kwargs["flags"] = "+global_header"
        tee = "|".join(_tee_slave(o) for o in spec.outputs)
        node = ffmpeg_python.output(*streams, tee, format="tee", **kwargs)
    argv: list[str] = node.compile(cmd=ffmpeg)
    return [argv[0], *global_args(overwrite=spec.overwrite), *argv[1:]]


def global_args(*, overwrite: bool) -> list[str]:
    """The options every Knoten FFmpeg process starts with, right after the executable."""
    # -nostdin: we stop with SIGINT, and a stray 'q'/tty read must never stall a child.
    # -progress pipe:1: machine-readable progress on stdout; stderr stays for human logs.
    return [
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        LOGLEVEL,
        "-progress",
        "pipe:1",
        "-y" if overwrite else "-n",
    ]


def _input_streams(spec: FfmpegSpec) -> tuple[Any, Any]:
    """Return (video, audio) stream handles; selectors end in '?' where a stream may be absent."""
    src = spec.input
    if isinstance(src, TestPattern):
        video = ffmpeg_python.input(
            f"testsrc2=size={src.width}x{src.height}:rate={src.fps}", format="lavfi", re=None
        )
        if src.clock:
            video = video.filter(
                "drawtext",
                fontfile=FONT_FILE,
                # ffmpeg-python escapes ':' '=' and '\' for the two filtergraph levels; this is
                # the drawtext-level text, where the strftime colons must stay escaped.
                text=r"%{localtime:%H\:%M\:%S}",
                fontsize=max(12, src.height // 8),
                fontcolor="white",
                box=1,
                boxcolor="black@0.6",
                boxborderw=max(2, src.height // 60),
                x="(w-text_w)/2",
                y="h-text_h-h/12",
            )
        tone = (
            f"sine=frequency={src.tone_hz}:sample_rate={AUDIO_RATE}"
            if src.tone_hz
            else f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_RATE}"
        )
        # lavfi generates as fast as it can: -re paces both sources at 1x for live pushes.
        audio = ffmpeg_python.input(tone, format="lavfi", re=None)
        return video, audio
    if isinstance(src, SlateInput):
        video = ffmpeg_python.input(
            f"color=c=0x0b5394:size={src.width}x{src.height}:rate={src.fps}",
            format="lavfi",
            re=None,
        ).filter(
            "drawtext",
            fontfile=FONT_FILE,
            textfile=str(src.text_file),
            reload=1,
            # The text is a seminar title: show it literally, never expand %{...} sequences.
            expansion="none",
            fontsize=src.font_size or max(12, src.height // 16),
            fontcolor="white",
            line_spacing=src.line_spacing or max(2, src.height // 60),
            x="(w-text_w)/2",
            y="(h-text_h)/2",
        )
        # The whole input, not its first stream: the slate's argv maps it as "1".
        audio = ffmpeg_python.input(
            f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_RATE}", format="lavfi", re=None
        )
        return video, audio
    if isinstance(src, DeviceInput):
        device = ffmpeg_python.input(str(src.path), format="v4l2", protocol_whitelist="file")
        # Both live at 1x: a device is read as it captures.
        return device["v:0"], _silence(realtime=True)
    if isinstance(src, FeedInput):
        # Our own feed, format known, and FeedHub starts every reader with PAT, PMT and a
        # keyframe: half a second of probing finds everything instead of five seconds.
        node = ffmpeg_python.input(
            f"unix:{src.path}",
            format="mpegts",
            protocol_whitelist="unix",
            analyzeduration=src.analyze_us,
            probesize=500_000,
            # x264 in MPEG-TS carries no frame rate; without this FFmpeg analyses to the limit.
            fpsprobesize=0,
        )
        copy = spec.profile is None
        return (node["v:0?"] if copy else node["v:0"]), node["a:0?"]
    if isinstance(src, RtpInput):
        # The file may name only udp/rtp on loopback ports: it is ours, never a user's.
        node = ffmpeg_python.input(
            str(src.sdp), format="sdp", protocol_whitelist="file,udp,rtp", analyzeduration=1_000_000
        )
        return node["v:0"], node["a:0?"]
    options: dict[str, Any] = {}
    if src.realtime:
        options["re"] = None
    if src.loop:
        options["stream_loop"] = -1
    if isinstance(src, UrlInput):
        scheme = src.url.split(":", 1)[0].lower()
        options["protocol_whitelist"] = PROTOCOL_WHITELIST[scheme]
        if scheme in {"rtsp", "rtsps"}:
            options["rtsp_transport"] = "tcp"  # UDP loses packets on busy LANs → smeared frames
        node = ffmpeg_python.input(src.url, **options)
    else:
        options["protocol_whitelist"] = "file"
        node = ffmpeg_python.input(str(src.path), **options)
    copy = spec.profile is None
    # When encoding, video goes through filters (a filter label cannot be optional) and is
    # required; audio is mapped directly and optional, because many IP cameras send none.
    video = node["v:0?"] if copy else node["v:0"]
    audio = node["a:0"] if spec.profile is not None and spec.profile.audio_only else node["a:0?"]
    return video, audio


def _silence(*, realtime: bool) -> Any:
    pacing = {"re": None} if realtime else {}
    return ffmpeg_python.input(
        f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_RATE}", format="lavfi", **pacing
    )["a:0"]


def _scale(video: Any, src: Input, profile: VideoProfile) -> Any:
    if isinstance(src, TestPattern | SlateInput) and (src.width, src.height, src.fps) == (
        profile.width,
        profile.height,
        profile.fps,
    ):
        return video  # already the right picture: skip three no-op filters
    w, h = profile.width, profile.height
    return (
        video.filter("scale", w, h, force_original_aspect_ratio="decrease")
        .filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2")
        .filter("setsar", 1)
        .filter("fps", profile.fps)
    )


def _overlay(picture: Any, tiles: TileOverlay) -> Any:
    # The tile input comes second, after the camera is open: a listener input (SRT push) may
    # wait for its encoder for hours, and the tile socket must not be read before it is used.
    canvas = ffmpeg_python.input(
        f"unix:{tiles.path}",
        format="rawvideo",
        pix_fmt="yuva420p",
        video_size=(tiles.width, tiles.height),  # ffmpeg-python joins the pair as WxH
        framerate=tiles.fps,
        protocol_whitelist="unix",
        thread_queue_size=2,
    )
    # eof_action=pass: should the tile input ever end, the room's picture goes on alone.
    return ffmpeg_python.overlay(
        picture, canvas["v:0"], x=tiles.x, y=tiles.y, eof_action="pass", eval="init"
    )


#: x264 with frame threads instead of zerolatency's sliced threads (see ``one_slice`` in the
#: module docstring): each frame one slice, one frame of delay per thread beyond the first.
ONE_SLICE_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"threads": 2, "x264-params": "sliced-threads=0"}
)


def _codec_options(profile: VideoProfile | None) -> dict[str, Any]:
    if profile is None:
        return {"c": "copy"}
    audio = {"c:a": "aac", "b:a": f"{profile.audio_kbps}k", "ar": AUDIO_RATE, "ac": 2}
    if profile.audio_only:
        return {"vn": None, **audio}
    gop = profile.gop_frames
    return {
        "c:v": "libx264",
        "preset": "veryfast",
        "tune": "zerolatency",
        "profile:v": profile.h264_profile,
        "pix_fmt": "yuv420p",
        "b:v": f"{profile.video_kbps}k",
        "maxrate": f"{profile.video_kbps}k",
        "bufsize": f"{profile.video_kbps * 2}k",
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": 0,
        **(ONE_SLICE_OPTIONS if profile.one_slice else {}),
        **audio,
    }


def _muxer_options(out: Output) -> dict[str, str]:
    options = dict(out.options)
    if out.is_rtmp:
        # A live RTMP stream is not seekable: skip the duration/filesize header rewrite at the end.
        options.setdefault("flvflags", "no_duration_filesize")
    return options


def _tee_slave(out: Output) -> str:
    options = [("f", out.format), ("onfail", "abort"), *_muxer_options(out).items()]
    # av_get_token() unescapes each slave once; URLs are already free of these characters.
    target = re.sub(r"([\\'|])", r"\\\1", out.target)
    return "[" + ":".join(f"{k}={v}" for k, v in options) + "]" + target


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


# -- fixed-purpose commands ----------------------------------------------------------------------

#: Opus frame length of the WebRTC feed (see :func:`webrtc_feed_argv`).
OPUS_FRAME_MS = 40
#: The archive's stills: a poster frame and a strip of thumbnails across the recording.
POSTER_WIDTH = 640
THUMB_COUNT = 10
THUMB_WIDTH = 160


def webrtc_feed_argv(master: Path, output: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """The WebRTC feed: the master's video as it is (constrained baseline already) and its
    audio as Opus, which browsers need — an audio transcode costs ~1 % of a core, a second
    video encode would cost a third.

    Opus frames are 40 ms instead of the usual 20: every RTP packet costs the fan-out the same
    per viewer whatever its size, and at 20 ms audio made 40 % of all packets. Viewing hears
    the room 20 ms later; browsers decode any Opus frame length.
    """
    source = ffmpeg_python.input(f"unix:{master}", format="mpegts", protocol_whitelist="unix")
    node = ffmpeg_python.output(
        source["v:0"],
        source["a:0?"],
        f"unix:{output}",
        format="mpegts",
        **{
            "c:v": "copy",
            "c:a": "libopus",
            "b:a": "96k",
            "frame_duration": OPUS_FRAME_MS,
            "ar": 48000,
            "ac": 2,
        },
    )
    argv: list[str] = node.compile(cmd=ffmpeg)
    # The output is a socket Knoten listens on: nothing to overwrite, so -n is harmless.
    return [argv[0], *global_args(overwrite=False), *argv[1:]]


def level_meter_argv(feed: Path, report: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """The room's sound level for the host (``streaming.live.level``): the feed's audio only,
    decoded at 8 kHz mono, its RMS over every 100 ms printed by ``ametadata`` to the Unix
    socket ``report`` that Knoten listens on; nothing else is written."""
    chain = ",".join(
        (
            "aresample=8000",
            "aformat=channel_layouts=mono",
            "asetnsamples=n=800:p=0",
            "astats=metadata=1:reset=1:measure_perchannel=none",
            # Escaped twice: once for the filtergraph, once for the option list.
            # direct=1: every line goes out at once instead of when a 32 KiB buffer is full.
            "ametadata=mode=print:key=lavfi.astats.Overall.RMS_level:direct=1"
            f":file=unix\\\\:{report}",
        )
    )
    # Our own feed, format known: half a second of probing instead of five.
    probe = ("-analyzeduration", "500000", "-probesize", "500000")
    return [
        ffmpeg,
        *global_args(overwrite=False),
        *("-f", "mpegts", *probe, "-protocol_whitelist", "unix", "-i", f"unix:{feed}"),
        *("-vn", "-af", chain, "-f", "null", "-"),
    ]


#: The remote-audio bus as FFmpeg reads it (``streaming.dialog.bus``): raw 48 kHz stereo s16le.
BUS_FORMAT = "s16le"
#: Packets the bus input may queue inside FFmpeg (its reader thread reads ahead): each is 21 ms,
#: and what waits here is latency of the remote voices.
BUS_THREAD_QUEUE = 4


def mix_feed_argv(
    master: Path, bus: Path, output: Path, audio_kbps: int = 128, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """The mixed master: the switched master's video copied and its audio mixed with the
    remote-audio bus, AAC again (one mix for every partner, the recording and the viewers).

    ``amix`` with ``normalize=0`` adds the bus to the room at full level: while the bus is
    silent the room's sound is unchanged (the default normalisation would halve it).
    ``duration=first``: the room decides; if the bus ever ended the room would go on alone.
    ``aresample=async=1`` first turns gaps in the room's audio timestamps (a switch between
    camera and slate drops audio up to the new keyframe) into silence, so that amix, which
    counts samples rather than reading timestamps, keeps the bus in step with the room. The
    audio output timestamps follow the room's, so video and audio stay in sync.
    """
    for path in (master, bus, output):
        if not path.is_absolute():
            raise ValueError("mix feed paths must be absolute")
    if not 8 <= audio_kbps <= 512:
        raise ValueError("audio_kbps must be between 8 and 512")
    # The same short probe as every FeedInput: FeedHub starts readers at PAT/PMT + keyframe.
    room = ffmpeg_python.input(
        f"unix:{master}",
        format="mpegts",
        protocol_whitelist="unix",
        analyzeduration=500_000,
        probesize=500_000,
        fpsprobesize=0,
    )
    remote = ffmpeg_python.input(
        f"unix:{bus}",
        format=BUS_FORMAT,
        ar=AUDIO_RATE,
        ac=2,
        protocol_whitelist="unix",
        thread_queue_size=BUS_THREAD_QUEUE,
    )
    mixed = ffmpeg_python.filter(
        [room["a:0"].filter("aresample", **{"async": 1}), remote["a:0"]],
        "amix",
        inputs=2,
        duration="first",
        normalize=0,
    )
    node = ffmpeg_python.output(
        room["v:0"],
        mixed,
        f"unix:{output}",
        format="mpegts",
        **{"c:v": "copy", "c:a": "aac", "b:a": f"{audio_kbps}k", "ar": AUDIO_RATE, "ac": 2},
    )
    argv: list[str] = node.compile(cmd=ffmpeg)
    return [argv[0], *global_args(overwrite=False), *argv[1:]]


def remux_argv(concat_list: Path, output: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """Segments listed in an ffconcat file → one faststart MP4, stream copy.

    The concat demuxer (not byte concatenation) re-bases each segment's timestamps on the end of
    the previous one, so runs of the recorder restarted mid-seminar join without a time jump.
    ``-safe 1``: the list may only name plain files next to it. Nothing is re-encoded.
    """
    return [ffmpeg, *global_args(overwrite=True),
            "-f", "concat", "-safe", "1", "-protocol_whitelist", "file",
            "-i", str(concat_list), "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy",
            "-movflags", "+faststart", "-f", "mp4", str(output)]  # fmt: skip


def reopen_argv(media: Path, output: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """A finished MP4 back into one MPEG-TS segment, stream copy, for a recording that goes on
    (its date was resumed): finalize then joins it with the new runs like any other run.
    The mpegts muxer converts H.264/AAC to their TS framing by itself; nothing is re-encoded."""
    return [ffmpeg, *global_args(overwrite=True),
            "-protocol_whitelist", "file", "-i", str(media), "-map", "0:v:0?", "-map", "0:a:0?",
            "-c", "copy", "-f", "mpegts", str(output)]  # fmt: skip


def poster_argv(media: Path, at_s: float, output: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """One JPEG frame of ``media`` at ``at_s``, POSTER_WIDTH wide."""
    return [ffmpeg, *global_args(overwrite=True),
            "-ss", f"{at_s:.3f}", "-protocol_whitelist", "file",
            "-i", str(media), "-frames:v", "1", "-vf", f"scale={POSTER_WIDTH}:-2",
            "-q:v", "3", "-f", "image2", str(output)]  # fmt: skip


def thumbnails_argv(
    media: Path, duration_s: float, output: Path, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """A strip of THUMB_COUNT frames spread over the recording, side by side in one JPEG.

    One input-seeked (-ss before -i, so keyframe-jumps, not decoding) input per frame: a
    fps-filter over the whole file decoded a 10-minute recording for > 30 s (bench).
    """
    inputs: list[str] = []
    chains: list[str] = []
    for i in range(THUMB_COUNT):
        at = duration_s * (i + 0.5) / THUMB_COUNT
        inputs += ["-ss", f"{at:.3f}", "-protocol_whitelist", "file", "-i", str(media)]
        chains.append(f"[{i}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale={THUMB_WIDTH}:-2[t{i}]")
    labels = "".join(f"[t{i}]" for i in range(THUMB_COUNT))
    graph = ";".join(chains) + f";{labels}hstack=inputs={THUMB_COUNT}"
    return [ffmpeg, *global_args(overwrite=True), *inputs,
            "-filter_complex", graph, "-frames:v", "1",
            "-q:v", "4", "-f", "image2", str(output)]  # fmt: skip
