"""Public HLS addresses: one signed address per date, made for HTTP caches and CDNs.

The address is ``/hls/<occurrence id>.<expiry>.<signature>/index.m3u8``: the date's id and the
instant the address stops working (the date's end plus lead-out plus the join grace), signed
with the join secret for a purpose of its own, so it admits nothing but this rendition of this
date. It sits in the *path*, not in a query string, and it is the same for every viewer: a
cache keys on the path, so one entry per playlist and per segment serves the whole audience,
and the segments' relative names resolve below the same signed path without any rewriting. It
is deterministic for the date's end, so the API and the dashboard show the same address each
time; moving the date's end gives a new one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from foundation.signed_tokens import SignedTokenError, SignedTokens
from schedules.store import OccurrenceRow
from streaming.live.hls import PLAYLIST

PURPOSE = "knoten-public-hls:v1"


class PublicHlsExpired(Exception):
    """A genuine address whose expiry has passed (the date is over)."""


class PublicHlsLinks:
    """Issues and reads the public HLS addresses of dates with one secret."""

    def __init__(self, secret: bytes, public_url: str, grace: timedelta) -> None:
        self._tokens = SignedTokens(
            secret, PURPOSE, signature_bytes=16, min_secret_bytes=16, max_digits=12
        )
        self._public_url = public_url
        self._grace = grace

    def token(self, row: OccurrenceRow) -> str:
        closes = row.end_utc + timedelta(minutes=row.lead_out_minutes) + self._grace
        return self._tokens.issue(row.id, int(closes.timestamp()))

    def url(self, row: OccurrenceRow) -> str:
        """The playlist address of ``row``'s public rendition."""
        return f"{self._public_url}/hls/{self.token(row)}/{PLAYLIST}"

    def occurrence(self, token: str, now: datetime) -> int | None:
        """The date ``token`` names; None for anything this service did not sign for this use.

        Raises :class:`PublicHlsExpired` for a genuine address past its expiry (checked after
        the signature, so a forged address learns nothing)."""
        try:
            occurrence_id, expires = self._tokens.read(token)
        except SignedTokenError:
            return None
        if now.timestamp() > expires:
            raise PublicHlsExpired(token)
        return occurrence_id

    def __repr__(self) -> str:  # never the secret
        return "PublicHlsLinks(<secret>)"
