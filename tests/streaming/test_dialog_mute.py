"""The host mutes a speaker: still on stage and connected, but the listeners' slot falls silent
and the bus gets nothing more of them (and forgets what it held); unmuted, they are heard again
on the same peer, without a new offer."""

from __future__ import annotations

import asyncio

import av
import pytest

from streaming.dialog import ListenerKey
from tests.streaming.test_dialog_stage import OCCURRENCE, Room, room, slot_of, tone, until

pytestmark = pytest.mark.timeout(60)
__all__ = ["room", "tone"]  # the fixtures this module uses from the stage tests


async def test_a_muted_speaker_is_heard_by_nobody_until_unmuted(
    room: Room, tone: list[av.Packet]
) -> None:
    room.stage.set_stage(OCCURRENCE, {5})
    _, display = await room.listen(ListenerKey.display())
    await room.speak(5, tone)
    slot = slot_of(room, 5)
    await until(lambda: display.packets[slot] > 20 and len(room.pcm) > 10)

    room.stage.set_muted(OCCURRENCE, {5})
    assert room.ended == [(OCCURRENCE, 5)]  # the bus drops what it holds of them at once
    await asyncio.sleep(0.3)  # packets already on the way
    packets, frames = display.packets[slot], len(room.pcm)
    await asyncio.sleep(1.0)
    assert display.packets[slot] == packets and len(room.pcm) == frames
    assert room.stage.snapshot(OCCURRENCE).slots[slot] == 5  # still on stage, same slot

    room.stage.set_muted(OCCURRENCE, set())
    await until(lambda: display.packets[slot] > packets + 20 and len(room.pcm) > frames + 10)
