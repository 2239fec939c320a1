"""/metrics by Prometheus' own rules: ``promtool check metrics`` (Debian's prometheus package)
finds nothing, counters end in ``_total``, values are in base units (``_bytes``, ``_seconds``;
bitrates in ``_bytes_per_second``, as promtool refuses ``bits``), there are no ``_created``
series, and one name is one family. Checked on the running app with a supervised (fake)
FFmpeg, and on the live-session families of a running partner output.

Regression: bitrates were kbit/s (``…_bitrate_kbps``), dropped frames and partner restarts were
gauges, every counter and histogram child had a ``_created`` twin, and the WebRTC counter of
admitted viewers shared its family name with the gauge of connected viewers."""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from knoten.keys import FFMPEG_PROCESSES
from knoten.live_metrics import LiveSessionCollector
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState
from streaming.live.status import LiveStatus, OutputStatus, SourceStatus

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_orphan_ffmpeg")]

#: Unit spellings Prometheus' conventions replace by base units.
NOT_BASE_UNITS = re.compile(r"_(kbps|mbps|kb|mb|ms|millis\w*|kilo\w*|mega\w*|minutes|hours)(_|$)")


async def promtool(exposition: bytes) -> str:
    tool = shutil.which("promtool")
    assert tool is not None, "promtool is missing: Debian package prometheus (make test)"
    process = await asyncio.create_subprocess_exec(
        tool, "check", "metrics", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(exposition), 20)
    assert process.returncode == 0, out.decode()
    return out.decode()


def families(exposition: str) -> dict[str, str]:
    types: dict[str, str] = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name not in types, f"{name} declared twice"
            types[name] = kind
    return types


def check_conventions(exposition: str) -> dict[str, str]:
    types = families(exposition)
    assert "_created" not in exposition
    for name, kind in types.items():
        assert name.startswith("knoten_") or name.startswith(("process_", "python_")), name
        if kind == "counter":
            assert name.endswith("_total"), name
        assert NOT_BASE_UNITS.search(name) is None, name
    # A gauge and a counter family may not share a base name (OpenMetrics reads them as one).
    bases = [name.removesuffix("_total") for name in types]
    assert len(bases) == len(set(bases)), sorted(bases)
    return types


class _OneLiveSession:
    """The two methods LiveSessionCollector reads, for one occurrence with one partner."""

    def running(self) -> set[int]:
        return {7}

    def status(self, occurrence_id: int) -> LiveStatus:
        source = SourceStatus(state="live", kind="testsrc", on_air="camera", width=1280,
                              height=720, fps=30.0, restarts=0)  # fmt: skip
        output = OutputStatus(name="occ7-partner-3", kind="rtmp", partner_id=3, profile="720p",
                              state="live", bitrate_kbps=2500.0, fps=30.0, uptime_s=12.0,
                              restarts=2, last_error=None)  # fmt: skip
        return LiveStatus(source=source, outputs=(output,))


async def test_app_metrics_pass_promtool(knoten_app, http, fake_ffmpeg):
    supervisor = FfmpegSupervisor("occ1-camera", fake_ffmpeg.argv("ok", interval=0.05))
    await knoten_app.app[FFMPEG_PROCESSES].start(supervisor)
    await supervisor.wait_state(ProcessState.RUNNING, timeout=10)
    await asyncio.sleep(0.3)  # a few progress blocks
    for path in ("/healthz", "/api/v1/openapi.json", "/nowhere"):
        async with http.get(knoten_app.url(path)) as response:
            await response.read()
    async with http.get(knoten_app.url("/metrics")) as response:
        assert response.status == 200
        exposition = await response.read()
    assert await promtool(exposition) == ""
    text = exposition.decode()
    types = check_conventions(text)
    assert types["knoten_ffmpeg_restarts_total"] == "counter"
    assert types["knoten_ffmpeg_dropped_frames_total"] == "counter"
    assert types["knoten_webrtc_viewers"] == "gauge"
    assert types["knoten_webrtc_viewers_admitted_total"] == "counter"
    assert types["knoten_http_request_duration_seconds"] == "histogram"
    bitrate = re.search(r'knoten_ffmpeg_output_bytes_per_second\{name="occ1-camera"\} (\S+)', text)
    assert bitrate is not None and float(bitrate.group(1)) >= 100_000  # the fake's 800 kbit/s
    dropped = re.search(r'knoten_ffmpeg_dropped_frames_total\{name="occ1-camera"\} (\S+)', text)
    assert dropped is not None and float(dropped.group(1)) >= 1
    await knoten_app.app[FFMPEG_PROCESSES].remove("occ1-camera")


async def test_live_session_families_pass_promtool():
    registry = CollectorRegistry()
    registry.register(LiveSessionCollector(_OneLiveSession()))  # type: ignore[arg-type]
    exposition = generate_latest(registry)
    assert await promtool(exposition) == ""
    text = exposition.decode()
    types = check_conventions(text)
    assert types["knoten_live_output_restarts_total"] == "counter"
    labels = 'occurrence="7",partner="3"'
    assert f"knoten_live_output_bytes_per_second{{{labels}}} 312500.0" in text  # 2500 kbit/s
    assert f"knoten_live_output_restarts_total{{{labels}}} 2.0" in text
