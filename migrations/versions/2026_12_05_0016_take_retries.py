"""studio takes: deleted at Twilio in a step of its own, retried with a growing wait

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

A take's audio is stored before it is deleted at Twilio (``at_twilio`` says it still has
to be), and a failed fetch or delete waits longer each time (``next_try_at``).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from scheduling.types import UTCDateTime

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('studio_takes', sa.Column('at_twilio', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('studio_takes', sa.Column('next_try_at', UTCDateTime(), nullable=True))
    # Until now a take was deleted at Twilio in the step that fetched it.
    op.execute("UPDATE studio_takes SET at_twilio = false "
               "WHERE status IN ('waiting', 'approved', 'rejected', 'gone')")


def downgrade() -> None:
    with op.batch_alter_table('studio_takes') as batch:
        batch.drop_column('next_try_at')
        batch.drop_column('at_twilio')
