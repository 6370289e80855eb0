"""holds: two holds of one counselor never overlap, guarded by the database

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24

The unique index on (counselor, start) only refused two holds on the same start; two
callers could still hold overlapping times and then refuse each other at confirm. Now
PostgreSQL refuses an overlapping hold with an exclusion constraint (like appointments'),
and SQLite with triggers, which are race-free there because every write transaction holds
the database's write lock. Holds live minutes: any that already overlap an older one are
dropped before the guard is added (that caller can still book the time if it is free).
"""
from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_SQLITE_OVERLAP = """
CREATE TRIGGER slot_holds_no_overlap_{event}
BEFORE {event} ON slot_holds
WHEN EXISTS (
    SELECT 1 FROM slot_holds AS other
    WHERE other.counselor_id = NEW.counselor_id
      AND other.id IS NOT NEW.id
      AND other.start_at < NEW.busy_until_at
      AND other.busy_until_at > NEW.start_at
)
BEGIN
    SELECT RAISE(ABORT, 'slot_holds_no_overlap: another caller holds an overlapping time');
END
"""

_DROP_LATER_OVERLAPPING = """
DELETE FROM slot_holds
WHERE EXISTS (
    SELECT 1 FROM slot_holds AS older
    WHERE older.counselor_id = slot_holds.counselor_id
      AND older.id < slot_holds.id
      AND older.start_at < slot_holds.busy_until_at
      AND older.busy_until_at > slot_holds.start_at
)
"""


def upgrade() -> None:
    op.execute(_DROP_LATER_OVERLAPPING)
    with op.batch_alter_table('slot_holds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_slot_holds_counselor_start', type_='unique')
        batch_op.create_index('ix_slot_holds_counselor_start', ['counselor_id', 'start_at'], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
        op.execute(
            "ALTER TABLE slot_holds ADD CONSTRAINT slot_holds_no_overlap "
            "EXCLUDE USING gist (counselor_id WITH =, tstzrange(start_at, busy_until_at, '[)') WITH &&)"
        )
    elif dialect == 'sqlite':
        # After the batch above, which rebuilds the table on SQLite (and its triggers with it).
        for event in ('INSERT', 'UPDATE'):
            op.execute(_SQLITE_OVERLAP.format(event=event))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('ALTER TABLE slot_holds DROP CONSTRAINT slot_holds_no_overlap')
    elif dialect == 'sqlite':
        for event in ('INSERT', 'UPDATE'):
            op.execute(f'DROP TRIGGER IF EXISTS slot_holds_no_overlap_{event}')
    with op.batch_alter_table('slot_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_slot_holds_counselor_start')
        # Holds that never overlap never share a start, so this cannot fail.
        batch_op.create_unique_constraint('uq_slot_holds_counselor_start', ['counselor_id', 'start_at'])
