"""How long a date's conversation is kept: as long as a recording of the date exists (it goes
with the recording, under the archive's retention), and ``retention_days`` after the date's end
when there is none. :func:`dates_to_purge` is the pure rule; :class:`ConversationRetention`
applies it daily (a :class:`~foundation.periodic.PeriodicJob`), and at once when a recording is
deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from foundation.clock import Clock
from foundation.periodic import DAY_S, PeriodicJob
from knoten.conversation.hub import ConversationHub
from knoten.conversation.store import ConversationStore
from recordings.catalog import Catalog, Recording, RecordingFilter
from schedules.errors import OccurrenceNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DateFacts:
    occurrence_id: int
    end_utc: datetime | None  # None: the date no longer exists (its seminar was deleted)
    recorded: bool  # a recording of the date exists


def dates_to_purge(dates: Iterable[DateFacts], now: datetime, days: int) -> list[int]:
    """The dates whose conversation goes now. Pure."""
    cutoff = now - timedelta(days=days)
    return [
        d.occurrence_id
        for d in dates
        if not d.recorded and (d.end_utc is None or d.end_utc < cutoff)
    ]


class ConversationRetention:
    def __init__(
        self,
        hub: ConversationHub,
        store: ConversationStore,
        catalog: Catalog,
        date_end: Callable[[int], Awaitable[datetime]],
        clock: Clock,
        *,
        days: int = 30,
        interval_s: float = DAY_S,
        first_run_s: float = 90.0,
    ) -> None:
        self._hub = hub
        self._store = store
        self._catalog = catalog
        self._date_end = date_end
        self._clock = clock
        self.days = days
        self._job = PeriodicJob(
            "conversation-retention", self._daily, interval_s=interval_s, first_run_s=first_run_s
        )
        self._lock = asyncio.Lock()

    async def _facts(self, occurrence_id: int) -> DateFacts:
        try:
            end: datetime | None = await self._date_end(occurrence_id)
        except OccurrenceNotFound:
            end = None
        recorded = bool(await self._catalog.list(RecordingFilter(occurrence_id=occurrence_id)))
        return DateFacts(occurrence_id, end, recorded)

    async def run_once(self) -> list[int]:
        """Apply the rule now; the dates whose conversation was deleted."""
        async with self._lock:
            facts = [
                await self._facts(oid) for oid in await self._store.occurrences_with_messages()
            ]
            purged = dates_to_purge(facts, self._clock.now(), self.days)
            for occurrence_id in purged:
                await self._hub.purge(occurrence_id)
            return purged

    async def recording_deleted(self, recording: Recording) -> None:
        """The archive deleted a recording: its date's conversation goes with it unless another
        recording of that date remains."""
        async with self._lock:
            if not await self._catalog.list(RecordingFilter(occurrence_id=recording.occurrence_id)):
                await self._hub.purge(recording.occurrence_id)

    async def _daily(self) -> None:
        purged = await self.run_once()
        if purged:
            log.info("conversation retention: %d date(s) purged", len(purged))

    def start(self) -> None:
        self._job.start()

    async def aclose(self) -> None:
        await self._job.aclose()
