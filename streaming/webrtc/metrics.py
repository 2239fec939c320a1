"""Prometheus view of the WebRTC fan-out, read at scrape time.

Counting per packet in Prometheus objects would cost a lock per packet per viewer; the hot path
keeps plain integers and this collector sums them when ``/metrics`` is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass
class Totals:
    """Monotonic sums over every viewer (live ones are added at read time)."""

    viewers: int = 0
    packets: int = 0
    bytes: int = 0
    dropped: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Snapshot:
    occurrences: int
    viewers: int
    totals: Totals


class WebrtcCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield GaugeMetricFamily(
            "knoten_webrtc_viewers", "WebRTC viewers connected or connecting", value=snap.viewers
        )
        yield GaugeMetricFamily(
            "knoten_webrtc_feeds", "Live occurrences with a WebRTC feed", value=snap.occurrences
        )
        for name, doc, value in (
            # Not "viewers": that is the gauge above, and one name is one metric family.
            ("viewers_admitted", "WebRTC viewers admitted", snap.totals.viewers),
            ("packets", "Media packets handed to WebRTC viewers", snap.totals.packets),
            ("bytes", "Media payload bytes handed to WebRTC viewers", snap.totals.bytes),
            ("dropped_packets", "Packets dropped for lagging viewers", snap.totals.dropped),
            ("rejected", "WHEP offers refused at the viewer limit", snap.totals.rejected),
        ):
            yield CounterMetricFamily(f"knoten_webrtc_{name}", doc, value=value)


class WebrtcMetrics:
    def __init__(self, registry: CollectorRegistry | None, snapshot: Callable[[], Snapshot]):
        self.time_to_first_frame = Histogram(
            "knoten_webrtc_time_to_first_frame_seconds",
            "From the WHEP answer to the first video packet handed to the viewer's sender",
            buckets=(0.05, 0.1, 0.15, 0.25, 0.5, 1, 2, 5, 10),
            registry=registry,
        )
        if registry is not None:
            registry.register(WebrtcCollector(snapshot))
