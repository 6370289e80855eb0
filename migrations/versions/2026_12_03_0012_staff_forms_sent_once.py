"""staff forms sent once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Every staff form that changes something carries a one-time token; form_tokens holds the
tokens already used, until they expire, so a form sent again does nothing.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import scheduling.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('form_tokens',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('used_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_path', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_form_tokens_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_form_tokens'))
    )
    with op.batch_alter_table('form_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_form_tokens_staff_id'), ['staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('form_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_tokens_staff_id'))
        batch_op.drop_index(batch_op.f('ix_form_tokens_expires_at'))

    op.drop_table('form_tokens')
