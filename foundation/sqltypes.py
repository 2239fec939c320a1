"""SQLAlchemy column types shared by the packages' tables.

Owns :class:`UtcDateTime`: instants are stored as naive UTC (SQLite keeps no offset) and come back
timezone-aware, and naive input is refused so no local time slips into the database; and
:data:`Id`, the type of ids and id references (64-bit parameters on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC; refuses naive input so no local time slips in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Ids and references to ids. SQLite's INTEGER is 64-bit already (and a rowid key must stay
#: INTEGER); on PostgreSQL the columns are 32-bit ``integer`` (serial), and parameters are sent
#: with the column's type, so an id the API accepts (up to 2^63-1) would overflow the parameter
#: (a 500) instead of finding nothing (a 404). As BIGINT it is compared with the 32-bit column.
Id = BigInteger().with_variant(Integer(), "sqlite")
