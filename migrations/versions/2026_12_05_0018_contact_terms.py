"""her terms for being contacted: the means, and the hours on given weekdays

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

Every caller starts with texts and calls at any time (as before); the desk, or she
herself, narrows that (scheduling.contact).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: recreating ``clients`` on SQLite would drop the table
# that texts, calls and appointments refer to (SQLite has had DROP COLUMN since 3.35).
def upgrade() -> None:
    op.add_column('clients', sa.Column(
        'contact_means',
        sa.Enum('any', 'texts', 'calls', 'no_reminders', name='contactmeans', native_enum=False, length=20),
        nullable=False, server_default='any'))
    op.add_column('clients', sa.Column('contact_days', sa.String(length=7), nullable=True))
    op.add_column('clients', sa.Column('contact_from', sa.Time(), nullable=True))
    op.add_column('clients', sa.Column('contact_until', sa.Time(), nullable=True))


def downgrade() -> None:
    for column in ('contact_until', 'contact_from', 'contact_days', 'contact_means'):
        op.drop_column('clients', column)
