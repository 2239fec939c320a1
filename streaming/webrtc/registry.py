"""The owner of every WebRTC feed and viewer in this process: ``open``/``close`` per
occurrence, WHEP viewers (the :class:`~streaming.webrtc.viewer_registry.ViewerRegistry`
interface, also run inside each viewer worker).

The live pipeline calls ``open(occurrence_id, feed, title)`` when an occurrence goes live and
``close(occurrence_id)`` when it stops; the WHEP endpoint calls ``add_viewer``/``remove_viewer``.
Each viewer has a watchdog task (owned here) that closes its peer after a connect timeout, on
ICE/DTLS failure, or when the peer closes; ``aclose()`` ends everything and returns only then.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from streaming.webrtc.admission import AdmissionGate, GateBusy
from streaming.webrtc.aiortc_boundary import check_aiortc
from streaming.webrtc.errors import HandshakesBusy, NotLive, ViewerLimitReached, ViewerNotFound
from streaming.webrtc.feed import FeedReader
from streaming.webrtc.hub import FeedHub
from streaming.webrtc.ice import install, resolve_host_addresses
from streaming.webrtc.metrics import Snapshot, Totals, WebrtcMetrics
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.sdp import check_offer
from streaming.webrtc.viewer import Viewer
from streaming.webrtc.viewer_registry import FeedStats, OccurrenceStats

log = logging.getLogger(__name__)


class _Feed:
    """A hub with the reader that fills it."""

    def __init__(self, hub: FeedHub, reader: FeedReader) -> None:
        self.hub = hub
        self.reader = reader
        self.viewers: dict[str, Viewer] = {}


class WebrtcRegistry:
    """Feeds and viewers in this process. Checks aiortc (:func:`check_aiortc`) when made."""

    def __init__(
        self,
        options: WebrtcOptions,
        metrics_registry: CollectorRegistry | None = None,
        *,
        on_viewer_closed: Callable[[int, str], None] | None = None,
        on_first_frame: Callable[[float], None] | None = None,
    ) -> None:
        self.options = options
        # Hooks for a viewer worker process, which reports both to the service's registry.
        self._on_viewer_closed = on_viewer_closed
        self._on_first_frame = on_first_frame
        self._host_addresses = resolve_host_addresses(options.host_addresses, options.interfaces)
        self._feeds: dict[int, _Feed] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._totals = Totals()
        self._closed = False
        self._gate = AdmissionGate(
            options.max_connecting, options.connect_queue, options.connect_queue_wait_s
        )
        self._admitted: set[str] = set()  # viewers holding a handshake slot
        check_aiortc()
        self.metrics = WebrtcMetrics(metrics_registry, self.snapshot)
        install()

    async def start(self) -> None:
        """Nothing to start: feeds open on demand (here for the common interface)."""

    # -- feeds ----------------------------------------------------------------------------

    async def open(self, occurrence_id: int, feed: Path, title: str) -> None:
        """Start serving ``feed`` for ``occurrence_id`` (idempotent; a new path restarts)."""
        if self._closed:
            raise NotLive("the service is shutting down")
        current = self._feeds.get(occurrence_id)
        if current is not None:
            current.hub.title = title
            if current.reader.path == feed:
                return
            await self.close(occurrence_id)
        hub = FeedHub(
            occurrence_id,
            title,
            video_queue_frames=self.options.video_queue_frames,
            audio_queue_packets=self.options.audio_queue_packets,
        )
        reader = FeedReader(
            feed,
            asyncio.get_running_loop(),
            hub.push_video,
            hub.push_audio,
            name=str(occurrence_id),
        )
        self._feeds[occurrence_id] = _Feed(hub, reader)
        reader.start()
        log.info("webrtc feed open: occurrence %s %r from %s", occurrence_id, title, feed)

    async def close(self, occurrence_id: int) -> None:
        """Stop the occurrence's feed and close its viewers (idempotent)."""
        feed = self._feeds.pop(occurrence_id, None)
        if feed is None:
            return
        viewers = list(feed.viewers.values())
        await asyncio.gather(*(self._drop(v, "occurrence stopped") for v in viewers))
        await feed.reader.aclose()
        feed.hub.close()
        log.info("webrtc feed closed: occurrence %s", occurrence_id)

    def is_live(self, occurrence_id: int) -> bool:
        return occurrence_id in self._feeds

    def live_occurrences(self) -> set[int]:
        return set(self._feeds)

    # -- viewers --------------------------------------------------------------------------

    def viewer_count(self, occurrence_id: int | None = None) -> int:
        if occurrence_id is not None:
            feed = self._feeds.get(occurrence_id)
            return 0 if feed is None else len(feed.viewers)
        return sum(len(feed.viewers) for feed in self._feeds.values())

    async def add_viewer(self, occurrence_id: int, offer: bytes | str) -> tuple[str, str]:
        """Answer a WHEP offer: ``(viewer_id, answer_sdp)``.

        Raises InvalidOffer (400), NotLive (409), ViewerLimitReached (503) or, when too many
        viewers are connecting at once and the wait for a handshake slot fails, HandshakesBusy
        (503 with a short Retry-After).
        """
        raw = offer.encode() if isinstance(offer, str) else offer
        text, kinds = check_offer(raw)
        feed = self._admissible(occurrence_id)
        try:
            await self._gate.acquire()
        except GateBusy as exc:
            self._totals.rejected += 1
            raise HandshakesBusy(
                f"too many viewers connecting right now ({exc})", self.options.busy_retry_after_s
            ) from None
        viewer_id = secrets.token_urlsafe(12)
        self._admitted.add(viewer_id)
        try:
            # Checked again: the occurrence may have stopped, or filled up, during the wait.
            feed = self._admissible(occurrence_id)
        except BaseException:
            self._release(viewer_id)
            raise
        viewer = Viewer(viewer_id, feed.hub, self.options, self._host_addresses, self._first)
        feed.viewers[viewer_id] = viewer  # counted at once, so concurrent offers respect the limit
        try:
            answer = await viewer.answer(text, kinds)
        except BaseException:
            feed.viewers.pop(viewer_id, None)
            self._release(viewer_id)
            await viewer.aclose("offer refused")
            raise
        if self._feeds.get(occurrence_id) is not feed:  # closed while we negotiated
            feed.viewers.pop(viewer_id, None)
            self._release(viewer_id)
            await viewer.aclose("occurrence stopped")
            raise NotLive(f"occurrence {occurrence_id} is not live")
        self._totals.viewers += 1
        self._watchers[viewer_id] = asyncio.create_task(
            self._watch(viewer), name=f"webrtc-viewer-{viewer_id}"
        )
        log.info(
            "viewer %s joined occurrence %s (%d watching)",
            viewer_id,
            occurrence_id,
            len(feed.viewers),
        )
        return viewer_id, answer

    def _admissible(self, occurrence_id: int) -> _Feed:
        """The occurrence's feed if a new viewer may join it now (NotLive, ViewerLimitReached)."""
        feed = self._feeds.get(occurrence_id)
        if feed is None or self._closed:
            raise NotLive(f"occurrence {occurrence_id} is not live")
        if self.viewer_count() >= self.options.max_viewers:
            self._totals.rejected += 1
            raise ViewerLimitReached(
                f"viewer limit of {self.options.max_viewers} reached", self.options.retry_after_s
            )
        return feed

    def _release(self, viewer_id: str) -> None:
        """Give back the viewer's handshake slot, if it still holds one (idempotent)."""
        if viewer_id in self._admitted:
            self._admitted.discard(viewer_id)
            self._gate.release()

    @property
    def connecting(self) -> int:
        """Viewers in their handshake now (each holds a slot of the admission gate)."""
        return self._gate.held

    async def remove_viewer(self, occurrence_id: int, viewer_id: str) -> None:
        """Close one viewer (WHEP DELETE). Raises ViewerNotFound if there is none."""
        feed = self._feeds.get(occurrence_id)
        viewer = None if feed is None else feed.viewers.get(viewer_id)
        if viewer is None:
            raise ViewerNotFound(f"viewer {viewer_id!r} does not exist")
        await self._drop(viewer, "viewer left")

    async def viewer_stats(self, occurrence_id: int, viewer_id: str) -> dict[str, object] | None:
        """One viewer's counters and send path (None if there is no such viewer)."""
        viewer = self.viewer(occurrence_id, viewer_id)
        return None if viewer is None else viewer.stats()

    def viewer(self, occurrence_id: int, viewer_id: str) -> Viewer | None:
        feed = self._feeds.get(occurrence_id)
        return None if feed is None else feed.viewers.get(viewer_id)

    def _first(self, viewer: Viewer) -> None:
        if viewer.first_frame_s is not None:
            self.metrics.time_to_first_frame.observe(viewer.first_frame_s)
            if self._on_first_frame is not None:
                self._on_first_frame(viewer.first_frame_s)

    async def _watch(self, viewer: Viewer) -> None:
        """Close the viewer when it does not connect in time, fails or closes."""
        reason = "peer ended"
        try:
            connected = asyncio.ensure_future(viewer.connected.wait())
            ended = asyncio.ensure_future(viewer.ended.wait())
            try:
                done, _ = await asyncio.wait(
                    {connected, ended},
                    timeout=self.options.connect_timeout_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                self._release(viewer.id)  # connected, failed or timed out: the handshake is over
                if not done:
                    reason = "connect timeout"
                elif connected in done and not ended.done():
                    await ended
                    reason = viewer.end_reason or reason
            finally:
                connected.cancel()
                ended.cancel()
        except asyncio.CancelledError:
            return  # _drop cancelled us: it closes the viewer itself
        self._watchers.pop(viewer.id, None)  # we are ending: _drop must not cancel us
        await self._drop(viewer, reason)

    async def _drop(self, viewer: Viewer, reason: str) -> None:
        feed = self._feeds.get(viewer.hub.occurrence_id)
        if feed is not None and feed.viewers.get(viewer.id) is viewer:
            del feed.viewers[viewer.id]
        # Count what the viewer got before its queues go away.
        packets, bytes_, dropped = viewer.counters()
        self._release(viewer.id)
        watcher = self._watchers.pop(viewer.id, None)
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
        await viewer.aclose(reason)
        if watcher is not None and watcher is not asyncio.current_task():
            await asyncio.gather(watcher, return_exceptions=True)
        if self._on_viewer_closed is not None and not viewer.counted:
            self._on_viewer_closed(viewer.hub.occurrence_id, viewer.id)
        if not viewer.counted:
            viewer.counted = True
            self._totals.packets += packets
            self._totals.bytes += bytes_
            self._totals.dropped += dropped

    # -- status ---------------------------------------------------------------------------

    def stats(self, occurrence_id: int) -> OccurrenceStats:
        """Viewer count and counters of one occurrence, for the status API."""
        feed = self._feeds.get(occurrence_id)
        if feed is None:
            return OccurrenceStats(live=False)
        viewers = list(feed.viewers.values())
        counters = [v.counters() for v in viewers]
        firsts = sorted(v.first_frame_s for v in viewers if v.first_frame_s is not None)
        hub = feed.hub.stats
        return OccurrenceStats(
            live=True,
            viewers=len(viewers),
            feed=FeedStats(
                connections=feed.reader.connections,
                video_packets=hub.video_packets,
                audio_packets=hub.audio_packets,
                bytes=hub.bytes,
                keyframes=hub.keyframes,
            ),
            packets=sum(c[0] for c in counters),
            bytes=sum(c[1] for c in counters),
            dropped=sum(c[2] for c in counters),
            time_to_first_frame_s_max=firsts[-1] if firsts else None,
        )

    def snapshot(self) -> Snapshot:
        """Feeds, viewers and totals, as the metrics collector reads them."""
        totals = Totals(**vars(self._totals))
        for feed in self._feeds.values():
            for viewer in feed.viewers.values():
                for track in viewer.tracks:
                    totals.packets += track.queue.stats.packets
                    totals.bytes += track.queue.stats.bytes
                    totals.dropped += track.queue.stats.dropped
        return Snapshot(len(self._feeds), self.viewer_count(), totals)

    async def aclose(self) -> None:
        """Close every viewer and feed; idempotent, returns when all have stopped."""
        self._closed = True
        for occurrence_id in list(self._feeds):
            await self.close(occurrence_id)
        watchers = list(self._watchers.values())
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        self._watchers.clear()
