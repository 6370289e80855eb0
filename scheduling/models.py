"""The calendar's tables, as SQLAlchemy 2.0 typed models.

Every instant is a ``UTCDateTime``; wall-clock things (working hours, opening hours) are
local ``Time`` values in the centre's zone, turned into instants by the availability code.
"""
from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    LargeBinary,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    false,
    true,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from scheduling.crypto import EncryptedText, phone_hash
from scheduling.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native enum type), so adding a member later is a code
    # change, not a migration that PostgreSQL and SQLite would each need differently.
    return Enum(
        cls,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        name=cls.__name__.lower(),
    )


class ContactMeans(str, enum.Enum):
    """How Linja may reach her (scheduling.contact)."""

    any = "any"  # texts and calls
    texts = "texts"  # texts only: a reminder call she asked for comes as a text
    calls = "calls"  # calls only: a reminder is a call; other texts are not sent
    no_reminders = "no_reminders"  # no reminders, by text or call; other texts go


class ReplyKind(str, enum.Enum):
    """What an inbound text was answered with."""

    answered = "answered"  # the dialogue's answer (silence too, after STOP)
    keyword = "keyword"  # STOP/START/DELETE/HELP confirmed past a limit
    notice = "notice"  # the one "replies resume at ..." past her own limit
    over_own_limit = "over_own_limit"  # silence: past her own limit
    over_line_limit = "over_line_limit"  # silence: past the line's limit, for a number without standing
    off_limits = "off_limits"  # silence: a number Linja never texts (premium rate, the centre's own...)


class StaffRole(str, enum.Enum):
    counselor = "counselor"
    receptionist = "receptionist"
    admin = "admin"
    # An interpreter who records the phone line's prompts in her languages (the studio line).
    recorder = "recorder"


class AppointmentStatus(str, enum.Enum):
    booked = "booked"
    cancelled = "cancelled"
    attended = "attended"
    no_show = "no_show"


class BookedVia(str, enum.Enum):
    sms = "sms"
    voice = "voice"
    staff = "staff"


class Actor(str, enum.Enum):
    caller = "caller"
    staff = "staff"
    system = "system"


class Language(Base):
    __tablename__ = "languages"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_native: Mapped[str] = mapped_column(String(64))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    menu_order: Mapped[int] = mapped_column(SmallInteger, default=0)
    is_rtl: Mapped[bool] = mapped_column(Boolean, default=False)


staff_languages = Table(
    "staff_languages",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("language_code", ForeignKey("languages.code"), primary_key=True),
)

staff_services = Table(
    "staff_services",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="positive_duration"),
        CheckConstraint("buffer_minutes >= 0", name="non_negative_buffer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    menu_order: Mapped[int] = mapped_column(SmallInteger, default=0)

    names: Mapped[list[ServiceName]] = relationship(
        back_populates="service", cascade="all, delete-orphan", lazy="selectin"
    )

    def name_in(self, language_code: str, fallback: str = "nb") -> str:
        by_code = {n.language_code: n.name for n in self.names}
        return by_code.get(language_code) or by_code.get(fallback) or self.slug


class ServiceName(Base):
    __tablename__ = "service_names"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    language_code: Mapped[str] = mapped_column(ForeignKey("languages.code"), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))

    service: Mapped[Service] = relationship(back_populates="names")


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole))
    # For transferred calls; encrypted at rest (scheduling.crypto).
    phone_e164: Mapped[str | None] = mapped_column(EncryptedText())
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # The language of her staff pages: Norwegian unless she chose English.
    ui_locale: Mapped[str] = mapped_column(String(8), default="nb", server_default="nb")
    # SHA-256 of the secret in her personal calendar feed's address; None when she has none.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Part of every session's identity (staff.auth): raising it ends all her sessions at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Her studio PIN, as hotline.studio.pin_hash keeps it (HMAC-SHA256): None, no studio.
    studio_pin_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    languages: Mapped[list[Language]] = relationship(secondary=staff_languages, lazy="selectin")
    services: Mapped[list[Service]] = relationship(secondary=staff_services, lazy="selectin")

    def speaks(self, language_code: str) -> bool:
        return any(lang.code == language_code for lang in self.languages)


class WorkingHours(Base):
    """One weekly stretch of work, e.g. Tuesdays 09:00-15:00, valid between two dates."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("starts < ends", name="starts_before_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # inclusive; None = open-ended


class Absence(Base):
    __tablename__ = "absences"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="starts_before_ends"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(200))


class OpeningHours(Base):
    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class Closure(Base):
    """Days the whole centre is closed (staff seminar, summer), first and last day inclusive."""

    __tablename__ = "closures"
    __table_args__ = (CheckConstraint("first_day <= last_day", name="first_before_last"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))


class ReferenceVersion(Base):
    """One row: a number database triggers raise on any change to the reference data every
    text and call reads (languages, services and their names, opening hours, closures),
    so each process may keep that data while the number stays the same (scheduling.reference)."""

    __tablename__ = "reference_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class Client(Base):
    """A caller, known only by her number (E.164) and her language."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Encrypted at rest (scheduling.crypto): Python reads and writes it in clear, SQL cannot
    # search it; she is found by phone_hash, which setting the number keeps up to date.
    phone_e164: Mapped[str | None] = mapped_column(EncryptedText())
    language_code: Mapped[str | None] = mapped_column(ForeignKey("languages.code"))
    is_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # Reminders as a phone call instead of a text (she cannot read, or a text is unsafe).
    wants_reminder_calls: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Keyed hash (HMAC) of her number: how she is found without her number being readable.
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Her code word, hashed: once set, nothing about her appointment is shown or changed
    # by text or phone until it is given. Wrong tries are counted.
    code_word_hash: Mapped[str | None] = mapped_column(String(255))
    code_word_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Her terms for being contacted (scheduling.contact): the means, and the hours (Oslo
    # time) on the weekdays given ("01234": Monday to Friday) when a text or call may
    # reach her. No hours: any time outside the centre's quiet hours.
    contact_means: Mapped[ContactMeans] = mapped_column(
        _enum(ContactMeans), default=ContactMeans.any, server_default=ContactMeans.any.value)
    contact_days: Mapped[str | None] = mapped_column(String(7))
    contact_from: Mapped[time | None]
    contact_until: Mapped[time | None]
    created_at: Mapped[datetime]
    last_contact_at: Mapped[datetime | None]

    @validates("phone_e164")
    def _hash_number(self, _key: str, phone_e164: str | None) -> str | None:
        self.phone_hash = phone_hash(phone_e164) if phone_e164 else None
        return phone_e164


ACTIVE_STATUSES = (AppointmentStatus.booked, AppointmentStatus.attended, AppointmentStatus.no_show)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="start_before_end"),
        CheckConstraint("end_at <= busy_until_at", name="buffer_after_end"),
        Index("ix_appointments_counselor_start", "counselor_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), index=True
    )
    counselor_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    language_code: Mapped[str | None] = mapped_column(ForeignKey("languages.code"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    # end_at plus the service's buffer: the stretch the counselor is not bookable.
    busy_until_at: Mapped[datetime]
    status: Mapped[AppointmentStatus] = mapped_column(
        _enum(AppointmentStatus), default=AppointmentStatus.booked
    )
    is_interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    booked_via: Mapped[BookedVia] = mapped_column(_enum(BookedVia))
    changed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # What she was last told of it: the time and counselor of the last text about it that
    # Twilio accepted, or that she was answered with when she booked or moved it herself.
    # Texts about a change name only what she was told (scheduling.sending); None: nothing yet.
    told_start_at: Mapped[datetime | None]
    told_counselor_id: Mapped[int | None] = mapped_column(Integer)
    # When what she was told was composed: a text written earlier and accepted later does
    # not overwrite what she was told since.
    told_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}

    client: Mapped[Client | None] = relationship()
    counselor: Mapped[Staff] = relationship(foreign_keys=[counselor_id])
    service: Mapped[Service] = relationship()


_appointments = Appointment.__table__
# No double booking, ever: on PostgreSQL the database refuses two live appointments of
# one counselor whose busy ranges (appointment + buffer) overlap. SQLite gets the same
# guarantee from triggers that the migration creates (see migrations/).
_appointments.append_constraint(
    ExcludeConstraint(
        (_appointments.c.counselor_id, "="),
        (func.tstzrange(_appointments.c.start_at, _appointments.c.busy_until_at, text("'[)'")), "&&"),
        using="gist",
        where=text("status <> 'cancelled'"),
        name="appointments_no_overlap",
    ).ddl_if(dialect="postgresql")
)


class AuditEntry(Base):
    """Who changed which appointment, when. Keeps no phone number."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[Actor] = mapped_column(_enum(Actor))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict | None] = mapped_column(JSON)


class WorkerHeartbeat(Base):
    """The last tick of each worker, so readiness checks can tell a worker is alive."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    seen_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)


class Conversation(Base):
    """Where a caller is in the SMS dialogue; one row per caller."""

    __tablename__ = "conversations"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class InboundMessage(Base):
    """A text Twilio delivered, by MessageSid, with the answer given: a retry gets the
    same answer and changes nothing."""

    __tablename__ = "inbound_messages"

    message_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(index=True)
    reply_twiml: Mapped[str] = mapped_column(Text)
    # Why she got what she got: the line's limits count ordinary answers and keep their
    # own notices and keyword confirmations apart (hotline.abuse).
    reply_kind: Mapped[ReplyKind] = mapped_column(
        _enum(ReplyKind), default=ReplyKind.answered, server_default=ReplyKind.answered.value
    )
    # The keyed hash of the number a keyword was confirmed to past a limit: one such
    # confirmation per number an hour, even across an erasure. Forgotten after an hour
    # (scheduling.worker), so nothing of an erased caller outlives that hour.
    sender_hash: Mapped[str | None] = mapped_column(String(64), index=True)


class SlotHold(Base):
    """A slot a caller picked and is confirming: not offered to anyone else, and not
    bookable by anyone else, until it expires (see scheduling.holds)."""

    __tablename__ = "slot_holds"
    __table_args__ = (Index("ix_slot_holds_counselor_start", "counselor_id", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    # The dialogue that made it: "sms" for her SMS conversation, "call:<CallSid>" for a
    # call. A dialogue that ends or moves on lets go of its own holds, not her others'.
    owner: Mapped[str] = mapped_column(String(80), server_default="sms")
    counselor_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    start_at: Mapped[datetime]
    busy_until_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


_holds = SlotHold.__table__
# Two holds of one counselor never overlap: on PostgreSQL the database refuses the second
# row, whoever wrote it; SQLite gets the same from triggers the migration creates. A
# constraint cannot know what time it is, so an expired hold counts until it is deleted:
# scheduling.holds deletes the expired ones in the way right before it writes a new one.
_holds.append_constraint(
    ExcludeConstraint(
        (_holds.c.counselor_id, "="),
        (func.tstzrange(_holds.c.start_at, _holds.c.busy_until_at, text("'[)'")), "&&"),
        using="gist",
        name="slot_holds_no_overlap",
    ).ddl_if(dialect="postgresql")
)


class CallbackStatus(str, enum.Enum):
    open = "open"
    done = "done"


class CallbackRequest(Base):
    """A caller asked to be called back, in her language, by the receptionists."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    language_code: Mapped[str | None] = mapped_column(ForeignKey("languages.code"))
    requested_via: Mapped[BookedVia] = mapped_column(_enum(BookedVia))
    requested_at: Mapped[datetime]
    status: Mapped[CallbackStatus] = mapped_column(_enum(CallbackStatus), default=CallbackStatus.open)
    done_at: Mapped[datetime | None]
    done_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


class OutboxStatus(str, enum.Enum):
    pending = "pending"  # waiting for its due time (or its next try)
    sending = "sending"  # claimed by a worker, which holds a lease on it
    queued = "queued"  # handed to Twilio; from here on Twilio's status callbacks move it
    sent = "sent"
    delivered = "delivered"
    undelivered = "undelivered"
    failed = "failed"
    withdrawn = "withdrawn"  # no longer wanted: appointment moved or cancelled, STOP, ...


class OutboxMessage(Base):
    """A text to send: written in the same transaction as the change that caused it,
    sent later by a worker. It stores what to say (a text key and its values) and in
    which language; the words are made when it is sent."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # reminder, confirmation, change, callback, ...
    template: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    language_code: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.pending)
    due_at: Mapped[datetime]
    # Reminders are worthless once the appointment has begun: Twilio drops them after this.
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None]
    body: Mapped[str | None] = mapped_column(Text)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class SendingPace(Base):
    """One row per sending account: the earliest moment the next text may go, shared by
    every worker so the rate limit holds across processes."""

    __tablename__ = "sending_pace"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_at: Mapped[datetime]


class Call(Base):
    """A phone call in progress on the voice line: where she is in its menus."""

    __tablename__ = "calls"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    language_code: Mapped[str | None] = mapped_column(String(8))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="in-progress")
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MessageStatus(str, enum.Enum):
    open = "open"
    done = "done"


class Voicemail(Base):
    """A message a caller left, for the receptionists; the recording stays with Twilio."""

    __tablename__ = "voicemails"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    language_code: Mapped[str | None] = mapped_column(String(8))
    recording_url: Mapped[str] = mapped_column(String(500))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime]
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus), default=MessageStatus.open)
    done_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


class PromptRecording(Base):
    """A recording of one voice prompt (or one piece of one) in one language."""

    __tablename__ = "prompt_recordings"
    __table_args__ = (UniqueConstraint("prompt_key", "language_code", name="uq_prompt_recordings_key_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_key: Mapped[str] = mapped_column(String(80))
    language_code: Mapped[str] = mapped_column(ForeignKey("languages.code"))
    # Twilio fetches recordings without signing; the unguessable token is the key.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    audio: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime]
    # The version of the prompt's English wording it was recorded for (hotline.prompts
    # .text_version); when the wording has changed since, the recording is stale and not
    # played. None for the pieces that are no prompt's wording (dates, digits, names).
    text_version: Mapped[str | None] = mapped_column(String(16))


class StudioCall(Base):
    """A call on the studio line: who is recording (once her PIN is given), in which
    language, and where in the prompts she is."""

    __tablename__ = "studio_calls"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    language_code: Mapped[str | None] = mapped_column(String(8))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TakeStatus(str, enum.Enum):
    recorded = "recorded"  # said after the beep; she has not chosen yet
    kept = "kept"  # she kept it: to be fetched from Twilio
    dropped = "dropped"  # again or skipped: to be deleted at Twilio
    waiting = "waiting"  # fetched and deleted at Twilio: waiting for someone to approve it
    approved = "approved"  # now the recording callers hear
    rejected = "rejected"
    gone = "gone"  # dropped and deleted at Twilio
    failed = "failed"  # kept, but Twilio would not give it: the piece is asked for again


class StudioTake(Base):
    """One recording said on the studio line. Twilio holds the audio until Linja fetches it
    (kept) or deletes it (dropped); a kept take reaches callers once approved."""

    __tablename__ = "studio_takes"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    language_code: Mapped[str] = mapped_column(ForeignKey("languages.code"))
    prompt_key: Mapped[str] = mapped_column(String(80))
    text_version: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[TakeStatus] = mapped_column(_enum(TakeStatus), index=True)
    # Twilio's recording status callback said the audio is ready to fetch.
    is_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    content_type: Mapped[str | None] = mapped_column(String(40))
    audio: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Twilio still holds the audio: the worker deletes it there once it is fetched (or
    # was dropped), in a later transaction than the one that stored it.
    at_twilio: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Failed fetches (or deletes) of this take in a row, and when the next one is tried.
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


class DutyShift(Base):
    """Who answers transferred calls, by weekday and local time."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("starts < ends", name="starts_before_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)


class LoginAttempt(Base):
    """A failed sign-in whose password was checked, kept for a day as a record of what was
    tried (the limits are counted by SignInCounter)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower-cased e-mail as typed and the client's address; never the password.
    email: Mapped[str] = mapped_column(String(254), index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class SignInCounter(Base):
    """Failed sign-ins counted for one e-mail address or one network (scheduling.brake), as one
    row that every try updates in a single statement, so parallel tries cannot all pass."""

    __tablename__ = "sign_in_counters"

    # "email" (tried from outside the centre), "email_trusted" (from its own networks)
    # or "network"; the subject is the lower-cased e-mail as typed, or the network.
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    # No try is checked before this instant; None while under the limit.
    locked_until: Mapped[datetime | None]
    # After this instant without a failure, the count starts again from nothing.
    forget_at: Mapped[datetime] = mapped_column(index=True)


class FormToken(Base):
    """A staff form's one-time token, written when the form is sent: a second send of the
    same form (the browser's Back, a double click) finds its row and does nothing. Rows
    go once the token has expired (the worker's housekeeping), when no page can send it."""

    __tablename__ = "form_tokens"

    # The random part of the signed token the page carried (staff.once).
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # Where the form led: the page that shows what was done (a path inside Linja).
    done_path: Mapped[str | None] = mapped_column(String(500))


class WaitingStatus(str, enum.Enum):
    waiting = "waiting"  # on the list: the next time that fits her is offered to her
    offered = "offered"  # a time is held for her (offer_*) until she answers or it lapses
    booked = "booked"  # she took a time offered to her
    left = "left"  # she asked to leave the list
    removed = "removed"  # the desk took her off it


class WaitingEntry(Base):
    """A caller waiting for a time for one service in her language (scheduling.waitlist):
    when a time frees up, the worker holds it for the first woman on the list it fits and
    offers it to her. One entry per caller and service while she is waiting."""

    __tablename__ = "waiting_entries"
    __table_args__ = (
        Index("ix_waiting_entries_one_per_service", "client_id", "service_id", unique=True,
              postgresql_where=text("status IN ('waiting', 'offered')"),
              sqlite_where=text("status IN ('waiting', 'offered')")),
        Index("ix_waiting_entries_order", "service_id", "status", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    language_code: Mapped[str] = mapped_column(ForeignKey("languages.code"))
    status: Mapped[WaitingStatus] = mapped_column(_enum(WaitingStatus), default=WaitingStatus.waiting)
    # Her place: lower goes first (the desk reorders by changing it); joining puts her last.
    position: Mapped[int] = mapped_column(Integer)
    # She has a time and waits for an earlier one: only times before it are offered, as a
    # move of that appointment.
    earlier_than_appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"))
    joined_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    offers_made: Mapped[int] = mapped_column(Integer, default=0)
    # The time held for her now, while status is "offered".
    offer_counselor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    offer_start_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    # The times she passed on (or let lapse), "<counselor id>@<ISO start>": not offered again.
    passed: Mapped[list] = mapped_column(JSON, default=list)
