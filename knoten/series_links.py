"""One join link per seminar: it opens the current date of a course, or the next one.

The link is ``/join/series/{seminar id}?t=<token>``; the token is signed with the join secret
for its own purpose (a series token never opens a single date, nor the other way round) and
does not change when dates are added, moved or cancelled. Opening it redirects to the per-date
join link (with that date's own token) of the date that is on now (from its lead-in to its end
plus lead-out), else of the next one; after the last date, to the last one, whose page says it
has ended. Cancelled dates are skipped. Per-date links keep working as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from foundation.signed_tokens import SignedTokenError, SignedTokens
from schedules.store import OccurrenceRow

#: Series tokens do not expire by themselves (2100-01-01): the dates' own links do.
NEVER = 4_102_444_800


def pick(rows: Sequence[OccurrenceRow], now: datetime) -> OccurrenceRow | None:
    """The date a series link opens at ``now``: on now, else the next, else the last."""
    dates = sorted((r for r in rows if r.state != "cancelled"), key=lambda r: r.start_utc)
    for row in dates:
        if row.end_utc + timedelta(minutes=row.lead_out_minutes) > now:
            return row  # the first that has not ended: on now, or else the next one
    if dates:
        return dates[-1]
    return max(rows, key=lambda r: r.start_utc, default=None)


class SeriesLinks:
    def __init__(self, secret: bytes, public_url: str, now: Callable[[], datetime]) -> None:
        self.now = now
        self._tokens = SignedTokens(secret, "knoten-join-series:v1", signature_bytes=16,
                                    min_secret_bytes=16, max_digits=12)  # fmt: skip
        self._public_url = public_url

    def url(self, seminar_id: int) -> str:
        return (
            f"{self._public_url}/join/series/{seminar_id}?t={self._tokens.issue(seminar_id, NEVER)}"
        )

    def admits(self, token: str | None, seminar_id: int) -> bool:
        try:
            subject, _ = self._tokens.read(token or "")
        except SignedTokenError:
            return False
        return subject == seminar_id
