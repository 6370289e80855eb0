"""sms line: conversations, inbound messages, holds, call-backs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import scheduling.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('callback_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('language_code', sa.String(length=8), nullable=True),
    sa.Column('requested_via', sa.Enum('sms', 'voice', 'staff', name='bookedvia', native_enum=False, length=20), nullable=False),
    sa.Column('requested_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'done', name='callbackstatus', native_enum=False, length=20), nullable=False),
    sa.Column('done_at', scheduling.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by_staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_callback_requests_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['done_by_staff_id'], ['staff.id'], name=op.f('fk_callback_requests_done_by_staff_id_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['language_code'], ['languages.code'], name=op.f('fk_callback_requests_language_code_languages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_requests'))
    )
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_requests_client_id'), ['client_id'], unique=False)

    op.create_table('conversations',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_conversations_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_conversations'))
    )
    op.create_table('inbound_messages',
    sa.Column('message_sid', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('received_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reply_twiml', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_inbound_messages_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_sid', name=op.f('pk_inbound_messages'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_received_at'), ['received_at'], unique=False)

    op.create_table('slot_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('start_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('busy_until_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_slot_holds_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['counselor_id'], ['staff.id'], name=op.f('fk_slot_holds_counselor_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slot_holds')),
    sa.UniqueConstraint('counselor_id', 'start_at', name='uq_slot_holds_counselor_start')
    )
    with op.batch_alter_table('slot_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slot_holds_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_slot_holds_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('slot_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slot_holds_expires_at'))
        batch_op.drop_index(batch_op.f('ix_slot_holds_client_id'))

    op.drop_table('slot_holds')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_received_at'))
        batch_op.drop_index(batch_op.f('ix_inbound_messages_client_id'))

    op.drop_table('inbound_messages')
    op.drop_table('conversations')
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_requests_client_id'))

    op.drop_table('callback_requests')
