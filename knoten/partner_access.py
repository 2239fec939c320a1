"""Schedule-bound partner access: per-date HLS pull addresses and a per-partner calendar feed.

A partner account sees, for each upcoming date it is invited to, the exact pull address
``/live/{date}/{partner}/index.m3u8?token=…``. That token is made for this partner and this date
only (signed with the join secret for a purpose that names the partner) and admits from the
date's lead-in (or its early manual start) until its end plus lead-out plus a grace of 15
minutes; before and after, the pull answers 401. The partner's own HLS token keeps working as
before (it only ever reaches a date that is on air). The partner's calendar feed
``/calendar/partners/{id}.ics?token=…`` lists its dates with their pull addresses; its token
(same secret, another purpose) does not expire by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from foundation.signed_tokens import SignedTokenError, SignedTokens
from schedules.store import OccurrenceRow

GRACE = timedelta(minutes=15)
#: Feed tokens do not expire by themselves (2100-01-01); replacing the join secret revokes them.
NEVER = 4_102_444_800


def _tokens(secret: bytes, purpose: str) -> SignedTokens:
    return SignedTokens(secret, purpose, signature_bytes=16, min_secret_bytes=16, max_digits=12)


def is_date_token(token: str) -> bool:
    """Date tokens are ``id.expiry.signature``; a partner's own HLS token has no dot."""
    return token.count(".") == 2


class PartnerAccess:
    def __init__(
        self,
        secret: bytes,
        public_url: str,
        now: Callable[[], datetime],
        grace: timedelta = GRACE,
    ) -> None:
        self._secret = secret
        self._public_url = public_url
        self._feeds = _tokens(secret, "knoten-partner-feed:v1")
        self._grace = grace
        self.now = now

    def window(self, row: OccurrenceRow) -> tuple[datetime, datetime]:
        """From the lead-in (or an earlier manual start) to the end + lead-out + grace."""
        opens = row.start_utc - timedelta(minutes=row.lead_in_minutes)
        if row.actual_start_utc is not None:
            opens = min(opens, row.actual_start_utc)
        closes = row.end_utc + timedelta(minutes=row.lead_out_minutes) + self._grace
        return opens, closes

    def _dates(self, partner_id: int) -> SignedTokens:
        return _tokens(self._secret, f"knoten-partner-date:v1:{partner_id}")

    def pull_url(self, partner_id: int, row: OccurrenceRow) -> str:
        _, closes = self.window(row)
        token = self._dates(partner_id).issue(row.id, int(closes.timestamp()))
        return f"{self._public_url}/live/{row.id}/{partner_id}/index.m3u8?token={token}"

    def signed_for(self, token: str, partner_id: int, occurrence_id: int) -> bool:
        """True when ``token`` is a date token of this partner for this date (any time)."""
        try:
            subject, _ = self._dates(partner_id).read(token)
        except SignedTokenError:
            return False
        return subject == occurrence_id

    def admits(self, partner_id: int, row: OccurrenceRow) -> bool:
        """Whether a date token of ``partner_id`` for ``row`` admits now."""
        opens, closes = self.window(row)
        return partner_id in row.partner_ids and opens <= self.now() <= closes

    def feed_url(self, partner_id: int) -> str:
        token = self._feeds.issue(partner_id, NEVER)
        return f"{self._public_url}/calendar/partners/{partner_id}.ics?token={token}"

    def admits_feed(self, token: str | None, partner_id: int) -> bool:
        try:
            subject, _ = self._feeds.read(token or "")
        except SignedTokenError:
            return False
        return subject == partner_id
