"""Foundation: staff, services, languages, hours, clients, appointments, audit trail.

No double booking: PostgreSQL gets an exclusion constraint over counselor and busy range
(btree_gist); SQLite gets triggers that refuse an overlapping live appointment, which are
race-free there because every write transaction holds the database's write lock.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import scheduling.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# The languages the line speaks, each named in itself, in menu order. Admins can disable
# or reorder them later; this is the starting set.
LANGUAGES = [
    ('nb', 'Norsk', False),
    ('en', 'English', False),
    ('ar', 'العربية', True),
    ('so', 'Soomaali', False),
    ('ur', 'اردو', True),
    ('ti', 'ትግርኛ', False),
    ('fa', 'فارسی / دری', True),
    ('pl', 'Polski', False),
]

_SQLITE_OVERLAP = """
CREATE TRIGGER appointments_no_overlap_{event}
BEFORE {event} ON appointments
WHEN NEW.status <> 'cancelled' AND EXISTS (
    SELECT 1 FROM appointments AS other
    WHERE other.counselor_id = NEW.counselor_id
      AND other.id IS NOT NEW.id
      AND other.status <> 'cancelled'
      AND other.start_at < NEW.busy_until_at
      AND other.busy_until_at > NEW.start_at
)
BEGIN
    SELECT RAISE(ABORT, 'appointments_no_overlap: the counselor is already booked then');
END
"""


def _create_overlap_guard() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap "
            "EXCLUDE USING gist (counselor_id WITH =, tstzrange(start_at, busy_until_at, '[)') WITH &&) "
            "WHERE (status <> 'cancelled')"
        )
    elif op.get_bind().dialect.name == 'sqlite':
        for event in ('INSERT', 'UPDATE'):
            op.execute(_SQLITE_OVERLAP.format(event=event))


def _drop_overlap_guard() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap')
    elif op.get_bind().dialect.name == 'sqlite':
        for event in ('INSERT', 'UPDATE'):
            op.execute(f'DROP TRIGGER IF EXISTS appointments_no_overlap_{event}')


def upgrade() -> None:
    op.create_table('closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint('first_day <= last_day', name=op.f('ck_closures_first_before_last')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closures'))
    )
    op.create_table('languages',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name_native', sa.String(length=64), nullable=False),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('menu_order', sa.SmallInteger(), nullable=False),
    sa.Column('is_rtl', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_languages'))
    )
    op.bulk_insert(sa.table(
        'languages', sa.column('code', sa.String), sa.column('name_native', sa.String),
        sa.column('is_enabled', sa.Boolean), sa.column('menu_order', sa.SmallInteger),
        sa.column('is_rtl', sa.Boolean),
    ), [
        {'code': code, 'name_native': name, 'is_enabled': True, 'menu_order': order, 'is_rtl': rtl}
        for order, (code, name, rtl) in enumerate(LANGUAGES, start=1)
    ])
    op.create_table('opening_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('opens', sa.Time(), nullable=False),
    sa.Column('closes', sa.Time(), nullable=False),
    sa.CheckConstraint('opens < closes', name=op.f('ck_opening_hours_opens_before_closes')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_opening_hours_weekday_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_hours'))
    )
    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_minutes', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('menu_order', sa.SmallInteger(), nullable=False),
    sa.CheckConstraint('buffer_minutes >= 0', name=op.f('ck_services_non_negative_buffer')),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_services_positive_duration')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services')),
    sa.UniqueConstraint('slug', name=op.f('uq_services_slug'))
    )
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.Enum('counselor', 'receptionist', 'admin', name='staffrole', native_enum=False, length=20), nullable=False),
    sa.Column('phone_e164', sa.String(length=16), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_email'))
    )
    op.create_table('worker_heartbeats',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('seen_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats'))
    )
    op.create_table('absences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint('starts_at < ends_at', name=op.f('ck_absences_starts_before_ends')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_absences_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absences'))
    )
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_absences_staff_id'), ['staff_id'], unique=False)

    op.create_table('clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_e164', sa.String(length=16), nullable=True),
    sa.Column('language_code', sa.String(length=8), nullable=True),
    sa.Column('is_opted_out', sa.Boolean(), nullable=False),
    sa.Column('created_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_contact_at', scheduling.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['language_code'], ['languages.code'], name=op.f('fk_clients_language_code_languages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients')),
    sa.UniqueConstraint('phone_e164', name=op.f('uq_clients_phone_e164'))
    )
    op.create_table('service_names',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('language_code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['language_code'], ['languages.code'], name=op.f('fk_service_names_language_code_languages')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_names_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_id', 'language_code', name=op.f('pk_service_names'))
    )
    op.create_table('staff_languages',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('language_code', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['language_code'], ['languages.code'], name=op.f('fk_staff_languages_language_code_languages')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_languages_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'language_code', name=op.f('pk_staff_languages'))
    )
    op.create_table('staff_services',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_staff_services_service_id_services'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_services_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'service_id', name=op.f('pk_staff_services'))
    )
    op.create_table('working_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('starts', sa.Time(), nullable=False),
    sa.Column('ends', sa.Time(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.CheckConstraint('starts < ends', name=op.f('ck_working_hours_starts_before_ends')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_working_hours_weekday_range')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_working_hours_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_working_hours'))
    )
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_working_hours_staff_id'), ['staff_id'], unique=False)

    op.create_table('appointments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('language_code', sa.String(length=8), nullable=True),
    sa.Column('start_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('busy_until_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('booked', 'cancelled', 'attended', 'no_show', name='appointmentstatus', native_enum=False, length=20), nullable=False),
    sa.Column('is_interpreter_needed', sa.Boolean(), nullable=False),
    sa.Column('booked_via', sa.Enum('sms', 'voice', 'staff', name='bookedvia', native_enum=False, length=20), nullable=False),
    sa.Column('changed_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_at <= busy_until_at', name=op.f('ck_appointments_buffer_after_end')),
    sa.CheckConstraint('start_at < end_at', name=op.f('ck_appointments_start_before_end')),
    sa.ForeignKeyConstraint(['changed_by_staff_id'], ['staff.id'], name=op.f('fk_appointments_changed_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_appointments_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['counselor_id'], ['staff.id'], name=op.f('fk_appointments_counselor_id_staff')),
    sa.ForeignKeyConstraint(['language_code'], ['languages.code'], name=op.f('fk_appointments_language_code_languages')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_appointments_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointments_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_appointments_counselor_start', ['counselor_id', 'start_at'], unique=False)
    _create_overlap_guard()

    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', scheduling.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.Enum('caller', 'staff', 'system', name='actor', native_enum=False, length=20), nullable=False),
    sa.Column('actor_staff_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_staff_id'], ['staff.id'], name=op.f('fk_audit_entries_actor_staff_id_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_audit_entries_appointment_id_appointments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_at'), ['at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_appointment_id'))

    op.drop_table('audit_entries')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_counselor_start')
        batch_op.drop_index(batch_op.f('ix_appointments_client_id'))

    _drop_overlap_guard()
    op.drop_table('appointments')
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_working_hours_staff_id'))

    op.drop_table('working_hours')
    op.drop_table('staff_services')
    op.drop_table('staff_languages')
    op.drop_table('service_names')
    op.drop_table('clients')
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_absences_staff_id'))

    op.drop_table('absences')
    op.drop_table('worker_heartbeats')
    op.drop_table('staff')
    op.drop_table('services')
    op.drop_table('opening_hours')
    op.drop_table('languages')
    op.drop_table('closures')
