"""Load shedding policy: when the machine cannot keep up, what to give up first.

Pure logic, no I/O: fed with samples of how late the event loop is and how fast the slowest
FFmpeg encodes (``speed`` < 1.0 is behind real time), it keeps a level that protects the
recording first, then the partners, and sheds viewers:

* ``NORMAL`` — nothing shed (except a lowered viewer limit still in force, see below).
* ``REFUSE_VIEWERS`` — new viewers are refused (503 + Retry-After); those watching stay.
* ``LOWER_VIEWER_LIMIT`` — also the viewer limit is lowered to ``LOWERED_SHARE`` of the viewers
  watching when the level was reached. It stays lowered on the way back down, until the load
  has been normal for another ``recover_after_s`` at ``NORMAL``: a machine that was overloaded
  by its audience does not invite the same audience back at once.
* ``REDUCE_PARTNER_PROFILES`` — also the encoders that exist only for partners (a partner
  profile other than the master's) encode a lower profile (:func:`reduced_profile`). Partners on
  the master's profile share the recording's encode and keep it. Like the viewer limit, the
  profiles come back only after ``recover_after_s`` at ``NORMAL``.

A level is reached after the load stayed high for ``escalate_after_s`` at the level below, and
left one step at a time after it stayed normal for ``recover_after_s`` — short spikes (a GC
pause, a keyframe burst) change nothing, and recovery needs no one. The recording and the
partners' connections are never shed by this policy; a partner on its own profile gets less
picture before it would get none.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from streaming.ffmpeg.spec import PROFILES, VideoProfile

LOWERED_SHARE = 0.75


class ShedLevel(enum.IntEnum):
    NORMAL = 0
    REFUSE_VIEWERS = 1
    LOWER_VIEWER_LIMIT = 2
    REDUCE_PARTNER_PROFILES = 3


def reduced_profile(profile: VideoProfile) -> VideoProfile:
    """What a partner-only encoder of ``profile`` encodes while partner profiles are reduced:
    the next smaller picture of ``PROFILES`` (its size and rates, the name kept: the partners are
    the same); the smallest one at half the frame rate and 60 % of its bit rate. Audio-only is
    already as cheap as it gets."""
    if profile.audio_only:
        return profile
    smaller = sorted(
        (p for p in PROFILES.values() if p.height < profile.height), key=lambda p: p.height
    )
    if smaller:
        lower = smaller[-1]
        return replace(lower, name=profile.name, audio_kbps=min(profile.audio_kbps,
                                                                lower.audio_kbps))  # fmt: skip
    return replace(profile, fps=max(1, profile.fps // 2),
                   video_kbps=max(1, profile.video_kbps * 3 // 5))  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoadSample:
    at: float  # monotonic seconds
    loop_lag_s: float  # how late a timer of the event loop fired
    ffmpeg_speed: float | None = None  # slowest running encoder; None: none runs

    def overloaded(self, lag_limit_s: float, min_speed: float) -> str | None:
        """Why this sample is too much, or None."""
        if self.loop_lag_s > lag_limit_s:
            return f"event loop {self.loop_lag_s * 1000:.0f} ms late"
        if self.ffmpeg_speed is not None and self.ffmpeg_speed < min_speed:
            return f"FFmpeg at {self.ffmpeg_speed:.2f}× real time"
        return None


@dataclass
class ShedPolicy:
    lag_limit_s: float = 0.1
    min_speed: float = 0.9  # measured over 10 s windows: behind real time by more than 10 %
    escalate_after_s: float = 5.0
    recover_after_s: float = 15.0
    level: ShedLevel = ShedLevel.NORMAL
    reason: str | None = None
    viewer_limit: int | None = None  # the lowered limit at LOWER_VIEWER_LIMIT
    partners_reduced: bool = False  # partner-only encoders on reduced_profile()
    _since: float | None = None  # start of the current run of high (or normal) samples
    _high: bool = False

    def observe(self, sample: LoadSample, viewers: int) -> ShedLevel:
        """Take one sample (``viewers``: watching now); returns the level."""
        why = sample.overloaded(self.lag_limit_s, self.min_speed)
        high = why is not None
        if high != self._high or self._since is None:
            self._high, self._since = high, sample.at
        lasted = sample.at - self._since
        if high:
            self.reason = why
            if lasted >= self.escalate_after_s and self.level < max(ShedLevel):
                self._step(ShedLevel(self.level + 1), viewers)
                self._since = sample.at
        elif lasted >= self.recover_after_s:
            if self.level > ShedLevel.NORMAL:
                self.level = ShedLevel(self.level - 1)
                self._since = sample.at
            elif self.viewer_limit is not None or self.partners_reduced:
                # Normal for long enough: full partner profiles and the full audience again.
                self.viewer_limit, self.partners_reduced = None, False
                self._since = sample.at
            if self.level is ShedLevel.NORMAL:
                self.reason = None
        return self.level

    def _step(self, level: ShedLevel, viewers: int) -> None:
        self.level = level
        if level >= ShedLevel.LOWER_VIEWER_LIMIT and self.viewer_limit is None:
            self.viewer_limit = max(1, int(viewers * LOWERED_SHARE))
        if level >= ShedLevel.REDUCE_PARTNER_PROFILES:
            self.partners_reduced = True

    def admits_viewer(self, viewers: int) -> bool:
        """May one more viewer join now (``viewers`` watching)?"""
        if self.level > ShedLevel.NORMAL:
            return False
        return self.viewer_limit is None or viewers < self.viewer_limit
