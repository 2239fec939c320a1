"""Errors of the dialog's media (speakers publishing, listeners hearing them); the web layer
maps each to one HTTP status. Offers that cannot be answered raise
:class:`streaming.webrtc.errors.InvalidOffer` (400), as for viewers."""

from __future__ import annotations

from streaming.errors import StreamingError


class DialogError(StreamingError):
    """Base class of the errors below."""

    code = "dialog_error"


class StageClosed(DialogError):
    """The occurrence has no stage (yet, or any more): nobody may publish (409)."""

    code = "stage_closed"


class NotOnStage(DialogError):
    """This speaker is not in the stage the host set: they may not publish (403)."""

    code = "not_on_stage"


class StageFull(DialogError):
    """Every speaker slot is taken (409); someone has to leave the stage first."""

    code = "stage_full"


class TooManyListeners(DialogError):
    """The occurrence has as many listening peers as it allows (503)."""

    code = "too_many_listeners"


class ResourceNotFound(DialogError):
    """No such publisher or listener (404): already gone, or never existed."""

    code = "dialog_resource_not_found"
