"""The load shedding policy on its own, with a fake clock: escalation only after sustained load
(viewers refused, their limit lowered, then the partner-only profiles reduced), recovery one
step at a time, the lowered limit and the reduced profiles kept until the load stayed normal."""

from __future__ import annotations

import pytest

from streaming.ffmpeg.spec import AUDIO_ONLY, PROFILES
from streaming.shedding import LoadSample, ShedLevel, ShedPolicy, reduced_profile

HIGH, LOW = 0.25, 0.01  # event loop lag in seconds


def run(policy: ShedPolicy, lag: float, seconds: float, start: float, viewers: int = 40) -> float:
    """Feed a sample every 0.5 s for ``seconds``; returns the time after the last one."""
    t = start
    while t < start + seconds:
        policy.observe(LoadSample(t, lag), viewers)
        t += 0.5
    return t


def test_a_spike_changes_nothing() -> None:
    policy = ShedPolicy()
    t = run(policy, HIGH, 4.0, 0.0)  # shorter than escalate_after_s
    run(policy, LOW, 1.0, t)
    assert policy.level is ShedLevel.NORMAL and policy.admits_viewer(40)


def test_sustained_load_escalates_then_recovers_by_itself() -> None:
    policy = ShedPolicy(escalate_after_s=5, recover_after_s=15)
    t = run(policy, HIGH, 5.5, 0.0)
    assert policy.level is ShedLevel.REFUSE_VIEWERS
    assert not policy.admits_viewer(40) and "event loop 250 ms late" in (policy.reason or "")
    t = run(policy, HIGH, 5.5, t, viewers=40)
    assert policy.level is ShedLevel.LOWER_VIEWER_LIMIT and policy.viewer_limit == 30
    assert not policy.partners_reduced, "viewers go before the partners get less"
    t = run(policy, HIGH, 5.5, t)
    assert policy.level is ShedLevel.REDUCE_PARTNER_PROFILES and policy.partners_reduced
    t = run(policy, HIGH, 30, t)
    assert policy.level is ShedLevel.REDUCE_PARTNER_PROFILES, "no level sheds a partner"
    for level in (ShedLevel.LOWER_VIEWER_LIMIT, ShedLevel.REFUSE_VIEWERS, ShedLevel.NORMAL):
        t = run(policy, LOW, 15.5, t)
        assert policy.level is level
        assert policy.partners_reduced, "partner profiles stay reduced on the way down"
    assert policy.reason is None
    # Back to normal, but the lowered limit and profiles hold for one more quiet period.
    assert policy.admits_viewer(29) and not policy.admits_viewer(30)
    run(policy, LOW, 15.5, t)
    assert policy.viewer_limit is None and policy.admits_viewer(500)
    assert not policy.partners_reduced


def test_load_during_recovery_restarts_the_quiet_period() -> None:
    policy = ShedPolicy(escalate_after_s=5, recover_after_s=15)
    t = run(policy, HIGH, 5.5, 0.0)
    t = run(policy, LOW, 10, t)
    t = run(policy, HIGH, 1, t)  # a spike: the quiet period starts again
    t = run(policy, LOW, 10, t)
    assert policy.level is ShedLevel.REFUSE_VIEWERS
    run(policy, LOW, 6, t)
    assert policy.level is ShedLevel.NORMAL


@pytest.mark.parametrize(
    ("lag", "speed", "why"),
    [
        (0.05, None, None),
        (0.15, None, "event loop 150 ms late"),
        (0.01, 0.95, None),
        (0.01, 0.8, "FFmpeg at 0.80× real time"),
        (0.01, 1.3, None),
    ],
)
def test_what_counts_as_overloaded(lag: float, speed: float | None, why: str | None) -> None:
    assert LoadSample(0.0, lag, speed).overloaded(0.1, 0.9) == why


def test_a_reduced_profile_is_the_next_smaller_picture_and_the_smallest_at_half_the_rate() -> None:
    for name, (width, height, fps) in {
        "1080p": (1280, 720, 30),
        "720p": (854, 480, 30),
        "480p": (854, 480, 15),
    }.items():
        reduced = reduced_profile(PROFILES[name])
        assert (reduced.name, reduced.width, reduced.height, reduced.fps) == (
            name, width, height, fps
        )  # fmt: skip
        assert reduced.video_kbps < PROFILES[name].video_kbps
        assert reduced.audio_kbps <= PROFILES[name].audio_kbps
    assert reduced_profile(AUDIO_ONLY) == AUDIO_ONLY
