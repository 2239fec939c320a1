"""Join links: the address of an occurrence's join page, with the token that admits its holder.

A link is valid until the occurrence's end plus its lead-out and the configured grace; the token
is deterministic for that end (see :mod:`knoten.join`), so the link stays the same each time the
API, the dashboard or its QR code shows it. Public listings (the iCalendar feed) show the page
without a token.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from knoten.join import JoinTokens
from schedules.store import OccurrenceRow


class JoinLinks:
    def __init__(self, tokens: JoinTokens, public_url: str, grace: timedelta) -> None:
        self._tokens = tokens
        self._public_url = public_url
        self._grace = grace

    def token(self, row: OccurrenceRow) -> str:
        """The token of ``row``'s join link: valid until its end (+ lead-out and grace)."""
        grace = timedelta(minutes=row.lead_out_minutes) + self._grace
        return self._tokens.issue(row.id, row.end_utc, grace)

    def page(self, occurrence_id: int) -> str:
        """The join page without a token (it says how to get a link)."""
        return f"{self._public_url}/join/{occurrence_id}"

    def url(self, row: OccurrenceRow) -> str:
        """The join link that admits its holder."""
        return f"{self.page(row.id)}?t={self.token(row)}"

    def verify(self, token: str | None, occurrence_id: int, now: datetime) -> None:
        """Raise :class:`knoten.join.JoinTokenError` unless ``token`` admits now."""
        self._tokens.verify(token, occurrence_id, now)
