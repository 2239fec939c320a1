"""Shared pytest configuration: each fixture family lives in its own plugin module."""

pytest_plugins = [
    "tests.support.app_fixtures",
    "tests.support.media_fixtures",
    "tests.support.ffmpeg_fixtures",
]
