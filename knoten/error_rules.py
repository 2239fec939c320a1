"""Which typed domain error becomes which HTTP status: the one table for the whole API."""

from __future__ import annotations

from knoten.accounts.errors import (
    AccountNotFound,
    AccountTaken,
    InvalidAccount,
    LastStaffAccount,
    ProviderInUse,
    ProviderNameTaken,
    ProviderNotFound,
)
from knoten.conversation.rules import ChatForbidden, ChatRefused, ChatTargetNotFound
from knoten.http.errors import DomainErrorRule
from recordings.errors import (
    InvalidShareToken,
    RecordingBusy,
    RecordingNotAvailable,
    RecordingNotFound,
    UnsafePath,
)
from schedules.errors import (
    InvalidOccurrenceState,
    OccurrenceNotFound,
    RoomNotFound,
    ScheduleValidationError,
    SeminarConflict,
    SeminarNotFound,
)
from schedules.rooms import RoomInUse, RoomNameTaken
from streaming.dialog import (
    NotOnStage,
    ResourceNotFound,
    StageClosed,
    StageFull,
    TooManyListeners,
)
from streaming.errors import (
    InvalidMediaUrl,
    InvalidPartner,
    InvalidRoomSource,
    PartnerNameTaken,
    PartnerNotFound,
)
from streaming.webrtc import InvalidOffer, NotLive, ViewerNotFound
from streaming.webrtc.errors import PublisherPresent

DOMAIN_ERROR_RULES: tuple[DomainErrorRule, ...] = (
    (RoomNotFound, 404, "not_found"),
    (SeminarNotFound, 404, "not_found"),
    (OccurrenceNotFound, 404, "not_found"),
    (PartnerNotFound, 404, "not_found"),
    (RecordingNotFound, 404, "not_found"),
    (InvalidShareToken, 404, "not_found"),
    (RecordingBusy, 409, "conflict"),
    (RecordingNotAvailable, 409, "conflict"),
    (UnsafePath, 422, "validation_error"),
    (SeminarConflict, 409, "conflict"),
    (InvalidOccurrenceState, 409, "conflict"),
    (RoomNameTaken, 409, "conflict"),
    (RoomInUse, 409, "conflict"),
    (PartnerNameTaken, 409, "conflict"),
    (ScheduleValidationError, 422, "validation_error"),
    (InvalidMediaUrl, 422, "validation_error"),
    (InvalidRoomSource, 422, "validation_error"),
    (InvalidPartner, 422, "validation_error"),
    (InvalidOffer, 400, "invalid_offer"),
    (NotLive, 409, "not_live"),
    (ViewerNotFound, 404, "not_found"),
    (PublisherPresent, 409, "publisher_present"),
    (NotOnStage, 403, "forbidden"),
    (StageClosed, 409, "conflict"),
    (StageFull, 409, "conflict"),
    (TooManyListeners, 503, "busy"),
    (ResourceNotFound, 404, "not_found"),
    (ChatTargetNotFound, 404, "not_found"),
    (ChatForbidden, 403, "forbidden"),
    (ChatRefused, 409, "conflict"),
    (AccountNotFound, 404, "not_found"),
    (ProviderNotFound, 404, "not_found"),
    (AccountTaken, 409, "conflict"),
    (ProviderNameTaken, 409, "conflict"),
    (ProviderInUse, 409, "conflict"),
    (LastStaffAccount, 409, "conflict"),
    (InvalidAccount, 422, "validation_error"),
)
