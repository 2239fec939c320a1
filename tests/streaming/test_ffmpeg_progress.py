"""Parsing FFmpeg's -progress output, fed whole and in arbitrary chunks."""

from __future__ import annotations

import pytest

from streaming.ffmpeg.progress import Progress, ProgressParser, parse_progress

# Captured from Debian's ffmpeg 5.1 (test pattern → mpegts), trimmed to two blocks.
TRANSCRIPT = """frame=30
fps=29.87
stream_0_0_q=23.0
bitrate= 589.5kbits/s
total_size=73768
out_time_us=1005333
out_time_ms=1005333
out_time=00:00:01.005333
dup_frames=0
drop_frames=2
speed=0.982x
progress=continue
frame=60
fps=29.87
stream_0_0_q=-1.0
bitrate= 589.5kbits/s
total_size=147768
out_time_us=2005333
out_time_ms=2005333
out_time=00:00:02.005333
dup_frames=1
drop_frames=2
speed=0.998x
progress=end
"""

FIRST = Progress(
    frame=30,
    fps=29.87,
    bitrate_kbps=589.5,
    total_size=73768,
    out_time_s=1.005333,
    speed=0.982,
    dup_frames=0,
    drop_frames=2,
    ended=False,
)
LAST = Progress(
    frame=60,
    fps=29.87,
    bitrate_kbps=589.5,
    total_size=147768,
    out_time_s=2.005333,
    speed=0.998,
    dup_frames=1,
    drop_frames=2,
    ended=True,
)


def test_whole_transcript() -> None:
    assert parse_progress(TRANSCRIPT) == [FIRST, LAST]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000])
def test_chunked_bytes_give_the_same_blocks(size: int) -> None:
    data = TRANSCRIPT.encode()
    parser = ProgressParser()
    blocks = []
    for start in range(0, len(data), size):
        blocks += parser.feed(data[start : start + size])
    assert blocks == [FIRST, LAST]


def test_every_split_point() -> None:
    for cut in range(len(TRANSCRIPT)):
        parser = ProgressParser()
        blocks = parser.feed(TRANSCRIPT[:cut]) + parser.feed(TRANSCRIPT[cut:])
        assert blocks == [FIRST, LAST], cut


def test_incomplete_block_is_held_back() -> None:
    parser = ProgressParser()
    assert parser.feed("frame=1\nfps=2\n") == []
    assert parser.feed("progress=cont") == []
    assert parser.feed("inue\n") == [Progress(frame=1, fps=2.0)]


def test_not_available_values_become_none() -> None:
    text = (
        "frame=0\nfps=0.00\nbitrate=N/A\ntotal_size=N/A\nout_time_us=N/A\nout_time_ms=N/A\n"
        "out_time=N/A\ndup_frames=0\ndrop_frames=0\nspeed=N/A\nprogress=continue\n"
    )
    assert parse_progress(text) == [Progress(frame=0, fps=0.0)]


def test_out_time_fallbacks() -> None:
    assert parse_progress("out_time_ms=1500000\nprogress=continue\n")[0].out_time_s == 1.5
    assert parse_progress("out_time=01:02:03.5\nprogress=continue\n")[0].out_time_s == 3723.5
    # ffmpeg prints negative times at the very start of some inputs.
    assert parse_progress("out_time=-00:00:00.1\nprogress=continue\n")[0].out_time_s == -0.1


def test_crlf_garbage_and_unknown_keys_are_tolerated() -> None:
    text = "hello\r\nframe=5\r\nstream_1_0_q=3\r\nnonsense line\r\nspeed=2x\r\nprogress=end\r\n"
    assert parse_progress(text) == [Progress(frame=5, speed=2.0, ended=True)]


def test_fields_do_not_leak_into_the_next_block() -> None:
    blocks = parse_progress("frame=5\nfps=30\nprogress=continue\nframe=6\nprogress=continue\n")
    assert blocks[1] == Progress(frame=6)


def test_utf8_split_inside_a_character_and_overlong_lines() -> None:
    parser = ProgressParser()
    data = "x=\u00e9\u00e9\nframe=1\nprogress=continue\n".encode()
    assert parser.feed(data[:3]) == []
    assert parser.feed(data[3:]) == [Progress(frame=1)]
    assert parser.feed("a" * 200_000) == []
    assert parser.feed("\nframe=2\nprogress=continue\n") == [Progress(frame=2)]
