"""recordings are tied to the wording they were made for

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

A recording says the words of its day: when a prompt's wording changes (the voice menu
was renumbered in 0013's release), a recording of the old wording says the wrong digits.
Each recording now names the version of its prompt's English wording (hotline.prompts
.text_version: the first 12 hex digits of the SHA-256 of the msgid; a piece ``key#n`` has
its whole prompt's). Recordings made before this were made for the wording before the
renumbering: they get that wording's version, written out below as it was then, so that
those whose prompt did not change stay current and the others are stale (not played,
listed as missing) until they are recorded again. The pieces of dates, digits and names
are no prompt's wording and keep no version.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# prompts.text_version(key) for the voice wording before the renumbering (d368cd4); the six
# marked changed have a new wording now, every other one is the same as today's.
VERSIONS_BEFORE = {
    'v_language_option': '19d84681031b',
    'v_main_menu': '98d566b08389',  # changed
    'v_service_option': 'a23e2e2bf1b3',
    'v_slots_intro': '5c9704109325',
    'v_slot_option': '4ec49b11af25',
    'v_later': '9e34440a63fe',
    'v_no_slots': '79d18ec5e7cf',  # changed
    'v_confirm': 'cf74471fa278',
    'v_booked': 'c505dad393a0',
    'v_booked_text': '370b6911cd91',
    'v_taken': '4626bcf53603',
    'v_your_time': '108e415453a4',  # changed
    'v_no_appointment': '63b5b20be0be',
    'v_confirm_cancel': '16b9848ddaeb',
    'v_cancelled': 'a90875a4c5f8',
    'v_kept': '79883088f730',
    'v_connecting': 'e74f65265c12',
    'v_leave_message': 'ecc0aebe98b8',
    'v_closed': 'b548e7cb23ae',  # changed
    'v_message_saved': '58cbc871d10c',
    'v_callback': '673b16134394',
    'v_reminder_calls_on': 'efae1840bea4',
    'v_wrong_key': '77c20da9a1d7',
    'v_no_key': '3457a99b732f',
    'v_goodbye': 'c5f45858e2e2',
    'v_hidden_number': '87ec57ce8e6f',
    'v_reminder_call': '7b3d216bc847',  # changed
    'v_confirmed': 'ac49b1b897db',
    'v_code_ask': 'd5eeea32dd3b',
    'v_code_wrong': '89a0ecacfe2d',
    'v_code_locked': 'c692d473981a',
    'v_code_choose': '4bad1d059d8b',
    'v_code_repeat': '1b263f88f6e4',
    'v_code_mismatch': '9e4e3f616959',
    'v_code_format': 'e436e25960e5',
    'v_code_set': '66089564b785',
    'v_not_available': '1460acbf58c2',  # changed
}


def upgrade() -> None:
    with op.batch_alter_table('prompt_recordings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_version', sa.String(length=16), nullable=True))

    recordings = sa.table('prompt_recordings', sa.column('id', sa.Integer),
                          sa.column('prompt_key', sa.String), sa.column('text_version', sa.String))
    connection = op.get_bind()
    # Row by row, in Python: a LIKE 'v_closed#%' would read the underscores as wildcards.
    for row in connection.execute(sa.select(recordings.c.id, recordings.c.prompt_key)).all():
        version = VERSIONS_BEFORE.get(row.prompt_key.partition('#')[0])
        if version is not None:
            connection.execute(sa.update(recordings).where(recordings.c.id == row.id)
                               .values(text_version=version))


def downgrade() -> None:
    with op.batch_alter_table('prompt_recordings', schema=None) as batch_op:
        batch_op.drop_column('text_version')
