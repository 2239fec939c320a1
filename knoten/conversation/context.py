"""What a conversation needs to know about its date, read from the schedule and the partners."""

from __future__ import annotations

from knoten.conversation.hub import DateContext
from schedules.domain import OccurrenceState
from schedules.service import ScheduleService
from streaming.partners import PartnerRepository


class DateContexts:
    """``await contexts(occurrence_id)`` → :class:`DateContext` (OccurrenceNotFound if none)."""

    def __init__(self, schedule: ScheduleService, partners: PartnerRepository) -> None:
        self._schedule = schedule
        self._partners = partners

    async def __call__(self, occurrence_id: int) -> DateContext:
        row = await self._schedule.occurrence(occurrence_id)
        names: tuple[str, ...] = ()
        if row.partner_ids:
            names = tuple(
                p.name for p in await self._partners.list() if p.id in row.partner_ids and p.enabled
            )
        return DateContext(
            occurrence_id=row.id,
            title=row.title,
            start_utc=row.start_utc,
            timezone=row.timezone,
            recorded=row.record,
            partners=names,
            open=row.state in (OccurrenceState.SCHEDULED, OccurrenceState.LIVE),
        )
