"""outbox: texts to send and the shared sending pace

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import scheduling.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sending_pace',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('next_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sending_pace'))
    )
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('language_code', sa.String(length=8), nullable=True),
    sa.Column('status', sa.Enum('pending', 'sending', 'queued', 'sent', 'delivered', 'undelivered', 'failed', 'withdrawn', name='outboxstatus', native_enum=False, length=20), nullable=False),
    sa.Column('due_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', scheduling.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim_token', sa.String(length=36), nullable=True),
    sa.Column('lease_until', scheduling.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('provider_sid', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('created_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', scheduling.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_outbox_messages_appointment_id_appointments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_outbox_messages_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('provider_sid', name=op.f('uq_outbox_messages_provider_sid'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_messages_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_outbox_messages_status_due', ['status', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_status_due')
        batch_op.drop_index(batch_op.f('ix_outbox_messages_client_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_appointment_id'))

    op.drop_table('outbox_messages')
    op.drop_table('sending_pace')
