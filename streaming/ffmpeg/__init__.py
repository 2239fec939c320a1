"""FFmpeg process specs, argv building and supervision: the one way Knoten runs FFmpeg."""

from streaming.ffmpeg.metrics import FfmpegMetrics
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
    "mask_url",
    "validate_input_url",
    "validate_push_url",
]
