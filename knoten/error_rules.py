"""Which typed domain error becomes which HTTP status: the one table for the whole API."""

from __future__ import annotations

from knoten.http.errors import DomainErrorRule
from schedules.errors import (
    InvalidOccurrenceState,
    OccurrenceNotFound,
    RoomNotFound,
    ScheduleValidationError,
    SeminarConflict,
    SeminarNotFound,
)
from schedules.rooms import RoomInUse, RoomNameTaken
from streaming.errors import InvalidMediaUrl

DOMAIN_ERROR_RULES: tuple[DomainErrorRule, ...] = (
    (RoomNotFound, 404, "not_found"),
    (SeminarNotFound, 404, "not_found"),
    (OccurrenceNotFound, 404, "not_found"),
    (SeminarConflict, 409, "conflict"),
    (InvalidOccurrenceState, 409, "conflict"),
    (RoomNameTaken, 409, "conflict"),
    (RoomInUse, 409, "conflict"),
    (ScheduleValidationError, 422, "validation_error"),
    (InvalidMediaUrl, 422, "validation_error"),
)
