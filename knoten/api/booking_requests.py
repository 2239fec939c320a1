"""Requests: a host's booking waits for the library's confirmation.

A host of a provider that may not book directly ("darf direkt buchen" off, the default) books
as usual, but the seminar's dates are ``requested``: they hold the room (the conflict rules
apply, the calendar shows "angefragt") and never go live. Staff confirm (the dates become
``scheduled``) or decline (the request is deleted and the room is free again). A requested
seminar is not changed; the host withdraws it (DELETE) and asks again. Requests must end (a
COUNT or UNTIL in the rule): an open-ended series would outgrow what was asked for.
"""

from __future__ import annotations

from aiohttp import web

from knoten.accounts.principal import principal_of
from knoten.http.errors import ApiError
from knoten.http.openapi import Operation
from knoten.http.requests import json_response, path_int
from knoten.keys import PROVIDERS, SCHEDULE
from schedules.domain import OccurrenceState
from schedules.service import SeminarDetail


def is_requested(detail: SeminarDetail) -> bool:
    return any(o.state is OccurrenceState.REQUESTED for o in detail.occurrences)


async def needs_confirmation(
    request: web.Request, owner: int | None, recurrence: str | None
) -> bool:
    """True when the booking is a request (a host whose provider may not book directly)."""
    principal = principal_of(request)
    if principal.is_staff or owner is None:
        return False
    if (await request.app[PROVIDERS].get(owner)).direct_booking:
        return False
    rule = (recurrence or "").upper()
    if rule and "COUNT=" not in rule and "UNTIL=" not in rule:
        raise ApiError(422, "request_needs_end",
                       "a request needs an end: COUNT or UNTIL in the rule",
                       field="recurrence")  # fmt: skip
    return True


async def refuse_change_of_request(request: web.Request, seminar_id: int) -> None:
    if is_requested(await request.app[SCHEDULE].seminar(seminar_id)):
        raise ApiError(
            409,
            "seminar_requested",
            "a requested seminar is confirmed or declined first (or withdrawn)",
        )


async def confirm(request: web.Request) -> web.Response:
    # The seminars module shapes the answer; imported here to keep the import graph one-way.
    from knoten.api.seminars import seminar_out

    seminar_id = path_int(request, "seminar_id")
    if not is_requested(await request.app[SCHEDULE].seminar(seminar_id)):
        raise ApiError(409, "not_requested", "this seminar is not a request")
    detail = await request.app[SCHEDULE].confirm_seminar(seminar_id)
    return json_response(await seminar_out(request, detail))


async def decline(request: web.Request) -> web.Response:
    seminar_id = path_int(request, "seminar_id")
    if not is_requested(await request.app[SCHEDULE].seminar(seminar_id)):
        raise ApiError(409, "not_requested", "this seminar is not a request")
    await request.app[SCHEDULE].delete_seminar(seminar_id)
    return web.Response(status=204)


OPERATIONS = (
    Operation("POST", "/api/v1/seminars/{seminar_id}/confirm", confirm,
              "Confirm a host's requested seminar: its dates become scheduled (staff)",
              "seminars", errors=(404, 409)),
    Operation("POST", "/api/v1/seminars/{seminar_id}/decline", decline,
              "Decline a host's requested seminar: it is deleted, the room is free (staff)",
              "seminars", status=204, errors=(404, 409)),
)  # fmt: skip
