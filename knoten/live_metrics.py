"""Prometheus view of the running live sessions, read from their status at scrape time.

A collector rather than gauges updated on every change: nothing to keep in sync, and a session
that ended simply disappears from the next scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from knoten.seminar_controller import SeminarController
from streaming.live.status import OUTPUT_STATES, SOURCE_STATES


class LiveSessionCollector(Collector):
    def __init__(self, runner: SeminarController) -> None:
        self._runner = runner

    def collect(self) -> Iterator[Metric]:
        source = GaugeMetricFamily(
            "knoten_live_source_state", "Room camera state (1 for the current state)",
            labels=["occurrence", "state"],
        )  # fmt: skip
        on_air = GaugeMetricFamily(
            "knoten_live_slate_on_air", "1 while the slate replaces the camera",
            labels=["occurrence"],
        )  # fmt: skip
        output = GaugeMetricFamily(
            "knoten_live_output_state", "Partner output state (1 for the current state)",
            labels=["occurrence", "partner", "state"],
        )  # fmt: skip
        bitrate = GaugeMetricFamily(
            "knoten_live_output_bytes_per_second", "Partner output bitrate (bytes: base unit)",
            labels=["occurrence", "partner"],
        )  # fmt: skip
        level = GaugeMetricFamily(
            "knoten_live_audio_level_dbfs",
            "Room microphone: RMS level of the last 100 ms (dBFS; -120 for silence)",
            labels=["occurrence"],
        )
        silent = GaugeMetricFamily(
            "knoten_live_audio_silent_seconds",
            "How long the room microphone has been silent (0 while it is not)",
            labels=["occurrence"],
        )
        restarts = CounterMetricFamily(
            "knoten_live_output_restarts", "Reconnects of a partner output in this session",
            labels=["occurrence", "partner"],
        )  # fmt: skip
        for occurrence_id in sorted(self._runner.running()):
            status = self._runner.status(occurrence_id)
            if status is None:
                continue
            occ = str(occurrence_id)
            for state in SOURCE_STATES:
                source.add_metric([occ, state], float(status.source.state == state))
            on_air.add_metric([occ], float(status.source.on_air == "slate"))
            db = status.source.audio_level_db
            level.add_metric([occ], -120.0 if db is None else max(-120.0, db))
            silent.add_metric([occ], status.source.silent_s or 0.0)
            for out in status.outputs:
                partner = str(out.partner_id)
                for state in OUTPUT_STATES:
                    output.add_metric([occ, partner, state], float(out.state == state))
                bitrate.add_metric([occ, partner], float(out.bitrate_kbps or 0.0) * 1000 / 8)
                restarts.add_metric([occ, partner], float(out.restarts))
        yield from (source, on_air, level, silent, output, bitrate, restarts)
