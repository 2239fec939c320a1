"""Seminars, rooms and timing: recurrence, conflicts, what should be live when."""
