"""Prometheus metrics for supervised FFmpeg processes, on a registry the app passes in.

Never the global registry: tests and several app instances in one process must not collide.
``observe`` hooks a supervisor's events and progress and returns a function that detaches it and
drops its label sets, so removed outputs do not linger in /metrics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from streaming.ffmpeg.progress import Progress
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState, SupervisorEvent


class FfmpegMetrics:
    """knoten_ffmpeg_{state,restarts_total,fps,output_bytes_per_second,speed,
    dropped_frames_total}{name}: Prometheus names, base units, counters only ever grow."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.state = Gauge(
            "knoten_ffmpeg_state",
            "1 for the current state of each supervised FFmpeg process, 0 for the others",
            ["name", "state"],
            registry=registry,
        )
        self.restarts = Counter(
            "knoten_ffmpeg_restarts",
            "FFmpeg restarts after a crash, stall or exit",
            ["name"],
            registry=registry,
        )
        self.fps = Gauge("knoten_ffmpeg_fps", "Frames per second", ["name"], registry=registry)
        self.bitrate = Gauge(
            # Bytes, not bits: Prometheus' base unit (promtool refuses "bits").
            "knoten_ffmpeg_output_bytes_per_second",
            "Output bitrate",
            ["name"],
            registry=registry,
        )
        self.speed = Gauge(
            "knoten_ffmpeg_speed", "Processing speed (1.0 = realtime)", ["name"], registry=registry
        )
        self.dropped_frames = Counter(
            "knoten_ffmpeg_dropped_frames",
            "Frames FFmpeg dropped, summed over the restarts of the process",
            ["name"],
            registry=registry,
        )

    def observe(self, supervisor: FfmpegSupervisor) -> Callable[[], None]:
        """Track ``supervisor``; returns a function that stops tracking and removes its series."""
        name = supervisor.name
        self._set_state(name, supervisor.state)
        self.restarts.labels(name).inc(0)  # make the series exist at 0
        self.dropped_frames.labels(name).inc(0)
        # FFmpeg reports drops since its own start; a restarted process counts from 0 again.
        dropped_seen = [0]

        def on_event(event: SupervisorEvent) -> None:
            self._set_state(name, event.new_state)
            if event.old_state is ProcessState.BACKOFF and event.new_state is ProcessState.STARTING:
                self.restarts.labels(name).inc()
            if event.new_state is not ProcessState.RUNNING:
                for gauge in (self.fps, self.bitrate, self.speed):
                    gauge.labels(name).set(0)

        def on_progress(progress: Progress) -> None:
            self.fps.labels(name).set(progress.fps or 0.0)
            self.bitrate.labels(name).set((progress.bitrate_kbps or 0.0) * 1000 / 8)
            self.speed.labels(name).set(progress.speed or 0.0)
            dropped = progress.drop_frames
            new = dropped - dropped_seen[0] if dropped >= dropped_seen[0] else dropped
            dropped_seen[0] = dropped
            if new:
                self.dropped_frames.labels(name).inc(new)

        unsubscribe = supervisor.subscribe(on_event=on_event, on_progress=on_progress)

        def detach() -> None:
            unsubscribe()
            for state in ProcessState:
                _remove(self.state, name, state.value)
            for metric in (self.restarts, self.fps, self.bitrate, self.speed, self.dropped_frames):
                _remove(metric, name)

        return detach

    def _set_state(self, name: str, current: ProcessState) -> None:
        for state in ProcessState:
            self.state.labels(name, state.value).set(1 if state is current else 0)


def _remove(metric: Gauge | Counter, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never observed, or already removed
        metric.remove(*labels)
