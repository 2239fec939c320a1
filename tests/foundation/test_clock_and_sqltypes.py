"""The shared clock and the UTC column type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from foundation.clock import FakeClock, SystemClock
from foundation.sqltypes import UtcDateTime


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(datetime(2024, 3, 31, 3, 0, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2024, 3, 31, 1, 5, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.set(datetime(2024, 1, 1))


def test_utc_datetime_stores_naive_utc_and_restores_aware() -> None:
    column = UtcDateTime()
    dialect = sqlite.dialect()
    local = datetime(2024, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    stored = column.process_bind_param(local, dialect)
    assert stored == datetime(2024, 7, 1, 10, 0)
    assert column.process_result_value(stored, dialect) == local
    assert column.process_bind_param(None, dialect) is None
    with pytest.raises(ValueError):
        column.process_bind_param(datetime(2024, 7, 1, 12, 0), dialect)
