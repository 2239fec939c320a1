"""FFmpeg process specs, argv building and supervision: the one way Knoten runs FFmpeg.

- ``spec``: every argv (frozen specs → ``build_argv``; the fixed-purpose WebRTC feed and archive
  commands; ``global_args``, the options every process starts with).
- ``supervisor`` / ``policy`` / ``process`` / ``progress``: how a long-running process runs.
- ``oneshot``: ``run_to_completion`` for jobs that run once (remux, stills).
- ``registry``: the app's one owner of every running supervisor; ``metrics``: their gauges.
- ``tools``: ``ffmpeg -version`` and ``ffprobe``; ``urls``: validation of user-supplied URLs.
"""

from streaming.ffmpeg.metrics import FfmpegMetrics
from streaming.ffmpeg.oneshot import run_to_completion
from streaming.ffmpeg.progress import Progress, ProgressParser
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import (
    AUDIO_ONLY,
    PROFILES,
    FfmpegSpec,
    FileInput,
    Output,
    TestPattern,
    UrlInput,
    VideoProfile,
    build_argv,
    global_args,
    poster_argv,
    remux_argv,
    thumbnails_argv,
    webrtc_feed_argv,
)
from streaming.ffmpeg.supervisor import (
    FfmpegSupervisor,
    ProcessState,
    RestartPolicy,
    SupervisorEvent,
)
from streaming.ffmpeg.tools import ffmpeg_version, ffprobe_json
from streaming.ffmpeg.urls import mask_url, validate_input_url, validate_push_url

__all__ = [
    "AUDIO_ONLY",
    "PROFILES",
    "FfmpegMetrics",
    "FfmpegProcesses",
    "FfmpegSpec",
    "FfmpegSupervisor",
    "FileInput",
    "Output",
    "ProcessState",
    "Progress",
    "ProgressParser",
    "RestartPolicy",
    "SupervisorEvent",
    "TestPattern",
    "UrlInput",
    "VideoProfile",
    "build_argv",
    "ffmpeg_version",
    "ffprobe_json",
    "global_args",
    "mask_url",
    "poster_argv",
    "remux_argv",
    "run_to_completion",
    "thumbnails_argv",
    "validate_input_url",
    "validate_push_url",
    "webrtc_feed_argv",
]
