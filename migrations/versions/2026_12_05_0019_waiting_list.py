"""the waiting list: callers waiting for a time for a service in their language

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

When a time frees up, the worker holds it for the first woman on the list it fits and
offers it to her (scheduling.waitlist). One entry per caller and service while she waits.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from scheduling.types import UTCDateTime

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('waiting', 'offered')")


def upgrade() -> None:
    op.create_table(
        'waiting_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), sa.ForeignKey('clients.id', ondelete='CASCADE'), nullable=False),
        sa.Column('service_id', sa.Integer(), sa.ForeignKey('services.id', ondelete='CASCADE'), nullable=False),
        sa.Column('language_code', sa.String(length=8), sa.ForeignKey('languages.code'), nullable=False),
        sa.Column('status', sa.Enum('waiting', 'offered', 'booked', 'left', 'removed', name='waitingstatus',
                                    native_enum=False, length=20), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('earlier_than_appointment_id', sa.Integer(),
                  sa.ForeignKey('appointments.id', ondelete='SET NULL'), nullable=True),
        sa.Column('joined_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('offers_made', sa.Integer(), nullable=False),
        sa.Column('offer_counselor_id', sa.Integer(), sa.ForeignKey('staff.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('offer_start_at', UTCDateTime(), nullable=True),
        sa.Column('offer_expires_at', UTCDateTime(), nullable=True),
        sa.Column('passed', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_waiting_entries_client_id', 'waiting_entries', ['client_id'])
    op.create_index('ix_waiting_entries_offer_expires_at', 'waiting_entries', ['offer_expires_at'])
    op.create_index('ix_waiting_entries_order', 'waiting_entries', ['service_id', 'status', 'position'])
    op.create_index('ix_waiting_entries_one_per_service', 'waiting_entries', ['client_id', 'service_id'],
                    unique=True, postgresql_where=LIVE, sqlite_where=LIVE)


def downgrade() -> None:
    op.drop_table('waiting_entries')
