"""the studio line: staff record prompts by phone

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

A staff member's studio PIN (kept as an HMAC, looked up by it), the studio line's calls,
and each take recorded there until it is fetched from Twilio and approved (or dropped).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from scheduling.types import UTCDateTime

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place, not by copying the table (SQLite would drop a table others refer to).
    op.add_column('staff', sa.Column('studio_pin_hash', sa.String(length=64), nullable=True))
    op.create_index('ix_staff_studio_pin_hash', 'staff', ['studio_pin_hash'], unique=True)
    op.create_table(
        'studio_calls',
        sa.Column('call_sid', sa.String(length=64), nullable=False),
        sa.Column('staff_id', sa.Integer(), sa.ForeignKey('staff.id', ondelete='CASCADE'), nullable=True),
        sa.Column('language_code', sa.String(length=8), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('call_sid'),
    )
    op.create_index('ix_studio_calls_staff_id', 'studio_calls', ['staff_id'])
    op.create_table(
        'studio_takes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_sid', sa.String(length=64), nullable=False),
        sa.Column('call_sid', sa.String(length=64), nullable=False),
        sa.Column('staff_id', sa.Integer(), sa.ForeignKey('staff.id', ondelete='SET NULL'), nullable=True),
        sa.Column('language_code', sa.String(length=8), sa.ForeignKey('languages.code'), nullable=False),
        sa.Column('prompt_key', sa.String(length=80), nullable=False),
        sa.Column('text_version', sa.String(length=16), nullable=True),
        sa.Column('status', sa.Enum('recorded', 'kept', 'dropped', 'waiting', 'approved', 'rejected', 'gone',
                                    name='takestatus', native_enum=False, length=20), nullable=False),
        sa.Column('is_ready', sa.Boolean(), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=True),
        sa.Column('audio', sa.LargeBinary(), nullable=True),
        sa.Column('tries', sa.Integer(), nullable=False),
        sa.Column('recorded_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('decided_by_staff_id', sa.Integer(), sa.ForeignKey('staff.id', ondelete='SET NULL'),
                  nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recording_sid'),
    )
    op.create_index('ix_studio_takes_call_sid', 'studio_takes', ['call_sid'])
    op.create_index('ix_studio_takes_status', 'studio_takes', ['status'])


def downgrade() -> None:
    op.drop_table('studio_takes')
    op.drop_index('ix_studio_calls_staff_id', table_name='studio_calls')
    op.drop_table('studio_calls')
    op.drop_index('ix_staff_studio_pin_hash', table_name='staff')
    op.drop_column('staff', 'studio_pin_hash')  # in place, as it was added
