"""The room microphone's level: the meter process's command line and the silence clock."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from streaming.ffmpeg.spec import level_meter_argv
from streaming.live.level import AudioLevel

pytestmark = pytest.mark.timeout(30)


def test_level_meter_argv() -> None:
    argv = level_meter_argv(Path("/run/k/switched.sock"), Path("/run/k/level.sock"))
    assert argv[argv.index("-i") + 1] == "unix:/run/k/switched.sock"
    assert argv[argv.index("-protocol_whitelist") + 1] == "unix"
    assert argv[-3:] == ["-f", "null", "-"] and "-vn" in argv
    assert argv[argv.index("-af") + 1] == (
        "aresample=8000,aformat=channel_layouts=mono,asetnsamples=n=800:p=0,"
        "astats=metadata=1:reset=1:measure_perchannel=none,"
        "ametadata=mode=print:key=lavfi.astats.Overall.RMS_level:direct=1"
        r":file=unix\\:/run/k/level.sock"
    )


async def test_reports_over_the_socket_and_the_silence_clock(tmp_path: Path) -> None:
    level = AudioLevel("t", tmp_path / "level.sock")
    await level.start()
    try:
        _reader, writer = await asyncio.open_unix_connection(str(level.path))
        writer.write(b"frame:0 pts:0 pts_time:0\nlavfi.astats.Overall.RMS_level=-23.5\n")
        await writer.drain()
        async with asyncio.timeout(5):
            while level.level_db is None:
                await asyncio.sleep(0.01)
        assert level.level_db == -23.5 and level.silent_for(0) is None
        writer.write(b"lavfi.astats.Overall.RMS_level=-inf\n")
        await writer.drain()
        async with asyncio.timeout(5):
            while level.silent_for(math.inf) is None:
                await asyncio.sleep(0.01)
        assert level.level_db is None  # digital silence has no level
        writer.write(b"lavfi.astats.Overall.RMS_level=-70.2\n")  # still below -60: still silent
        writer.write(b"lavfi.astats.Overall.RMS_level=-30\n")
        await writer.drain()
        async with asyncio.timeout(5):
            while level.level_db != -30:
                await asyncio.sleep(0.01)
        assert level.silent_for(math.inf) is None
        writer.close()
    finally:
        await level.aclose()
    assert not level.path.exists()
