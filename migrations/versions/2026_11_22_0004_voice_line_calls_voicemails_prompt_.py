"""voice line: calls, voicemails, prompt recordings, duty shifts, reminder calls

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import scheduling.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('duty_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('starts', sa.Time(), nullable=False),
    sa.Column('ends', sa.Time(), nullable=False),
    sa.CheckConstraint('starts < ends', name=op.f('ck_duty_shifts_starts_before_ends')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_duty_shifts_weekday_range')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_duty_shifts_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_shifts'))
    )
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_shifts_staff_id'), ['staff_id'], unique=False)

    op.create_table('prompt_recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_key', sa.String(length=80), nullable=False),
    sa.Column('language_code', sa.String(length=8), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('audio', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['language_code'], ['languages.code'], name=op.f('fk_prompt_recordings_language_code_languages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_recordings')),
    sa.UniqueConstraint('prompt_key', 'language_code', name='uq_prompt_recordings_key_language'),
    sa.UniqueConstraint('token', name=op.f('uq_prompt_recordings_token'))
    )
    op.create_table('calls',
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('language_code', sa.String(length=8), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_calls_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('call_sid', name=op.f('pk_calls'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_client_id'), ['client_id'], unique=False)

    op.create_table('voicemails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('language_code', sa.String(length=8), nullable=True),
    sa.Column('recording_url', sa.String(length=500), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('received_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'done', name='messagestatus', native_enum=False, length=20), nullable=False),
    sa.Column('done_by_staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_voicemails_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['done_by_staff_id'], ['staff.id'], name=op.f('fk_voicemails_done_by_staff_id_staff'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voicemails')),
    sa.UniqueConstraint('call_sid', name=op.f('uq_voicemails_call_sid'))
    )
    with op.batch_alter_table('voicemails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voicemails_client_id'), ['client_id'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wants_reminder_calls', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('wants_reminder_calls')

    with op.batch_alter_table('voicemails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voicemails_client_id'))

    op.drop_table('voicemails')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_client_id'))

    op.drop_table('calls')
    op.drop_table('prompt_recordings')
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_shifts_staff_id'))

    op.drop_table('duty_shifts')
