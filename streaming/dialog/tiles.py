"""SpeakerTiles: the speakers' cameras as picture-in-picture tiles for the encode-once picture.

One per live date, next to the remote-audio bus. The stage's two video slots
(:class:`~streaming.dialog.video_slots.VideoSlot`) hand every frame they forward to
:meth:`SpeakerTiles.show`; the frame is decoded (PyAV, in a worker thread: H.264 of a browser
camera costs a few ms a frame, which must not sit on the event loop), scaled into its tile and
kept. A :class:`~streaming.dialog.paced.PacedStream` sends a *canvas* — both tiles, one above
the other, in ``yuva420p`` — ``fps`` times a second to the FFmpeg processes that encode the
room's picture, which lay it over the picture with ``overlay`` (see
:class:`streaming.ffmpeg.spec.TileOverlay`). A slot without a picture is transparent, so the
room's picture shows through; the FFmpeg command never changes when speakers come and go.

A tile disappears when its slot goes dark (:meth:`hide`: the speaker left the stage, lost their
slot or their peer closed) and when no new picture has come for ``stale_s`` (a camera switched
off or a browser gone without a goodbye). Nothing here can stall the room's picture: the canvas
is sent on our own clock whether or not any camera delivers, and a reader that waits for it
gets the same canvas again at once (``insert_burst``), because ``overlay`` holds each picture of
the room until it has the canvas for that moment.

The canvas is laid out so that each tile is contiguous in every plane (the canvas is one tile
wide): putting a picture in place is four slice assignments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av

from streaming.dialog.frames import Frame, annexb
from streaming.dialog.listener import VIDEO_SLOTS
from streaming.dialog.paced import PacedStream

log = logging.getLogger(__name__)

TILE_FPS = 15
#: A tile whose camera sent no picture for this long is taken away. Long enough to bridge a
#: lost frame and the keyframe the slot then asks for (the picture freezes meanwhile rather
#: than flickering off and on), short enough for a browser gone without a goodbye.
STALE_S = 3.0
_BLACK_Y, _NEUTRAL_UV = 16, 128


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


@dataclass(frozen=True, slots=True)
class TileLayout:
    """Where the tiles go in a ``width`` × ``height`` picture: a quarter of its width each,
    16:9, stacked at the bottom right with a small margin."""

    width: int
    height: int

    @property
    def tile_width(self) -> int:
        return _even(self.width / 4)

    @property
    def tile_height(self) -> int:
        return _even(self.tile_width * 9 / 16)

    @property
    def gap(self) -> int:
        return _even(self.height / 60)

    @property
    def canvas_size(self) -> tuple[int, int]:
        return self.tile_width, VIDEO_SLOTS * self.tile_height + (VIDEO_SLOTS - 1) * self.gap

    @property
    def position(self) -> tuple[int, int]:
        """The canvas's top-left corner in the picture."""
        canvas_w, canvas_h = self.canvas_size
        return self.width - canvas_w - self.gap, self.height - canvas_h - self.gap

    def tile_origin(self, slot: int) -> tuple[int, int]:
        """Top-left corner of ``slot``'s tile in the picture (tests crop it)."""
        x, y = self.position
        return x, y + slot * (self.tile_height + self.gap)

    @property
    def frame_bytes(self) -> int:
        w, h = self.canvas_size
        return w * h * 2 + 2 * (w // 2) * (h // 2)


class _Planes:
    """Where a tile lies in the canvas bytes: (start, length) of Y, U, V and A."""

    def __init__(self, layout: TileLayout, slot: int) -> None:
        w, h = layout.canvas_size
        tw, th = layout.tile_width, layout.tile_height
        row = slot * (th + layout.gap)
        y_size, c_size = w * h, (w // 2) * (h // 2)
        self.spans = (
            (row * w, tw * th),
            (y_size + (row // 2) * (w // 2), (tw // 2) * (th // 2)),
            (y_size + c_size + (row // 2) * (w // 2), (tw // 2) * (th // 2)),
            (y_size + 2 * c_size + row * w, tw * th),
        )


def _rows(plane: av.video.plane.VideoPlane, width: int, height: int) -> bytes:
    """A plane's pixels without the line padding FFmpeg may add."""
    data = bytes(plane)
    stride = plane.line_size
    if stride == width:
        return data[: width * height]
    return b"".join(data[r * stride : r * stride + width] for r in range(height))


class _SlotDecoder:
    """One video slot's H.264 decoder and its latest tile (Y, U, V, A bytes at tile size).
    ``decode`` runs in the worker thread only; the rest on the event loop."""

    def __init__(self, layout: TileLayout) -> None:
        self.layout = layout
        self.codec: av.CodecContext | None = None
        self.speaker_id: int | None = None
        self.pending: list[bytes] = []
        self.busy = False
        self.tile: tuple[bytes, bytes, bytes, bytes] | None = None
        self.tile_at = 0.0
        self.generation = 0  # bumped when the slot changes speaker: late results are dropped
        self.decoding = 0  # the generation the worker decodes for
        self.decoded = 0
        self.errors = 0
        self.min_interval = 0.0
        self._fitted_at = -1.0  # worker thread only

    def decode(self, units: list[bytes]) -> tuple[bytes, bytes, bytes, bytes] | None:
        """Decode ``units`` (whole access units, in order); the last picture as a tile."""
        if self.codec is None:
            self.codec = av.CodecContext.create("h264", "r")
        codec = self.codec
        latest = None
        for unit in units:
            try:
                pictures = codec.decode(av.Packet(unit))
            except av.error.FFmpegError:
                self.errors += 1
                continue
            if pictures:
                latest = pictures[-1]
                self.decoded += len(pictures)
        now = time.monotonic()
        if latest is None or now - self._fitted_at < self.min_interval:
            return None  # the canvas would not show it: scaling is most of the cost
        self._fitted_at = now
        return self._fit(latest)

    def _fit(self, picture: av.VideoFrame) -> tuple[bytes, bytes, bytes, bytes]:
        """The picture scaled to fit the tile (aspect kept), centred; the rest transparent."""
        tw, th = self.layout.tile_width, self.layout.tile_height
        scale = min(tw / picture.width, th / picture.height)
        sw, sh = min(tw, _even(picture.width * scale)), min(th, _even(picture.height * scale))
        scaled = picture.reformat(width=sw, height=sh, format="yuv420p")
        left, top = (tw - sw) // 2 // 2 * 2, (th - sh) // 2 // 2 * 2
        planes = []
        for index, (pw, ph, ox, oy, sx, sy, fill) in enumerate(
            (
                (tw, th, left, top, sw, sh, _BLACK_Y),
                (tw // 2, th // 2, left // 2, top // 2, sw // 2, sh // 2, _NEUTRAL_UV),
                (tw // 2, th // 2, left // 2, top // 2, sw // 2, sh // 2, _NEUTRAL_UV),
            )
        ):
            rows = _rows(scaled.planes[index], sx, sy)
            if (sx, sy) == (pw, ph):
                planes.append(rows)
                continue
            out = bytearray([fill]) * (pw * ph)
            for r in range(sy):
                start = (oy + r) * pw + ox
                out[start : start + sx] = rows[r * sx : (r + 1) * sx]
            planes.append(bytes(out))
        alpha = bytearray(tw * th)
        for r in range(top, top + sh):
            alpha[r * tw + left : r * tw + left + sw] = b"\xff" * sw
        return planes[0], planes[1], planes[2], bytes(alpha)


class SpeakerTiles(PacedStream):
    """The speakers' camera tiles of one live date, as a raw ``yuva420p`` stream for FFmpeg."""

    def __init__(
        self,
        name: str,
        path: Path,
        layout: TileLayout,
        *,
        fps: int = TILE_FPS,
        stale_s: float = STALE_S,
        max_pending: int = 60,
    ) -> None:
        super().__init__(
            name,
            path,
            frame_bytes=layout.frame_bytes,
            period_s=1 / fps,
            max_backlog_frames=1,
            # Never cut a reader loose for being slow: while the room's camera stalls, FFmpeg
            # reads nothing, and an ended tile input would lose the tiles until it restarts.
            # Not sending is what bounds the memory.
            stall_timeout_s=float("inf"),
            max_burst=fps,
            starve_ticks=2,
            # Repeating the canvas costs the picture nothing, so a waiting reader may catch
            # up as far as it needs (a camera that buffered seconds while FFmpeg probed it).
            catchup_frames=1 << 30,
            max_drift=0.0,
            insert_burst=3,
            sndbuf=65536,
        )
        self.layout = layout
        self.fps = fps
        self.stale_s = stale_s
        self.max_pending = max_pending
        self._slots = [_SlotDecoder(layout) for _ in range(VIDEO_SLOTS)]
        for decoder in self._slots:
            decoder.min_interval = 0.9 / fps
        self._spans = [_Planes(layout, i) for i in range(VIDEO_SLOTS)]
        self._canvas = self._empty_canvas()
        tw, th = layout.tile_width, layout.tile_height
        self._blank = (
            bytes([_BLACK_Y]) * (tw * th),
            bytes([_NEUTRAL_UV]) * (tw * th // 4),
            bytes([_NEUTRAL_UV]) * (tw * th // 4),
            bytes(tw * th),
        )
        #: The tile each slot shows in the canvas (None: transparent), and the canvas as sent.
        self._placed: list[tuple[bytes, bytes, bytes, bytes] | None] = [None] * VIDEO_SLOTS
        self._frame: bytes | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tiles-{name}")
        self._jobs: set[Future[None]] = set()
        self.frames_dropped = 0  # access units not decoded because the decoder fell behind

    def _empty_canvas(self) -> bytearray:
        w, h = self.layout.canvas_size
        c_size = (w // 2) * (h // 2)
        return bytearray(
            bytes([_BLACK_Y]) * (w * h) + bytes([_NEUTRAL_UV]) * (2 * c_size) + bytes(w * h)
        )

    # -- the stage's side -----------------------------------------------------------------------

    def show(self, slot: int, speaker_id: int, frame: Frame) -> bool:
        """One forwarded frame of ``speaker_id``'s camera in video slot ``slot``. True when it
        could not be used because the decoder must start on a keyframe (the caller asks the
        speaker for one: the tiles began in the middle of their stream, or fell behind)."""
        if self._closed or not 0 <= slot < len(self._slots):
            return False
        decoder = self._slots[slot]
        if decoder.speaker_id != speaker_id:
            self._reset(decoder, speaker_id)
        if len(decoder.pending) >= self.max_pending:
            # The worker cannot keep up: start again on the next keyframe rather than queue.
            self.frames_dropped += len(decoder.pending)
            decoder.pending.clear()
            if decoder.busy:
                decoder.generation += 1  # the worker's result is dropped, its codec too
            else:
                decoder.codec = None
        if (decoder.codec is None or decoder.generation != decoder.decoding) and (
            not decoder.pending and not frame.keyframe
        ):
            self.frames_dropped += 1
            return True
        decoder.pending.append(annexb(frame.payloads))
        if not decoder.busy:
            self._submit(slot, decoder)
        return False

    def hide(self, slot: int) -> None:
        """Video slot ``slot`` went dark: its tile goes at the next canvas."""
        if 0 <= slot < len(self._slots):
            self._reset(self._slots[slot], None)

    def _reset(self, decoder: _SlotDecoder, speaker_id: int | None) -> None:
        decoder.speaker_id = speaker_id
        decoder.generation += 1
        decoder.pending.clear()
        decoder.tile = None
        if not decoder.busy:
            decoder.codec = None  # the worker owns it while busy; it is replaced after

    def _submit(self, slot: int, decoder: _SlotDecoder) -> None:
        units, decoder.pending = decoder.pending, []
        decoder.busy = True
        generation = decoder.decoding = decoder.generation
        loop = asyncio.get_running_loop()

        def work() -> None:
            tile = None
            try:
                tile = decoder.decode(units)
            except Exception:  # never leave the slot busy for ever
                log.exception("%s: decoding video slot %d failed", self.name, slot)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._decoded, slot, decoder, generation, tile)

        job = self._pool.submit(work)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    def _decoded(
        self,
        slot: int,
        decoder: _SlotDecoder,
        generation: int,
        tile: tuple[bytes, bytes, bytes, bytes] | None,
    ) -> None:
        decoder.busy = False
        if generation != decoder.generation:
            decoder.codec = None  # the slot changed while we decoded: start afresh
        elif tile is not None:
            decoder.tile = tile
            decoder.tile_at = time.monotonic()
        if decoder.pending and not self._closed:
            self._submit(slot, decoder)

    # -- the canvas -----------------------------------------------------------------------------

    @property
    def tiles_shown(self) -> tuple[bool, ...]:
        """Which slots' tiles the last canvas showed."""
        return tuple(tile is not None for tile in self._placed)

    def _next_frame(self) -> bytes:
        now = time.monotonic()
        changed = False
        for slot, decoder in enumerate(self._slots):
            tile = decoder.tile
            if tile is not None and now - decoder.tile_at > self.stale_s:
                tile = decoder.tile = None  # the camera went quiet
            if tile is self._placed[slot]:
                continue
            shown = tile if tile is not None else self._blank
            for (start, length), plane in zip(self._spans[slot].spans, shown, strict=True):
                self._canvas[start : start + length] = plane
            self._placed[slot] = tile
            changed = True
        if changed or self._frame is None:
            self._frame = bytes(self._canvas)
        return self._frame

    def _filler(self) -> bytes:
        return self._frame if self._frame is not None else self._next_frame()

    # -- lifecycle ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        await super().aclose()
        for decoder in self._slots:
            self._reset(decoder, None)
        await asyncio.to_thread(self._pool.shutdown, True)
