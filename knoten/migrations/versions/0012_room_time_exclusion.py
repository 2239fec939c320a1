"""PostgreSQL: the database itself refuses two dates that hold the same room at the same time.

An exclusion constraint on occurrences: the same room and overlapping booked windows
``[start - lead-in, end + lead-out)`` for dates that hold the room (requested, scheduled, live).
Instants are stored as UTC ``timestamp`` columns, hence ``tsrange``. It is checked at commit
(deferred), so an edit that rewrites a whole series row by row only has to be free of conflicts
once it is complete. Needs the ``btree_gist`` extension (in Debian's postgresql package; a
trusted extension, so the database owner may create it). SQLite: nothing changes, the
application's conflict check in the booking's transaction stays the guard.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CONSTRAINT = "ex_occurrences_room_time"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    # GREATEST: a window that ends before it begins is empty (never conflicts), as in the
    # application's check, instead of an error from tsrange.
    op.execute(
        f"""
        ALTER TABLE occurrences ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist (
            room_id WITH =,
            tsrange(
                start_utc - lead_in_minutes * interval '1 minute',
                GREATEST(
                    start_utc - lead_in_minutes * interval '1 minute',
                    end_utc + lead_out_minutes * interval '1 minute'
                ),
                '[)'
            ) WITH &&
        ) WHERE (state IN ('requested', 'scheduled', 'live'))
        DEFERRABLE INITIALLY DEFERRED
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE occurrences DROP CONSTRAINT {CONSTRAINT}")
