"""Shared pytest configuration: each fixture family lives in its own plugin module."""

pytest_plugins = [
    # database_fixtures first: app_fixtures imports from it (assertion rewriting needs this order).
    "tests.support.database_fixtures",
    "tests.support.app_fixtures",
    "tests.support.media_fixtures",
    "tests.support.ffmpeg_fixtures",
]
