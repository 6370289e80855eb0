"""staff sessions that end and the brake on guessing

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Every staff member's sessions carry a generation (staff.session_generation): raising it
signs her out everywhere. Failed sign-ins are counted in one row per e-mail address or
network (sign_in_counters), updated by a single statement per try. Sessions signed in
by an earlier release end once: their identity had no generation.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import scheduling.types

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_counters',
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=254), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', scheduling.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('forget_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'subject', name=op.f('pk_sign_in_counters'))
    )
    with op.batch_alter_table('sign_in_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_counters_forget_at'), ['forget_at'], unique=False)

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('session_generation')

    with op.batch_alter_table('sign_in_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_counters_forget_at'))

    op.drop_table('sign_in_counters')
