"""safety: phone numbers encrypted at rest, callers found by their keyed hash

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

Callers' and staff numbers become Fernet ciphertexts (scheduling.crypto) and every caller
gets her phone_hash. The keys are read as the app reads them (PHONE_KEYS, PHONE_HASH_KEY,
or locally the files in instance/), so run this with the app's environment.
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from scheduling import crypto

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 500

_clients = sa.table(
    'clients', sa.column('id', sa.Integer), sa.column('phone_e164', sa.Text), sa.column('phone_hash', sa.String),
)
_staff = sa.table('staff', sa.column('id', sa.Integer), sa.column('phone_e164', sa.Text))


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_clients_phone_e164'), type_='unique')
        batch_op.alter_column('phone_e164', existing_type=sa.String(length=16), type_=sa.Text(),
                              existing_nullable=True)
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.alter_column('phone_e164', existing_type=sa.String(length=16), type_=sa.Text(),
                              existing_nullable=True)

    keyring = crypto.keyring()
    _rewrite(_clients, lambda number: {'phone_e164': keyring.encrypt(number), 'phone_hash': keyring.hash(number)})
    _rewrite(_staff, lambda number: {'phone_e164': keyring.encrypt(number)})


def downgrade() -> None:
    keyring = crypto.keyring()
    _rewrite(_clients, lambda token: {'phone_e164': keyring.decrypt(token)})
    _rewrite(_staff, lambda token: {'phone_e164': keyring.decrypt(token)})

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.alter_column('phone_e164', existing_type=sa.Text(), type_=sa.String(length=16),
                              existing_nullable=True)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.alter_column('phone_e164', existing_type=sa.Text(), type_=sa.String(length=16),
                              existing_nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_clients_phone_e164'), ['phone_e164'])


def _rewrite(table: sa.TableClause, change: Callable[[str], dict]) -> None:
    """Every row with a number, ``BATCH`` at a time, in id order."""
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.phone_e164)
            .where(table.c.id > last_id, table.c.phone_e164.is_not(None))
            .order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            table.update().where(table.c.id == sa.bindparam('row_id')),
            [{'row_id': row_id, **change(number)} for row_id, number in rows],
        )
        last_id = rows[-1][0]
