"""holds belong to the dialogue that made them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

A hold was hers alone: a call that ended released the time she was confirming by text at
the same moment. Now each hold names its dialogue ("sms", or "call:<CallSid>"); holds
made before this were all made by text or by a call that has long ended, so they become
her SMS conversation's.

The column is added and dropped in place, not in batch mode: batch mode rebuilds the
table on SQLite and would drop the triggers that keep holds from overlapping (0008).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('slot_holds', sa.Column('owner', sa.String(length=80), server_default='sms', nullable=False))


def downgrade() -> None:
    op.drop_column('slot_holds', 'owner')
