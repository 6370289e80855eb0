"""limits: why each text got what it got, and the keyword cap's number hash

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-03

Texts already received were answered by the dialogue (or left silent by a limit, which
the old rows cannot tell apart); they become "answered".
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'reply_kind',
            sa.Enum('answered', 'keyword', 'notice', 'over_own_limit', 'over_line_limit',
                    name='replykind', native_enum=False, length=20),
            server_default='answered', nullable=False,
        ))
        batch_op.add_column(sa.Column('sender_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_inbound_messages_sender_hash'), ['sender_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_sender_hash'))
        batch_op.drop_column('sender_hash')
        batch_op.drop_column('reply_kind')
