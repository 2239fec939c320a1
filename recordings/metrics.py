"""Prometheus metrics of the archive, registered once on the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class RecordingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deleted = Counter(
            "knoten_recordings_deleted_total",
            "Recordings deleted, by reason (age, quota, api)",
            ["reason"],
            registry=registry,
        )
        self.finalized = Counter(
            "knoten_recordings_finalized_total",
            "Finalizations by result (ok, recovered, waiting for disk space, failed)",
            ["result"],
            registry=registry,
        )
        self.disk_guard_closures = Counter(
            "knoten_recordings_disk_guard_closures_total",
            "Recordings closed early because free disk space fell below the threshold",
            registry=registry,
        )
        self.active = Gauge(
            "knoten_recordings_active", "Recordings being written now", registry=registry
        )
