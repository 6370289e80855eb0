"""what she was told of her appointment

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Texts about a change name only the time she was told (scheduling.sending). Appointments
made before this release were texted about every change, so she is taken to know the
time and counselor they have now; except where a "moved" text has not gone yet (it waits
for 08:00, or for another try): there she knows the time the last text that went named
(none, if none went), so the move is still texted.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import scheduling.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: on SQLite a rebuilt table would lose the no-overlap triggers.
    op.add_column('appointments', sa.Column('told_start_at', scheduling.types.UTCDateTime(timezone=True),
                                            nullable=True))
    op.add_column('appointments', sa.Column('told_counselor_id', sa.Integer(), nullable=True))
    op.add_column('appointments', sa.Column('told_at', scheduling.types.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE appointments SET told_start_at = start_at, told_counselor_id = counselor_id, "
               "told_at = updated_at")
    outbox = sa.table('outbox_messages', sa.column('id', sa.Integer), sa.column('appointment_id', sa.Integer),
                      sa.column('kind', sa.String), sa.column('template', sa.String), sa.column('params', sa.JSON),
                      sa.column('status', sa.String),
                      sa.column('created_at', scheduling.types.UTCDateTime(timezone=True)))
    appointments = sa.table('appointments', sa.column('id', sa.Integer),
                            sa.column('told_start_at', scheduling.types.UTCDateTime(timezone=True)),
                            sa.column('told_counselor_id', sa.Integer),
                            sa.column('told_at', scheduling.types.UTCDateTime(timezone=True)))
    connection = op.get_bind()
    unsent = set(connection.scalars(sa.select(outbox.c.appointment_id).where(
        outbox.c.kind == 'change', outbox.c.template == 'moved', outbox.c.status.in_(('pending', 'sending')),
        outbox.c.appointment_id.is_not(None))))
    for appointment_id in unsent:
        went = connection.execute(sa.select(outbox.c.params, outbox.c.created_at).where(
            outbox.c.appointment_id == appointment_id, outbox.c.template.in_(('booked', 'moved', 'reminder')),
            outbox.c.status.in_(('queued', 'sent', 'delivered', 'undelivered'))).order_by(outbox.c.id.desc())).first()
        when = (went.params or {}).get('when') if went is not None else None
        # Who she would see is not in those texts: a move to that time is texted as one.
        connection.execute(sa.update(appointments).where(appointments.c.id == appointment_id).values(
            told_start_at=datetime.fromisoformat(when) if when else None, told_counselor_id=None,
            told_at=went.created_at if when else None))


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later), keeping the triggers.
    for column in ('told_at', 'told_counselor_id', 'told_start_at'):
        op.drop_column('appointments', column)
