"""FfmpegSpec validation and build_argv snapshots (plain literals: review diffs by eye)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming.errors import InvalidMediaUrl
from streaming.ffmpeg.spec import (
    AUDIO_ONLY,
    PROFILES,
    FeedInput,
    FfmpegSpec,
    FileInput,
    Output,
    TestPattern,
    UrlInput,
    VideoProfile,
    build_argv,
    global_args,
    mix_feed_argv,
    poster_argv,
    remux_argv,
    thumbnails_argv,
    webrtc_feed_argv,
)

GLOBAL = ["-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info", "-progress", "pipe:1"]
CLOCK = (
    "drawtext=box=1:boxborderw=4:boxcolor=black@0.6:fontcolor=white"
    ":fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fontsize=30"
    r":text=%{localtime\\:%H\\\\\\:%M\\\\\\:%S}:x=(w-text_w)/2:y=h-text_h-h/12"
)
X264_720P = [
    "-ac", "2", "-ar", "48000", "-b:a", "128k", "-b:v", "2500k", "-bufsize", "5000k",
    "-c:a", "aac", "-c:v", "libx264", "-g", "30", "-keyint_min", "30", "-maxrate", "2500k",
    "-pix_fmt", "yuv420p", "-preset", "veryfast", "-profile:v", "main", "-sc_threshold", "0",
]  # fmt: skip


def test_test_pattern_to_mpegts_file() -> None:
    spec = FfmpegSpec(
        "pattern",
        TestPattern(320, 240, 30),
        VideoProfile("small", 320, 240, 30, 500),
        (Output(Path("/tmp/x.ts"), "mpegts"),),
        duration_s=2,
    )
    assert build_argv(spec, ffmpeg="/usr/bin/ffmpeg") == [
        "/usr/bin/ffmpeg", *GLOBAL, "-n",
        "-f", "lavfi", "-re", "-i", "testsrc2=size=320x240:rate=30",
        "-f", "lavfi", "-re", "-i", "sine=frequency=440:sample_rate=48000",
        "-filter_complex", f"[0]{CLOCK}[s0]",
        "-map", "[s0]", "-map", "1",
        "-f", "mpegts",
        "-ac", "2", "-ar", "48000", "-b:a", "128k", "-b:v", "500k", "-bufsize", "1000k",
        "-c:a", "aac", "-c:v", "libx264", "-g", "30", "-keyint_min", "30", "-maxrate", "500k",
        "-pix_fmt", "yuv420p", "-preset", "veryfast", "-profile:v", "main", "-sc_threshold", "0",
        "-t", "2", "-tune", "zerolatency",
        "/tmp/x.ts",
    ]  # fmt: skip


def test_copy_rtsp_camera_to_rtmp() -> None:
    spec = FfmpegSpec(
        "relay",
        UrlInput("rtsp://cam.local:554/stream1"),
        None,
        (Output("rtmp://127.0.0.1:1935/live/key", "flv"),),
    )
    assert build_argv(spec) == [
        "ffmpeg", *GLOBAL, "-n",
        "-protocol_whitelist", "rtsp,rtp,udp,tcp", "-rtsp_transport", "tcp",
        "-i", "rtsp://cam.local:554/stream1",
        "-map", "0:v:0?", "-map", "0:a:0?",
        "-f", "flv", "-c", "copy", "-flvflags", "no_duration_filesize",
        "rtmp://127.0.0.1:1935/live/key",
    ]  # fmt: skip


def test_rtmp_input_pushed_at_720p() -> None:
    spec = FfmpegSpec(
        "partner",
        UrlInput("rtmp://127.0.0.1:1935/room/master"),
        PROFILES["720p"],
        (Output("rtmps://live.example:443/app/streamkey", "flv"),),
    )
    assert build_argv(spec) == [
        "ffmpeg", *GLOBAL, "-n",
        "-protocol_whitelist", "rtmp,tcp", "-i", "rtmp://127.0.0.1:1935/room/master",
        "-filter_complex",
        "[0:v:0]scale=1280:720:force_original_aspect_ratio=decrease[s0];"
        "[s0]pad=1280:720:(ow-iw)/2:(oh-ih)/2[s1];[s1]setsar=1[s2];[s2]fps=30[s3]",
        "-map", "[s3]", "-map", "0:a:0?",
        "-f", "flv",
        "-ac", "2", "-ar", "48000", "-b:a", "128k", "-b:v", "2500k", "-bufsize", "5000k",
        "-c:a", "aac", "-c:v", "libx264", "-flvflags", "no_duration_filesize",
        "-g", "30", "-keyint_min", "30", "-maxrate", "2500k", "-pix_fmt", "yuv420p",
        "-preset", "veryfast", "-profile:v", "main", "-sc_threshold", "0", "-tune", "zerolatency",
        "rtmps://live.example:443/app/streamkey",
    ]  # fmt: skip


def test_one_encode_fanned_out_with_tee() -> None:
    spec = FfmpegSpec(
        "fanout",
        TestPattern(clock=False, tone_hz=0),
        PROFILES["720p"],
        (
            Output("rtmp://127.0.0.1:1935/live/a", "flv"),
            Output("srt://127.0.0.1:9000?streamid=b", "mpegts"),
            Output(Path("/rec/room.ts"), "mpegts"),
        ),
        overwrite=True,
    )
    assert build_argv(spec) == [
        "ffmpeg", *GLOBAL, "-y",
        "-f", "lavfi", "-re", "-i", "testsrc2=size=1280x720:rate=30",
        "-f", "lavfi", "-re", "-i", "anullsrc=channel_layout=stereo:sample_rate=48000",
        "-map", "0", "-map", "1",
        "-f", "tee", *X264_720P[:14], "-flags", "+global_header", *X264_720P[14:],
        "-tune", "zerolatency",
        "[f=flv:onfail=abort:flvflags=no_duration_filesize]rtmp://127.0.0.1:1935/live/a"
        "|[f=mpegts:onfail=abort]srt://127.0.0.1:9000?streamid=b"
        "|[f=mpegts:onfail=abort]/rec/room.ts",
    ]  # fmt: skip


def test_audio_only_from_file_with_muxer_options() -> None:
    spec = FfmpegSpec(
        "podcast",
        FileInput(Path("/media/slate.mp4"), loop=True),
        AUDIO_ONLY,
        (Output(Path("/rec/a.mp4"), "mp4", options=(("movflags", "+faststart"),)),),
        duration_s=1.5,
    )
    assert build_argv(spec) == [
        "ffmpeg", *GLOBAL, "-n",
        "-protocol_whitelist", "file", "-re", "-stream_loop", "-1", "-i", "/media/slate.mp4",
        "-map", "0:a:0", "-f", "mp4",
        "-ac", "2", "-ar", "48000", "-b:a", "128k", "-c:a", "aac",
        "-movflags", "+faststart", "-t", "1.5", "-vn",
        "/rec/a.mp4",
    ]  # fmt: skip


def test_build_argv_is_pure_and_deterministic() -> None:
    spec = FfmpegSpec("x", TestPattern(), PROFILES["480p"], (Output(Path("/a.ts"), "mpegts"),))
    assert build_argv(spec) == build_argv(spec)


def test_profiles() -> None:
    assert set(PROFILES) == {"1080p", "720p", "480p"}
    assert PROFILES["720p"].gop_frames == 30
    assert VideoProfile("x", 640, 360, 25, 800, gop_seconds=2).gop_frames == 50
    assert AUDIO_ONLY.audio_only and not PROFILES["480p"].audio_only
    with pytest.raises(TypeError):
        PROFILES["4k"] = PROFILES["1080p"]  # type: ignore[index]


def test_one_slice_profile_uses_two_frame_threads() -> None:
    """One slice per frame: x264 frame threads instead of zerolatency's sliced threads."""
    spec = FfmpegSpec(
        "master",
        TestPattern(clock=False, tone_hz=0),
        VideoProfile("master", 1280, 720, 30, 2500, h264_profile="baseline", one_slice=True),
        (Output(Path("/run/master.ts"), "mpegts"),),
    )
    argv = build_argv(spec)
    assert argv[argv.index("-threads") + 1] == "2"
    assert argv[argv.index("-x264-params") + 1] == "sliced-threads=0"
    # zerolatency stays: no B-frames, no lookahead; only its threading changes.
    assert argv[argv.index("-tune") + 1] == "zerolatency"
    assert "-threads" not in build_argv(
        FfmpegSpec("p", TestPattern(), PROFILES["720p"], (Output(Path("/r.ts"), "mpegts"),))
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: Output("file:/etc/passwd", "flv"),
        lambda: Output("-f", "flv"),
        lambda: Output("rtmp://h/app/key -y", "flv"),
        lambda: Output("concat:a|b", "mpegts"),
        lambda: UrlInput("file:/etc/passwd"),
        lambda: UrlInput("-i"),
        lambda: UrlInput("rtsp://cam/s\n-f"),
    ],
)
def test_user_strings_are_validated_at_construction(make: object) -> None:
    with pytest.raises(InvalidMediaUrl):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Output(Path("relative.ts"), "mpegts"),
        lambda: Output("rtmp://h/app/key", "mpegts"),
        lambda: Output("srt://h:9000", "flv"),
        lambda: Output(Path("/a.ts"), "image2"),
        lambda: Output(Path("/a.mp4"), "mp4", options=(("movflags", "a:b"),)),
        lambda: Output(Path("/a.mp4"), "mp4", options=(("-i", "x"),)),
        lambda: FileInput("/etc/passwd"),  # type: ignore[arg-type]
        lambda: FileInput(Path("relative.mp4")),
        lambda: TestPattern(321, 240),
        lambda: TestPattern(fps=0),
        lambda: VideoProfile("bad", 640, 360, 30, 0),
        lambda: FfmpegSpec("p", TestPattern(), None, (Output(Path("/a.ts"), "mpegts"),)),
        lambda: FfmpegSpec("p", TestPattern(), AUDIO_ONLY, ()),
        lambda: FfmpegSpec("p", TestPattern(), AUDIO_ONLY, [Output(Path("/a.ts"), "mpegts")]),
        lambda: FfmpegSpec(
            "p", TestPattern(), AUDIO_ONLY, (Output(Path("/a.ts"), "mpegts"),), duration_s=0
        ),
    ],
)
def test_invalid_specs(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_v4l2_camera_argv_adds_silence() -> None:
    """A V4L2 camera cannot run on the test machines (no /dev/video*): the argv is checked."""
    from streaming.ffmpeg.spec import DeviceInput

    spec = FfmpegSpec(
        "cam",
        DeviceInput(Path("/dev/video0")),
        PROFILES["720p"],
        (Output(Path("/tmp/camera-in.sock"), "mpegts", socket=True),),
    )
    argv = build_argv(spec)
    device = argv.index("/dev/video0")
    assert argv[device - 5 : device + 1] == [
        "-f", "v4l2", "-protocol_whitelist", "file", "-i", "/dev/video0",
    ]  # fmt: skip
    assert "anullsrc=channel_layout=stereo:sample_rate=48000" in argv
    assert argv[-1] == "unix:/tmp/camera-in.sock"
    with pytest.raises(ValueError):
        DeviceInput(Path("/etc/passwd"))


def test_global_args() -> None:
    assert global_args(overwrite=False) == [*GLOBAL, "-n"]
    assert global_args(overwrite=True) == [*GLOBAL, "-y"]


def test_feed_input_analysis_time() -> None:
    spec = FfmpegSpec(
        "rec",
        FeedInput(Path("/run/master.sock"), analyze_us=1_000_000),
        None,
        (Output(Path("/rec/7/parts/r001-%05d.ts.part"), "segment"),),
    )
    assert build_argv(spec) == [
        "ffmpeg", *GLOBAL, "-n",
        "-f", "mpegts", "-analyzeduration", "1000000", "-fpsprobesize", "0",
        "-probesize", "500000", "-protocol_whitelist", "unix", "-i", "unix:/run/master.sock",
        "-map", "0:v:0?", "-map", "0:a:0?", "-f", "segment", "-c", "copy",
        "/rec/7/parts/r001-%05d.ts.part",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        FeedInput(Path("/run/master.sock"), analyze_us=0)


def test_webrtc_feed_argv() -> None:
    argv = webrtc_feed_argv(Path("/run/k/master.sock"), Path("/run/k/webrtc-in.sock"))
    assert argv == [
        "ffmpeg", *GLOBAL, "-n",
        "-f", "mpegts", "-protocol_whitelist", "unix", "-i", "unix:/run/k/master.sock",
        "-map", "0:v:0", "-map", "0:a:0?", "-f", "mpegts",
        "-ac", "2", "-ar", "48000", "-b:a", "96k", "-c:a", "libopus", "-c:v", "copy",
        "-frame_duration", "40",
        "unix:/run/k/webrtc-in.sock",
    ]  # fmt: skip


def test_mix_feed_argv() -> None:
    argv = mix_feed_argv(
        Path("/run/k/switched.sock"), Path("/run/k/bus.sock"), Path("/run/k/master-in.sock")
    )
    assert argv == [
        "ffmpeg", *GLOBAL, "-n",
        "-f", "mpegts", "-analyzeduration", "500000", "-fpsprobesize", "0",
        "-probesize", "500000", "-protocol_whitelist", "unix", "-i", "unix:/run/k/switched.sock",
        "-f", "s16le", "-ac", "2", "-ar", "48000", "-protocol_whitelist", "unix",
        "-thread_queue_size", "4", "-i", "unix:/run/k/bus.sock",
        "-filter_complex",
        "[0:a:0]aresample=async=1[s0];[s0][1:a:0]amix=duration=first:inputs=2:normalize=0[s1]",
        "-map", "0:v:0", "-map", "[s1]", "-f", "mpegts",
        "-ac", "2", "-ar", "48000", "-b:a", "128k", "-c:a", "aac", "-c:v", "copy",
        "unix:/run/k/master-in.sock",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        mix_feed_argv(Path("rel.sock"), Path("/run/k/bus.sock"), Path("/run/k/out.sock"))


def test_remux_argv() -> None:
    argv = remux_argv(Path("/a/parts/concat.ffconcat"), Path("/a/7.part.mp4"), "/usr/bin/ffmpeg")
    assert argv == [
        "/usr/bin/ffmpeg", *GLOBAL, "-y",
        "-f", "concat", "-safe", "1", "-protocol_whitelist", "file",
        "-i", "/a/parts/concat.ffconcat", "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy",
        "-movflags", "+faststart", "-f", "mp4", "/a/7.part.mp4",
    ]  # fmt: skip


def test_poster_argv() -> None:
    assert poster_argv(Path("/a/7.mp4"), 1.0, Path("/a/7.poster.part.jpg")) == [
        "ffmpeg", *GLOBAL, "-y",
        "-ss", "1.000", "-protocol_whitelist", "file", "-i", "/a/7.mp4",
        "-frames:v", "1", "-vf", "scale=640:-2", "-q:v", "3", "-f", "image2",
        "/a/7.poster.part.jpg",
    ]  # fmt: skip


def test_thumbnails_argv() -> None:
    """Ten input-seeked frames, 2 s apart for a 20 s recording, side by side in one JPEG."""
    argv = thumbnails_argv(Path("/a/7.mp4"), 20.0, Path("/a/7.thumbs.part.jpg"))
    inputs = []
    for at in ("1.000", "3.000", "5.000", "7.000", "9.000",
               "11.000", "13.000", "15.000", "17.000", "19.000"):  # fmt: skip
        inputs += ["-ss", at, "-protocol_whitelist", "file", "-i", "/a/7.mp4"]
    graph = (
        "[0:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t0];"
        "[1:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t1];"
        "[2:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t2];"
        "[3:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t3];"
        "[4:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t4];"
        "[5:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t5];"
        "[6:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t6];"
        "[7:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t7];"
        "[8:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t8];"
        "[9:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[t9];"
        "[t0][t1][t2][t3][t4][t5][t6][t7][t8][t9]hstack=inputs=10"
    )
    assert argv == [
        "ffmpeg", *GLOBAL, "-y", *inputs,
        "-filter_complex", graph, "-frames:v", "1", "-q:v", "4", "-f", "image2",
        "/a/7.thumbs.part.jpg",
    ]  # fmt: skip
