"""Dialog: remote speakers' media. Speakers on stage publish their microphone over WebRTC;
their Opus packets are forwarded as packets to everyone who must hear them (room display,
host, the other speakers — never back to the speaker), and decoded once to PCM for the
remote-audio bus. :class:`StageMedia` owns every publisher and listener; see docs/dialog.md.
"""

from streaming.dialog.errors import (
    DialogError,
    NotOnStage,
    ResourceNotFound,
    StageClosed,
    StageFull,
    TooManyListeners,
)
from streaming.dialog.listener import MAX_STAGE, VIDEO_SLOTS, ListenerKey
from streaming.dialog.pcm import PCM_FRAME_BYTES
from streaming.dialog.stage import ListenerInfo, PublisherInfo, StageMedia, StageSnapshot

__all__ = [
    "MAX_STAGE",
    "PCM_FRAME_BYTES",
    "VIDEO_SLOTS",
    "DialogError",
    "ListenerInfo",
    "ListenerKey",
    "NotOnStage",
    "PublisherInfo",
    "ResourceNotFound",
    "StageClosed",
    "StageFull",
    "StageMedia",
    "StageSnapshot",
    "TooManyListeners",
]
