"""LiveSession: one occurrence on air — camera opened once, encode once, every output isolated.

Process layout (each FFmpeg under its own supervisor, registered in the app's FfmpegProcesses):

    SpeakerTiles (canvas) ─┐
    camera ingest ─────────┤ (tiles laid over)         ┌─▶ partners on the master profile (copy)
                           ├─▶ MasterSwitch ─▶ switched ─┐ ├─▶ profile encoders ─▶ partners
    slate ─────────────────┘                             ├mix┼─▶ WebRTC feed (video copied, Opus)
    RemoteAudioBus (speakers, silence) ─ PCM ────────────┘ └─▶ recorder (added by the root)
                                                      master

The camera is opened exactly once. The master is encoded once, in constrained baseline so the
WebRTC feed is a copy. With ``plan.speaker_tiles`` (the default) the camera and slate encoders
also read the date's camera tiles (``self.tiles``, a raw canvas that is transparent while no
speaker shows a camera) and lay them over the picture they encode: the speakers' pictures cost
no second encode, and every consumer gets them. With ``plan.remote_audio`` (the default) one
more process, *mix*, copies the switched feed's video and mixes its audio with the date's
remote-audio bus (``self.bus``); its output is the master every consumer reads, so remote
voices are mixed once for everyone.
The bus never stops while the session runs, so putting speakers on or off stage changes what
feeds the bus and never an FFmpeg command. Each lower profile is encoded once, however many
partners use it; under load shedding these partner-only encoders run a reduced profile
(``reduce_partner_profiles``), while the master and partners on it never change. Every
destination is its own process reading a feed, so one that refuses or
drops is retried with capped backoff while the encode, the other destinations and the viewers
carry on. When the camera fails the switch puts the slate on air and the feeds never break, so
partner connections stay up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from streaming.dialog.bus import RemoteAudioBus
from streaming.dialog.tiles import SpeakerTiles, TileLayout
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import (
    FONT_FILE,
    FeedInput,
    FfmpegSpec,
    Output,
    SlateInput,
    TileOverlay,
    VideoProfile,
    build_argv,
    level_meter_argv,
    mix_feed_argv,
    webrtc_feed_argv,
)
from streaming.ffmpeg.supervisor import (
    ArgvSource,
    FfmpegSupervisor,
    ProcessState,
    ReadyProbe,
    RestartPolicy,
)
from streaming.ffmpeg.urls import MASK, mask_url
from streaming.live.feed import FeedHub
from streaming.live.hls import hls_output, partner_dir, public_dir, public_hls_output
from streaming.live.level import AudioLevel
from streaming.live.plan import PartnerKind, PartnerTarget, SessionPlan, profile_for
from streaming.live.reach import tcp_probe
from streaming.live.slate_text import FontMetrics, fit_all, lead_in_text, trouble_text
from streaming.live.status import LiveStatus, OutputState, OutputStatus, SourceState, SourceStatus
from streaming.live.switch import MasterSwitch, SourceName
from streaming.shedding import reduced_profile

log = logging.getLogger(__name__)

SLATE_FPS = 10
# Outputs: the first retry after 0.5 s (a destination process that died is back within 3 s),
# capped at 30 s; RTMP partners also have a ready probe that ends the wait once their server is
# back (``streaming.live.reach``).
# Readers of a feed wait for what is upstream (camera, encoder) at session start: on a busy
# machine that takes more than the default 10 s, so they get 30 s before counting as stuck.
OUTPUT_POLICY = RestartPolicy(
    initial_backoff_s=0.5, max_backoff_s=30.0, stale_timeout_s=10.0, startup_timeout_s=30.0
)
# The camera: retried quickly at first (a network blip), then every 10 s at most.
CAMERA_POLICY = RestartPolicy(initial_backoff_s=0.5, max_backoff_s=10.0, stale_timeout_s=5.0)
# A push ingest waits for the host's encoder as long as it takes: no startup timeout.
LISTENER_POLICY = replace(CAMERA_POLICY, startup_timeout_s=24 * 3600.0)
# A WHIP room's FFmpeg (RTP from the publisher) gives up after ≈ 20 s without packets: it comes
# back at once, so a host who starts publishing later is on air within a second or two. Blocked
# on RTP it ignores the first SIGINT (FFmpeg wants two once transcoding has begun): a short
# grace, since there is nothing to flush when no packets arrive.
WHIP_POLICY = replace(LISTENER_POLICY, max_backoff_s=1.0, grace_s=1.5)
INTERNAL_POLICY = RestartPolicy(
    initial_backoff_s=0.5, max_backoff_s=5.0, stale_timeout_s=10.0, startup_timeout_s=30.0
)

_OUTPUT_STATES: dict[ProcessState, OutputState] = {
    ProcessState.IDLE: "starting",
    ProcessState.STARTING: "starting",
    ProcessState.RUNNING: "live",
    ProcessState.BACKOFF: "retrying",
    ProcessState.STOPPING: "stopped",
    ProcessState.STOPPED: "stopped",
    ProcessState.FAILED: "failed",
}


def _camera_policy(plan: SessionPlan) -> RestartPolicy:
    if plan.camera.kind == "whip":
        return WHIP_POLICY
    return LISTENER_POLICY if plan.camera.listener else CAMERA_POLICY


@dataclass
class _Output:
    name: str
    kind: PartnerKind
    supervisor: FfmpegSupervisor
    partner_id: int | None = None
    profile: str | None = None


class LiveSession:
    def __init__(
        self,
        plan: SessionPlan,
        processes: FfmpegProcesses,
        ffmpeg: str = "ffmpeg",
        *,
        partners_reduced: bool = False,
    ):
        self.plan = plan
        # Load shedding: partner-only encoders run reduced_profile() while this is set.
        self._partners_reduced = partners_reduced
        self._processes = processes
        self._ffmpeg = ffmpeg
        run = plan.run_dir
        self.master_profile = plan.master_profile()
        # What the switch puts out (camera or slate, the room's own sound) and what every
        # consumer reads: the same feed, or the mix of it with the remote-audio bus.
        self.switched_feed = run / "switched.sock"
        self.master_feed = run / "master.sock" if plan.remote_audio else self.switched_feed
        self.webrtc_feed = run / "webrtc.sock"
        self._slate_text = run / "slate.txt"
        #: The room microphone's level (see streaming.live.level).
        self.level = AudioLevel(f"occ{plan.occurrence_id}", run / "level.sock")
        # Lead-in and trouble texts wrapped and sized once: both fit at the same font size,
        # which drawtext keeps while the text file changes.
        _, self._slate_layouts = fit_all(
            [lead_in_text(plan.title, plan.start_label), trouble_text(plan.title)],
            self.master_profile.width,
            self.master_profile.height,
            FontMetrics.load(FONT_FILE),
        )
        self._hubs: dict[str, FeedHub] = {}
        #: The date's remote voices (None without ``plan.remote_audio``): the composition root
        #: feeds it with ``bus.write(speaker_id, pcm)`` and ``bus.remove(speaker_id)``.
        self.bus: RemoteAudioBus | None = (
            RemoteAudioBus(f"occ{plan.occurrence_id}", run / "bus.sock")
            if plan.remote_audio
            else None
        )
        #: The speakers' camera tiles (None without ``plan.speaker_tiles``): the composition
        #: root feeds it with ``tiles.show(slot, speaker_id, frame)`` and ``tiles.hide(slot)``.
        self.tiles: SpeakerTiles | None = (
            SpeakerTiles(
                f"tiles occ{plan.occurrence_id}",
                run / "tiles.sock",
                TileLayout(self.master_profile.width, self.master_profile.height),
            )
            if plan.speaker_tiles
            else None
        )
        self._switch = MasterSwitch(
            f"occ{plan.occurrence_id}",
            FeedHub("switched", self.switched_feed),
            camera_path=run / "camera-in.sock",
            slate_path=run / "slate-in.sock",
        )
        self._supervisors: list[FfmpegSupervisor] = []
        self._outputs: list[_Output] = []
        self._camera: FfmpegSupervisor | None = None
        self._live = False
        self._started_at: float | None = None
        self._closed = False

    # -- naming --------------------------------------------------------------------------------

    def _name(self, part: str) -> str:
        return f"occ{self.plan.occurrence_id}-{part}"

    def _supervisor(
        self, part: str, argv: ArgvSource, policy: RestartPolicy, probe: ReadyProbe | None = None
    ) -> FfmpegSupervisor:
        supervisor = FfmpegSupervisor(self._name(part), argv, policy=policy, ready_probe=probe)
        self._supervisors.append(supervisor)
        return supervisor

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, live: bool) -> None:
        plan = self.plan
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        self._started_at = time.monotonic()
        # Once the date has begun (a late start, a restart mid-date) the slate never says
        # "beginnt um": until the camera is up it says what is going on.
        self._write_slate(live=live)
        if plan.camera.sdp is not None and plan.camera.path is not None:
            plan.camera.path.write_text(plan.camera.sdp)  # a WHIP room: where FFmpeg reads RTP
        self._live = live
        self._switch.want_camera = live
        self._switch.on_switch = self._on_switch
        await self._switch.hub.start()
        await self._switch.start()
        if self.tiles is not None:
            await self.tiles.start()
        master = self.master_profile
        # A still picture needs no 30 fps: at 10 fps the slate costs a third (bench/partners),
        # and a keyframe every 0.5 s keeps the switch to it quick.
        slate_profile = profile_copy(master, fps=SLATE_FPS, gop_seconds=0.5)
        self._supervisor(
            "slate",
            build_argv(
                FfmpegSpec(
                    self._name("slate"),
                    SlateInput(
                        self._slate_text,
                        master.width,
                        master.height,
                        SLATE_FPS,
                        self._slate_layouts[0].font_size,
                        self._slate_layouts[0].line_spacing,
                    ),
                    slate_profile,
                    (Output(plan.run_dir / "slate-in.sock", "mpegts", socket=True),),
                    tiles=self._tile_overlay(),
                ),
                self._ffmpeg,
            ),
            INTERNAL_POLICY,
        )
        self._camera = self._supervisor(
            "camera",
            build_argv(
                FfmpegSpec(
                    self._name("camera"),
                    plan.camera.ffmpeg_input(master),
                    master,
                    (Output(plan.run_dir / "camera-in.sock", "mpegts", socket=True),),
                    tiles=self._tile_overlay(),
                ),
                self._ffmpeg,
            ),
            _camera_policy(plan),
        )
        if self.bus is not None:
            await self._add_mix(self.bus)
        # The room microphone's level for the host: a reader of the switched feed (the room's
        # own sound, before remote voices are mixed in).
        await self.level.start()
        self._supervisor(
            "level",
            level_meter_argv(self.switched_feed, self.level.path, self._ffmpeg),
            INTERNAL_POLICY,
        )
        await self._add_profile_feeds()
        if "webrtc" in plan.extra_feeds:
            hub = FeedHub("webrtc", self.webrtc_feed, plan.run_dir / "webrtc-in.sock")
            await hub.start()
            self._hubs["webrtc"] = hub
            self._supervisor(
                "webrtc",
                webrtc_feed_argv(self.master_feed, plan.run_dir / "webrtc-in.sock", self._ffmpeg),
                INTERNAL_POLICY,
            )
        if plan.public_hls:
            self._add_public_hls()
        for partner in plan.partners:
            self._add_partner(partner)
        for supervisor in self._supervisors:
            await self._processes.start(supervisor)
        log.info(
            "occurrence %s: session started (%s, %d partner(s))",
            plan.occurrence_id,
            "live" if live else "lead-in",
            len(plan.partners),
        )

    def _tile_overlay(self) -> TileOverlay | None:
        if self.tiles is None:
            return None
        layout = self.tiles.layout
        width, height = layout.canvas_size
        x, y = layout.position
        return TileOverlay(self.tiles.path, width, height, self.tiles.fps, x, y)

    async def _add_mix(self, bus: RemoteAudioBus) -> None:
        # The bus runs from the start (silence) so the mix's input never ends or changes.
        await bus.start()
        run = self.plan.run_dir
        hub = FeedHub("master", self.master_feed, run / "master-in.sock")
        await hub.start()
        self._hubs["master"] = hub
        self._supervisor(
            "mix",
            mix_feed_argv(
                self.switched_feed,
                bus.path,
                run / "master-in.sock",
                self.master_profile.audio_kbps,
                self._ffmpeg,
            ),
            INTERNAL_POLICY,
        )

    async def _add_profile_feeds(self) -> None:
        for name in self._partner_profiles():
            run = self.plan.run_dir
            hub = FeedHub(name, run / f"{name}.sock", run / f"{name}-in.sock")
            await hub.start()
            self._hubs[name] = hub
            # Evaluated at every spawn: a restart picks up a reduced (or restored) profile.
            self._supervisor(f"encode-{name}", lambda name=name: self._encode_argv(name),
                             INTERNAL_POLICY)  # fmt: skip

    def _partner_profiles(self) -> list[str]:
        """The profiles encoded for partners alone (not the master's)."""
        master_name = self.master_profile.name.removeprefix("master-")
        return sorted({p.profile for p in self.plan.partners} - {master_name})

    def _encode_argv(self, name: str) -> list[str]:
        profile = profile_for(name)
        if self._partners_reduced:
            profile = reduced_profile(profile)
        spec = FfmpegSpec(
            self._name(f"encode-{name}"),
            FeedInput(self.master_feed),
            profile,
            (Output(self.plan.run_dir / f"{name}-in.sock", "mpegts", socket=True),),
        )
        return build_argv(spec, self._ffmpeg)

    @property
    def partners_reduced(self) -> bool:
        return self._partners_reduced

    async def reduce_partner_profiles(self, reduced: bool) -> list[str]:
        """Load shedding: run the partner-only encoders on a reduced profile (or the full one
        again). Each such encoder restarts, then the partners reading it reconnect, so they get
        a stream whose headers describe the new picture; partners on the master's profile, the
        recording and the viewers are not touched. Returns the profiles changed."""
        if reduced == self._partners_reduced or self._closed:
            return []
        self._partners_reduced = reduced
        changed = []
        for name in self._partner_profiles():
            encoder = self.supervisor(f"encode-{name}")
            if encoder is None or profile_for(name).audio_only:
                continue  # audio-only has nothing to reduce
            if self._closed:
                break  # going off air: nothing to restart
            await encoder.stop()
            await encoder.start()
            for output in self._outputs:
                if output.profile == name and not self._closed:
                    await output.supervisor.stop()
                    await output.supervisor.start()
            changed.append(name)
        log.warning("occurrence %s: partner profiles %s %s", self.plan.occurrence_id,
                    changed, "reduced" if reduced else "restored")  # fmt: skip
        return changed

    def feed_for(self, profile: str) -> Path:
        if profile == self.master_profile.name.removeprefix("master-"):
            return self.master_feed
        return self._hubs[profile].output_path

    def _add_partner(self, partner: PartnerTarget) -> None:
        feed = FeedInput(self.feed_for(partner.profile))
        if partner.kind == "hls":
            directory = partner_dir(self.plan.hls_dir, partner.partner_id)
            directory.mkdir(parents=True, exist_ok=True)
            target = hls_output(directory)
        else:
            assert partner.url is not None
            target = Output(partner.url, "flv" if partner.kind == "rtmp" else "mpegts")
        part = f"partner-{partner.partner_id}"
        spec = FfmpegSpec(self._name(part), feed, None, (target,), overwrite=True)
        # A partner back after an outage is reached again at once, not after the backoff.
        probe = tcp_probe(partner.url) if partner.kind == "rtmp" else None
        supervisor = self._supervisor(part, build_argv(spec, self._ffmpeg), OUTPUT_POLICY, probe)
        self._outputs.append(
            _Output(partner.name, partner.kind, supervisor, partner.partner_id, partner.profile)
        )

    def _add_public_hls(self) -> None:
        # A copy of the master: the 1 s GOP gives 1 s segments without another encode.
        directory = public_dir(self.plan.hls_dir)
        directory.mkdir(parents=True, exist_ok=True)
        spec = FfmpegSpec(
            self._name("hls"),
            FeedInput(self.master_feed),
            None,
            (public_hls_output(directory),),
            overwrite=True,
        )
        self._supervisor("hls", build_argv(spec, self._ffmpeg), OUTPUT_POLICY)

    async def set_live(self, live: bool) -> None:
        """Lead-in → live: the camera goes on air at its next keyframe."""
        self._live = live
        self._switch.want_camera = live
        self._write_slate(live=live)
        self._switch.decide()

    def _write_slate(self, live: bool) -> None:
        text = self._slate_layouts[1 if live else 0].text
        tmp = self._slate_text.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self._slate_text)  # drawtext must never read half a file

    def _on_switch(self, source: SourceName, previous: SourceName | None) -> None:
        if source is SourceName.SLATE and previous is SourceName.CAMERA and self._live:
            log.warning("occurrence %s: camera lost, slate on air", self.plan.occurrence_id)
        elif source is SourceName.CAMERA:
            log.info("occurrence %s: camera on air", self.plan.occurrence_id)

    async def aclose(self) -> None:
        """Stop everything: outputs first (partners see a clean end of stream), then feeds."""
        if self._closed:
            return
        self._closed = True
        outputs = [o.supervisor for o in self._outputs]
        await self._remove(outputs)
        # Readers of a feed before its producers: FFmpeg leaves on one SIGINT only while its
        # input still delivers (a read that waits is not interrupted by the first signal), so
        # a reader whose producer stopped first would wait for the SIGKILL grace period.
        sources = [s for s in (self.supervisor("camera"), self.supervisor("slate")) if s]
        mix = [s for s in (self.supervisor("mix"),) if s]
        await self._remove([s for s in self._supervisors if s not in {*outputs, *sources, *mix}])
        await self._remove(mix)
        await self._remove(sources)
        await self._switch.aclose()
        await self._switch.hub.aclose()
        for hub in self._hubs.values():
            await hub.aclose()
        if self.bus is not None:
            await self.bus.aclose()
        await self.level.aclose()
        if self.tiles is not None:
            await self.tiles.aclose()
        with contextlib.suppress(OSError):
            self._slate_text.unlink()
        if self.plan.public_hls:
            # Nobody is served these once the date is off air (caches keep what they have);
            # a later start writes new names, so the old ones would only fill the disk.
            shutil.rmtree(public_dir(self.plan.hls_dir), ignore_errors=True)
        log.info("occurrence %s: session stopped", self.plan.occurrence_id)

    async def _remove(self, supervisors: list[FfmpegSupervisor]) -> None:
        await asyncio.gather(*(self._processes.remove(s.name) for s in supervisors))

    # -- status --------------------------------------------------------------------------------

    def status(self) -> LiveStatus:
        return LiveStatus(self.source_status(), tuple(self.outputs_status()))

    def source_status(self) -> SourceStatus:
        level = self.level.level_db
        silent = self.level.silent_for(time.monotonic()) if self._started_at else None
        camera = self._switch.source(SourceName.CAMERA) if self._started_at else None
        healthy = self._switch.camera_healthy() if camera else False
        state: SourceState
        if not self._live:
            state = "standby" if healthy else "starting"
        elif self._switch.active is SourceName.CAMERA and healthy:
            state = "live"
        elif self._camera is not None and self._camera.state is ProcessState.STARTING:
            state = "starting"
        else:
            state = "lost"
        active = self._switch.active
        return SourceStatus(
            state=state,
            kind=self.plan.camera.kind,
            on_air=None
            if active is None
            else ("camera" if active is SourceName.CAMERA else "slate"),
            width=camera.width if camera else None,
            height=camera.height if camera else None,
            fps=camera.fps if camera else None,
            restarts=self._camera.restarts if self._camera else 0,
            **self._trouble(state),
            audio_level_db=None if level is None else round(level, 1),
            silent_s=None if silent is None else round(silent, 1),
        )

    def _trouble(self, state: SourceState) -> dict[str, Any]:
        """What is wrong with the camera and when Knoten tries again, while it is not on air
        after a failure (the host reads this instead of a bare "lost")."""
        camera = self._camera
        if camera is None or state not in ("lost", "starting") or camera.last_error is None:
            return {}
        url = self.plan.camera.url
        retry = camera.retry_in_s
        return {
            # Credentials are left out entirely (not even "****@"): the host knows them.
            "address": mask_url(url).replace(f"{MASK}@", "") if url else self.plan.camera.kind,
            "problem": camera.last_error,
            "retry_in_s": None if retry is None else round(retry, 1),
        }

    def outputs_status(self) -> list[OutputStatus]:
        result = []
        for output in self._outputs:
            sup = output.supervisor
            progress = sup.progress
            result.append(
                OutputStatus(
                    name=output.name,
                    kind=output.kind,
                    partner_id=output.partner_id,
                    profile=output.profile,
                    state=_OUTPUT_STATES[sup.state],
                    bitrate_kbps=progress.bitrate_kbps if progress else None,
                    fps=progress.fps if progress else None,
                    uptime_s=round(sup.uptime_s, 1) if sup.uptime_s is not None else None,
                    restarts=sup.restarts,
                    last_error=sup.last_error,
                    reduced=self._partners_reduced
                    and output.profile in self._hubs
                    and not profile_for(output.profile).audio_only,
                )
            )
        return result

    def hls_directory(self, partner_id: int) -> Path | None:
        """Where this session writes the playlist of ``partner_id``, if that partner pulls HLS
        from it."""
        for partner in self.plan.partners:
            if partner.partner_id == partner_id and partner.kind == "hls":
                return partner_dir(self.plan.hls_dir, partner_id)
        return None

    def public_hls_directory(self) -> Path | None:
        """Where this session writes the public HLS rendition, if it has one."""
        return public_dir(self.plan.hls_dir) if self.plan.public_hls else None

    @property
    def switches(self) -> int:
        """How often the master feed changed between camera and slate."""
        return self._switch.switches

    def supervisor(self, part: str) -> FfmpegSupervisor | None:
        name = self._name(part)
        return next((s for s in self._supervisors if s.name == name), None)


def profile_copy(profile: VideoProfile, **changes: Any) -> VideoProfile:
    return replace(profile, **changes)
