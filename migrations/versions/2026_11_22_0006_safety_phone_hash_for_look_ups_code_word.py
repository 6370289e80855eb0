"""safety: phone hash for look-ups, code word

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import scheduling.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('code_word_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('code_word_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_clients_phone_hash'), ['phone_hash'])



def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_clients_phone_hash'), type_='unique')
        batch_op.drop_column('code_word_failures')
        batch_op.drop_column('code_word_hash')
        batch_op.drop_column('phone_hash')

