"""reference_version: a number triggers raise on any change to the reference data

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

Every text and call reads the enabled languages, the services and their names, the
opening hours and the closures; every call the index of recorded prompts. Each process keeps them (scheduling.reference) while
``reference_version.version`` stays the same; a trigger on each of those tables raises it
in the transaction that changes them, whoever writes (a staff page, the CLI, psql).
"""
from __future__ import annotations

import secrets

from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

TABLES = ("languages", "services", "service_names", "opening_hours", "closures", "prompt_recordings")
BUMP = "UPDATE reference_version SET version = version + 1"


def upgrade() -> None:
    op.create_table(
        'reference_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_reference_version_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_version')),
    )
    # A random start: a database made again under the same URL does not repeat the numbers
    # of the one before, which a process may still keep.
    op.execute(f"INSERT INTO reference_version (id, version) VALUES (1, {secrets.randbelow(2 ** 30)})")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION linja_bump_reference_version() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {BUMP}; RETURN NULL; END $$")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER bump_reference_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION linja_bump_reference_version()")
    else:
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER bump_reference_version_{table}_{event.lower()} AFTER {event} "
                           f"ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER bump_reference_version ON {table}")
        op.execute("DROP FUNCTION linja_bump_reference_version()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER bump_reference_version_{table}_{event}")
    op.drop_table('reference_version')
