"""what she was told of her appointment

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Texts about a change name only the time she was told (scheduling.sending). Appointments
made before this release were texted about every change, so she is taken to know the
time and counselor they have now.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import scheduling.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: on SQLite a rebuilt table would lose the no-overlap triggers.
    op.add_column('appointments', sa.Column('told_start_at', scheduling.types.UTCDateTime(timezone=True),
                                            nullable=True))
    op.add_column('appointments', sa.Column('told_counselor_id', sa.Integer(), nullable=True))
    op.add_column('appointments', sa.Column('told_at', scheduling.types.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE appointments SET told_start_at = start_at, told_counselor_id = counselor_id, "
               "told_at = updated_at")


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later), keeping the triggers.
    for column in ('told_at', 'told_counselor_id', 'told_start_at'):
        op.drop_column('appointments', column)
