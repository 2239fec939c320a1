"""Both viewer registries are the one interface the service uses, with the same signatures,
and the status they return reads as the admin API has always shown it."""

from __future__ import annotations

import inspect

import pytest

from streaming.webrtc import FeedStats, OccurrenceStats, ViewerRegistry, WebrtcRegistry
from streaming.webrtc.shards import ShardedRegistry

MEMBERS = sorted(
    name for name in vars(ViewerRegistry) if not name.startswith("_") and name not in ("options",)
)


@pytest.mark.parametrize("implementation", [WebrtcRegistry, ShardedRegistry])
@pytest.mark.parametrize("name", MEMBERS)
def test_same_signature_as_the_interface(implementation: type, name: str) -> None:
    wanted = inspect.getattr_static(ViewerRegistry, name)
    found = inspect.getattr_static(implementation, name)
    if isinstance(wanted, property):
        assert isinstance(found, property)
        return
    assert inspect.signature(found) == inspect.signature(wanted)
    assert inspect.iscoroutinefunction(found) == inspect.iscoroutinefunction(wanted)


def test_the_stats_read_as_before() -> None:
    assert OccurrenceStats(live=False).as_dict() == {"live": False, "viewers": 0}
    live = OccurrenceStats(True, 2, FeedStats(1, 30, 25, 1000, 1), 55, 1000, 0, 0.06, 2)
    assert live.as_dict() == {
        "live": True,
        "viewers": 2,
        "feed": {
            "connections": 1,
            "video_packets": 30,
            "audio_packets": 25,
            "bytes": 1000,
            "keyframes": 1,
        },
        "packets": 55,
        "bytes": 1000,
        "dropped": 0,
        "time_to_first_frame_s_max": 0.06,
        "workers": 2,
    }
    assert "workers" not in OccurrenceStats(True, 1).as_dict()  # in-process: as before
    assert OccurrenceStats.from_dict(live.as_dict()) == live
