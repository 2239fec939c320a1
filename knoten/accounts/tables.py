"""SQLAlchemy Core tables of accounts and providers, with their own ``metadata`` (migration 0008).

``seminar_owners`` maps a seminar to its provider; the schedules package knows nothing of
providers. A seminar without a row belongs to the default provider ("Bibliothek").
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, MetaData, String, Table, Text

from foundation.sqltypes import Id, UtcDateTime

metadata = MetaData()

providers = Table(
    "providers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("contact", Text, nullable=False, default=""),
    Column("is_default", Boolean, nullable=False, default=False),
    # "darf direkt buchen": its hosts' bookings are scheduled at once, not requested (0011).
    Column("direct_booking", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(120), nullable=False),
    Column("role", String(16), nullable=False),
    Column("provider_id", Id, ForeignKey("providers.id"), nullable=True),
    Column("partner_id", Id, nullable=True),
    # argon2id encoded hash (parameters and salt included); the password is never stored.
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # sha256 of the cookie value: a copy of the database holds no usable cookie.
    Column("digest", String(64), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
)

seminar_owners = Table(
    "seminar_owners",
    metadata,
    Column("seminar_id", Id, primary_key=True),
    Column("provider_id", Id, ForeignKey("providers.id"), nullable=False),
)
