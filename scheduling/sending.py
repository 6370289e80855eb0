"""Sending the outbox: claim due texts, hand each to the sender once, record the result.

Any number of workers may run. A worker claims rows with ``SELECT ... FOR UPDATE SKIP
LOCKED`` (PostgreSQL; SQLite runs one writer at a time), marks them ``sending`` with a
lease and a claim token and commits *before* calling the provider. Every update is
guarded by the token, so a worker can neither send nor record a row it no longer holds:

- right before each send it re-checks its claim and extends the lease past the send's
  HTTP timeout, in one statement; a row another worker took over is not sent;
- while it works it renews the lease of everything it still holds, so a slow provider or
  a shared rate never lets a lease run out under a live worker;
- what the provider accepted stays sent, each text recorded on its own, even when a
  detail (a repeated or missing provider id) cannot be stored;
- a send whose outcome is unknown (the HTTP timeout passed, the connection dropped after
  the request went out) is looked up at the provider before any retry, and so is a text
  an earlier worker was sending when it died; what cannot be decided goes to the desk;
- when asked to stop (SIGTERM, SIGINT) it claims nothing more, finishes the sends on the
  wire and releases the rest at once.

Only a killed process leaves texts whose fate is unknown, and those are looked up first.
Leases are reckoned on the real clock (``wall``), whatever Linja's own clock says.

A text about a change to an appointment is composed when it goes, from what she was told
by the texts about it Twilio accepted before (``compose``), and waits while another is on
its way: a text withdrawn unsent never makes a later one name a time she never heard of.
"""
from __future__ import annotations

import logging
import threading
import time as _time
import uuid
from collections import Counter
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scheduling.availability import BookingRules
from scheduling.contact import NO_REMINDERS, NOT_BY_THESE_MEANS, OUTSIDE_HOURS, ContactTerms
from scheduling.db import transaction
from scheduling.notifications import is_off_limits
from scheduling.reminders import MORNING_NOTICE, end_of_quiet_hours
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Client,
    Conversation,
    OutboxMessage,
    OutboxStatus,
    SendingPace,
)

log = logging.getLogger(__name__)

# A dialogue left this long is over; a reminder then takes over her next answer.
REMINDER_TAKES_OVER_AFTER = timedelta(minutes=30)
# Twilio keeps a queued text at most this long (its validity_period limit).
MAX_VALIDITY = timedelta(hours=10)
# A text about an appointment whose last text is still on its way waits this long, then
# is composed from what that one told her (or did not).
WAIT_FOR_EARLIER = timedelta(seconds=5)


@dataclass(frozen=True)
class Outgoing:
    to: str
    body: str
    status_callback: str | None = None
    # Seconds the provider may keep the text queued before dropping it (reminders).
    validity_seconds: int | None = None


class SendError(Exception):
    """The provider did not take the text. ``permanent``: no retry can help. ``unknown``:
    the request went out but no answer came back, so the provider may have taken it."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False, unknown: bool = False):
        super().__init__(message)
        self.code, self.permanent, self.unknown = code, permanent, unknown


@dataclass(frozen=True)
class OutgoingCall:
    to: str
    url: str  # the TwiML the provider fetches when she answers
    status_callback: str | None = None
    detect_machine: bool = True  # a voicemail box should not hear her reminder


class Sender(Protocol):
    def send(self, message: Outgoing) -> str:
        """Hand the text over; returns the provider's id for it, or raises SendError."""

    def call(self, call: OutgoingCall) -> str:
        """Place a call; returns the provider's id for it, or raises SendError."""

    def find(self, outgoing: Outgoing | OutgoingCall, since: datetime) -> list[str]:
        """The provider's ids of texts (calls) like this one to the same number created
        since ``since``, newest first; raises SendError when the provider cannot tell."""


Render = Callable[[str, str | None, dict], str]  # (template, language, params) -> words


def params_as_sent(params: dict | None, client: Client, now: datetime) -> dict:
    """A queued text's values as they are rendered when it goes to ``client`` at ``now``."""
    params = params or {}
    if client.code_word_hash:
        # She has a code word: the renderer says the time and nothing more (no address,
        # no reply options), and "tomorrow" is reckoned from now, when it goes.
        params = {**params, "private": True, "sent_at": now.isoformat()}
    return params


@dataclass(frozen=True)
class SendingRules:
    per_second: float = 1.0  # 0: no limit
    lease: timedelta = timedelta(seconds=60)
    # The longest one request to the provider may take (the sender's HTTP timeout). The
    # lease must outlast it twice over (connecting, then waiting for the answer).
    send_timeout: timedelta = timedelta(seconds=10)
    max_attempts: int = 5
    status_callback: str | None = None
    # Reminder calls: the TwiML to answer with (".../voice/reminder?message=<id>") and
    # where the call's status is reported.
    reminder_call_url: str | None = None
    call_status_callback: str | None = None
    # Whether a call can be heard in a language (a voice, or every recording it needs):
    # where not, her reminder goes as a text, though she asked for calls.
    heard_on_a_call: Callable[[Session, str | None], bool] | None = None
    # Texts handed over at once by one worker: the provider's answer takes longer than
    # everything Linja does for a text, so a worker keeps several in flight.
    concurrency: int = 8

    def __post_init__(self):
        if self.lease < 2 * self.send_timeout:
            raise ValueError(f"the outbox lease ({self.lease.total_seconds():g} s) must be at least twice the "
                             f"provider's HTTP timeout ({self.send_timeout.total_seconds():g} s)")

    @property
    def renew_every(self) -> float:
        """Seconds between renewals of a worker's lease while it works."""
        return max(0.2, self.lease.total_seconds() / 3)

    @property
    def batch(self) -> int:
        # Claim no more than can surely be sent before the lease runs out.
        if self.per_second <= 0:
            return 100
        return max(1, min(100, int(self.per_second * self.lease.total_seconds() / 2)))


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(hours=1))


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Pace:
    """The shared sending rate: each text reserves the next free moment in one row that
    every worker locks in turn, so N workers together keep to ``per_second``."""

    sessions: sessionmaker[Session]
    per_second: float
    wall: Callable[[], datetime] = wall_clock
    sleep: Callable[[float], None] = _time.sleep
    name: str = "sms"

    def wait_turn(self) -> None:
        if self.per_second <= 0:
            return
        interval = timedelta(seconds=1 / self.per_second)
        for _ in range(3):
            try:
                with transaction(self.sessions) as session:
                    row = session.scalars(
                        select(SendingPace).where(SendingPace.name == self.name).with_for_update()
                    ).first()
                    now = self.wall()
                    if row is None:
                        session.add(SendingPace(name=self.name, next_at=now + interval))
                        return
                    slot = max(now, row.next_at)
                    row.next_at = slot + interval
                break
            except IntegrityError:  # two workers created the row at once; try again
                continue
        delay = (slot - now).total_seconds()
        if delay > 0:
            self.sleep(delay)


def claim_due(session: Session, now: datetime, *, limit: int, lease: timedelta, token: str,
              wall: datetime | None = None) -> list[int]:
    """Claim up to ``limit`` due texts, and texts whose worker's lease ran out. ``now`` is
    Linja's clock (what is due); ``wall`` the real one (leases; ``now`` if not given)."""
    wall = now if wall is None else wall
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.due_at <= now),
        and_(OutboxMessage.status == OutboxStatus.sending, OutboxMessage.lease_until < wall),
    )
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.status)
        .where(due)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    for message_id, status in rows:
        if status == OutboxStatus.sending:
            log.warning("outbox %s was claimed by a worker that stopped; taking it over", message_id)
    ids = [message_id for message_id, _ in rows]
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(status=OutboxStatus.sending, claim_token=token, lease_until=wall + lease,
                attempts=OutboxMessage.attempts + 1, updated_at=now)
    )
    return ids


def _why_not(message: OutboxMessage, client: Client | None, appointment: Appointment | None, now: datetime) -> str | None:
    if client is None or client.phone_e164 is None:
        return "no-number"
    if client.is_opted_out:
        return "opted-out"
    if message.expires_at is not None and message.expires_at <= now:
        return "too-late"
    if message.kind == "reminder" and (appointment is None or appointment.status != AppointmentStatus.booked):
        return "not-booked"
    return None


def _superseded_reminders(session: Session, messages: list[OutboxMessage], now: datetime) -> set[int]:
    """Reminders whose later reminder is due too (the workers were down): only the later
    one goes, so she does not get two at once. Two due at the same moment (one that waited
    for the end of the quiet hours, and the one planned then) are one too: the later planned."""
    reminders = [m for m in messages if m.kind == "reminder" and m.appointment_id is not None]
    if not reminders:
        return set()
    due = session.execute(select(OutboxMessage.appointment_id, OutboxMessage.due_at, OutboxMessage.id).where(
        OutboxMessage.appointment_id.in_({m.appointment_id for m in reminders}),
        OutboxMessage.kind == "reminder", OutboxMessage.due_at <= now,
        OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.sending)),
    )).all()
    latest: dict[int, tuple[datetime, int]] = {}
    for appointment_id, due_at, message_id in due:
        latest[appointment_id] = max((due_at, message_id), latest.get(appointment_id, (due_at, message_id)))
    return {m.id for m in reminders if (m.due_at, m.id) < latest.get(m.appointment_id, (m.due_at, m.id))}


def _told_now(session: Session, messages: list[OutboxMessage], now: datetime) -> set[int]:
    """The appointments among these reminders' whose booked or moved text is due too."""
    ids = {m.appointment_id for m in messages if m.kind == "reminder" and m.appointment_id is not None}
    if not ids:
        return set()
    return set(session.scalars(select(OutboxMessage.appointment_id).where(
        OutboxMessage.appointment_id.in_(ids), OutboxMessage.kind == "change",
        OutboxMessage.template.in_(("booked", "moved")), OutboxMessage.due_at <= now,
        OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.sending)),
    )))


@dataclass(frozen=True)
class Told:
    """What a text tells her of her appointment: recorded on it once Twilio accepts the text."""

    appointment_id: int
    start_at: datetime
    counselor_id: int
    composed_at: datetime


def change_text(template: str, *, told: tuple[datetime | None, int | None], current: tuple[datetime, int],
                is_booked: bool = True, is_promised: bool = False) -> tuple[str, dict] | str:
    """What a text about a change says, given what she was told of the appointment
    (time, counselor; None if nothing) and how it is: (template, values), or why no text
    goes. The desk may show it before making the change (``current`` as it will be).

    A cancellation names the time she was told (nothing, if she was told of none). A
    booking or a move names the time it has: "booked" if she was told of no time yet,
    "moved" if of another, nothing if she knows this one already (a promised
    confirmation still goes: a booking's, and a move's she made by phone and was told a
    text would follow, ``is_promised``)."""
    if template == "cancelled":
        if told[0] is None:
            return "never-told"
        return template, {"when": told[0].isoformat(), "counselor": told[1]}
    if not is_booked:
        return "not-booked"
    if told == current and template == "moved":
        if not is_promised:
            return "already-told"
        return template, {"when": current[0].isoformat(), "counselor": current[1], "promised": True}
    template = "moved" if told[0] is not None and told != current else "booked"
    return template, {"when": current[0].isoformat(), "counselor": current[1]}


def _change_text_now(message: OutboxMessage, appointment: Appointment) -> tuple[str, dict] | str:
    """``change_text`` for a text about ``appointment`` as it is now."""
    return change_text(message.template, told=(appointment.told_start_at, appointment.told_counselor_id),
                       current=(appointment.start_at, appointment.counselor_id),
                       is_booked=appointment.status == AppointmentStatus.booked,
                       is_promised=bool((message.params or {}).get("promised")))


def compose(message: OutboxMessage, appointment: Appointment | None) -> str | None:
    """Make a text about her appointment say what is new to her as it goes (see
    ``change_text``): rewrites the message's template and values, or returns why it does
    not go."""
    if message.kind != "change" or appointment is None or message.template not in ("booked", "moved", "cancelled"):
        return None
    text = _change_text_now(message, appointment)
    if isinstance(text, str):
        return text
    message.template, message.params = text
    return None


def _tells(message: OutboxMessage, appointment: Appointment | None) -> Told | None:
    """What this text, as composed, will have told her once Twilio accepts it; as of when
    it was composed (a text taken over from a worker that died says what it said then)."""
    if appointment is None or message.template not in ("booked", "moved", "reminder"):
        return None
    params = message.params or {}
    when = params.get("when")
    if not when:
        return None
    counselor_id = params.get("counselor") or appointment.counselor_id
    composed_at = datetime.fromisoformat(params["composed_at"]) if params.get("composed_at") else message.created_at
    return Told(appointment.id, datetime.fromisoformat(when), int(counselor_id), composed_at)


def _out_of_date(message: OutboxMessage, appointment: Appointment | None) -> bool:
    """Would this text, composed now, say something else? For a send whose fate is unknown:
    found at the provider it stays sent; not found, it does not go out again."""
    if appointment is None or message.template not in ("booked", "moved", "cancelled", "reminder"):
        return False
    params = message.params or {}
    if message.template == "reminder":
        return not params.get("when") or datetime.fromisoformat(params["when"]) != appointment.start_at
    text = _change_text_now(message, appointment)
    if isinstance(text, str):
        return True
    template, values = text
    if template != message.template or datetime.fromisoformat(values["when"]) != datetime.fromisoformat(params["when"]):
        return True
    return params.get("counselor") is not None and values["counselor"] != params.get("counselor")


def _on_their_way(session: Session, appointment_ids: set[int], token: str) -> set[int]:
    """Appointments with a text another worker is sending right now, or one whose send's
    fate is unknown until it is looked up at the provider again."""
    if not appointment_ids:
        return set()
    return set(session.scalars(select(OutboxMessage.appointment_id).where(
        OutboxMessage.appointment_id.in_(appointment_ids),
        or_(and_(OutboxMessage.status == OutboxStatus.sending,
                 or_(OutboxMessage.claim_token.is_(None), OutboxMessage.claim_token != token)),
            and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.sent_at.is_not(None))))))


def _in_doubt(message: OutboxMessage) -> bool:
    """An earlier send of it began and nobody knows how it ended: it is looked up first."""
    return message.sent_at is not None and bool(message.body)


@dataclass(frozen=True)
class Planned:
    """A claimed text, ready to hand over: read and rendered while it was claimed."""

    message_id: int
    kind: str
    attempts: int
    outgoing: Outgoing | OutgoingCall
    body: str
    # For a reminder text: what her answer to it will be about (see _await_replies).
    reply_to: dict | None = None
    client_id: int | None = None
    # An earlier attempt began at this (real) time and nobody knows how it ended: it is
    # looked up at the provider before the text is sent again.
    tried_since: datetime | None = None
    # What it tells her of her appointment (recorded there when Twilio accepts it).
    tells: Told | None = None
    # An earlier send's fate is unknown, and the appointment changed since it was composed:
    # if the provider does not have it, it does not go (a later text tells her what is new).
    out_of_date: bool = False


WITHDRAW, WAIT, SEND = "withdraw", "wait", "send"
OSLO = BookingRules().tz  # without the centre's rules (some tools), the centre's zone


def on_her_terms(message: OutboxMessage, appointment: Appointment | None, terms: ContactTerms, by_call: bool,
                 can_call: bool, now: datetime, tz: ZoneInfo) -> tuple[str, object]:
    """What her terms (scheduling.contact) make of a text or call due now: (WITHDRAW, why),
    (WAIT, when her hours open) or (SEND, whether as a call). A reminder call she cannot
    take comes as a text; a reminder text she cannot take, as a call if it can be one.
    What would only reach her once it is no use (a reminder less than an hour before,
    any other text about an appointment after it began) is not sent, and the desk sees
    she was not told."""
    reminder = message.kind == "reminder"
    if reminder and not terms.allows_reminders:
        return WITHDRAW, NO_REMINDERS
    if by_call and not terms.allows_calls:
        by_call = False
    if not by_call and not terms.allows_texts:
        if not (reminder and can_call):
            return WITHDRAW, NOT_BY_THESE_MEANS
        by_call = True
    if terms.has_hours and not terms.is_open(now, tz):
        opening = terms.next_opening(now, tz)
        useful_until = None
        if appointment is not None:
            useful_until = appointment.start_at - (MORNING_NOTICE if reminder else timedelta(0))
        if opening is None or (useful_until is not None and opening > useful_until):
            return WITHDRAW, OUTSIDE_HOURS
        return WAIT, opening
    return SEND, by_call


@dataclass(frozen=True)
class Handed:
    planned: Planned
    provider_sid: str | None


# What a send came to when the worker was told to stop before it went out.
RELEASED = "released"
# Twilio's and Linja's clocks may differ a little; a look-up reaches back this much further.
CLOCK_SLACK = timedelta(minutes=2)


@dataclass
class OutboxSender:
    """Sends due texts in batches: one transaction claims, reads and renders a batch; the
    texts go to the provider side by side; their results are written a few at a time.
    Per text that is a few SQL rows, not a few round trips."""

    sessions: sessionmaker[Session]
    sender: Sender
    render: Render
    rules: SendingRules
    now: Callable[[], datetime]
    pace: Pace | None = None
    # The centre's rules: no text leaves in the quiet hours, however overdue it is.
    centre_rules: BookingRules | None = None
    # The real clock, for leases (Linja's own clock may be set or moved: see scheduling.clock).
    wall: Callable[[], datetime] = wall_clock
    # Set when the worker is told to stop: nothing more is claimed or sent.
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        # Single statements go straight to the engine: an ORM session costs three times
        # the CPU of the statement, and a text makes two of them.
        self._engine = self.sessions.kw["bind"]
        self._wire = threading.Condition()
        self._sending_to: Counter[str] = Counter()

    def send_due(self, *, until: Callable[[], bool] = lambda: False) -> int:
        """Send every text that is due; returns how many were handed to the provider."""
        handed = 0
        with ThreadPoolExecutor(max_workers=max(1, self.rules.concurrency)) as pool:
            while not until() and not self.stopping.is_set():
                token = str(uuid.uuid4())
                with transaction(self.sessions) as session:
                    now = self.now()
                    ids = claim_due(session, now, limit=self.rules.batch, lease=self.rules.lease, token=token,
                                    wall=self.wall())
                    planned = self._plan(session, ids, now, token) if ids else []
                if not ids:
                    break
                handed += self._hand_over(pool, planned, token)
        return handed

    def _plan(self, session: Session, ids: list[int], now: datetime, token: str) -> list[Planned]:
        """Read the claimed texts with their callers and appointments in one query; set
        aside the ones that must not go (withdrawn) or not yet (quiet hours, or another
        text about the same appointment is still on its way), and compose the rest."""
        rows = session.execute(
            select(OutboxMessage, Client, Appointment)
            .outerjoin(Client, Client.id == OutboxMessage.client_id)
            .outerjoin(Appointment, Appointment.id == OutboxMessage.appointment_id)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        ).all()
        superseded = _superseded_reminders(session, [m for m, _, _ in rows], now)
        told = _told_now(session, [m for m, _, _ in rows], now)
        quiet_ends = end_of_quiet_hours(now, self.centre_rules) if self.centre_rules else None
        heard: dict[str | None, bool] = {}

        def can_call(message: OutboxMessage, client: Client | None) -> bool:
            """A reminder that can go as a call: in a language a call can be heard in."""
            rules = self.rules
            if message.kind != "reminder" or client is None or not rules.reminder_call_url:
                return False
            if rules.heard_on_a_call is not None and client.language_code not in heard:
                heard[client.language_code] = rules.heard_on_a_call(session, client.language_code)
            return heard.get(client.language_code, True)

        def by_call(message: OutboxMessage, client: Client | None) -> bool:
            """A reminder she asked to get as a call, and that can be one."""
            return client is not None and client.wants_reminder_calls and can_call(message, client)

        # A text about a change waits while another text about the appointment is on its
        # way: what it says depends on whether Twilio took that one. (A reminder names the
        # time it has now, whatever she was told, so it never waits.)
        busy = _on_their_way(session, {m.appointment_id for m, _, _ in rows if m.appointment_id}, token)
        # So does one about an appointment whose earlier text is looked up in this batch.
        busy |= {m.appointment_id for m, _, _ in rows if m.appointment_id and _in_doubt(m)}
        planned = []
        for message, client, appointment in rows:
            reason = _why_not(message, client, appointment, now) or (
                "superseded" if message.id in superseded else None) or (
                # Her booked or moved text goes now too (it waited for the morning): a
                # reminder text with it tells her nothing new; a reminder call still goes.
                "superseded" if message.kind == "reminder" and message.appointment_id in told
                and not by_call(message, client) else None) or (
                # Queued before the number was known as one Linja never texts or calls.
                "off-limits" if is_off_limits(session, client.phone_e164) else None)
            if reason:
                message.status, message.error_code, message.updated_at = OutboxStatus.withdrawn, reason, now
                continue
            if quiet_ends is not None and message.kind == "reminder" and appointment is not None \
                    and quiet_ends > appointment.start_at - MORNING_NOTICE:
                # A reminder goes in the morning only with an hour to spare (see reminders).
                message.status, message.error_code = OutboxStatus.withdrawn, "quiet-hours"
                message.updated_at = now
                continue
            if quiet_ends is not None:  # the workers were down, or the clock moved: wait for morning
                message.status, message.due_at, message.updated_at = OutboxStatus.pending, quiet_ends, now
                message.attempts -= 1
                continue
            call = by_call(message, client)
            terms = ContactTerms.of(client)
            if not terms.is_open_ended:
                verdict, value = on_her_terms(message, appointment, terms, call, can_call(message, client), now,
                                              self.centre_rules.tz if self.centre_rules else OSLO)
                if verdict == WITHDRAW:
                    message.status, message.error_code, message.updated_at = OutboxStatus.withdrawn, value, now
                    continue
                if verdict == WAIT:  # when her hours next open
                    message.status, message.due_at, message.updated_at = OutboxStatus.pending, value, now
                    message.error_code = OUTSIDE_HOURS
                    message.attempts -= 1
                    continue
                call = value
            if message.kind == "change" and message.appointment_id in busy and not _in_doubt(message):
                message.status, message.due_at, message.updated_at = (
                    OutboxStatus.pending, now + WAIT_FOR_EARLIER, now)
                message.attempts -= 1
                continue
            out_of_date = False
            if not _in_doubt(message):  # not a send whose fate is looked up
                reason = compose(message, appointment)
                if reason:
                    message.status, message.error_code, message.updated_at = OutboxStatus.withdrawn, reason, now
                    continue
                if message.appointment_id is not None:  # what she is told, as of now (see _tells)
                    message.params = {**(message.params or {}), "composed_at": now.isoformat()}
            else:
                out_of_date = _out_of_date(message, appointment)
            if message.appointment_id is not None:
                busy.add(message.appointment_id)
            planned.append(replace(self._outgoing(message, client, appointment, now, call), out_of_date=out_of_date))
        return planned

    def _outgoing(self, message: OutboxMessage, client: Client, appointment: Appointment | None,
                  now: datetime, by_call: bool = False) -> Planned:
        # A send was begun (its start is written right before it) and never recorded.
        tried_since = message.sent_at
        if by_call:
            call = OutgoingCall(client.phone_e164, f"{self.rules.reminder_call_url}?message={message.id}",
                                self.rules.call_status_callback)
            return Planned(message.id, message.kind, message.attempts, call, "(call)", tried_since=tried_since)
        body = self.render(message.template, message.language_code, params_as_sent(message.params, client, now))
        if tried_since is not None and message.body:
            body = message.body  # the words of the attempt whose fate is looked up
        validity = None
        if message.expires_at is not None:
            validity = int(min(message.expires_at - now, MAX_VALIDITY).total_seconds())
        reply_to = None
        if message.kind == "reminder" and appointment is not None:
            reply_to = {"appointment": appointment.id, "when": appointment.start_at.isoformat(),
                        "service": appointment.service_id}
        elif message.kind == "offer":  # a time the waiting list holds for her (scheduling.waitlist)
            reply_to = {"entry": message.params.get("entry"), "when": message.params.get("when"),
                        "until": message.params.get("time")}
        return Planned(message.id, message.kind, message.attempts,
                       Outgoing(client.phone_e164, body, self.rules.status_callback, validity),
                       body, reply_to, message.client_id, tried_since, _tells(message, appointment))

    def _hand_over(self, pool: ThreadPoolExecutor, planned: list[Planned], token: str) -> int:
        """Send side by side, each text recorded by its own thread as soon as the provider
        took it; renew the lease on what is still held meanwhile; release what was not sent
        when told to stop. A worker that dies leaves at most ``concurrency`` texts whose
        fate is unknown, and those are looked up at the provider before they go again."""

        def send(plan: Planned) -> Handed | str | None:
            try:
                return self._send(plan, token)
            except Exception:  # the database went away mid-send: the lease decides what happens
                log.exception("outbox %s: could not send or record", plan.message_id)
                return None

        handed, released = 0, []
        futures = {pool.submit(send, plan): plan for plan in planned}
        waiting, renewed_at = set(futures), _time.monotonic()
        while waiting:
            done, waiting = wait(waiting, timeout=self.rules.renew_every, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                if isinstance(outcome, Handed):
                    handed += 1
                elif outcome == RELEASED:
                    released.append(futures[future].message_id)
            if waiting and _time.monotonic() - renewed_at >= self.rules.renew_every:
                self._renew(token)
                renewed_at = _time.monotonic()
        if released:
            self._release(released, token)
        return handed

    def _send(self, plan: Planned, token: str) -> Handed | str | None:
        if self.pace is not None and not self.stopping.is_set():
            self.pace.wait_turn()
        if self.stopping.is_set():
            return RELEASED
        started = self.wall()
        if not self._hold(plan, token, started):
            log.warning("outbox %s: another worker took it over; not sent here", plan.message_id)
            return None
        with self._on_the_wire(plan.outgoing.to):
            handed = self._hand(plan, token, started)
            if handed is not None:
                self._record(handed, token)
        return handed

    def _hand(self, plan: Planned, token: str, started: datetime) -> Handed | None:
        """Hand the text to the provider, unless it has it already; None if it did not go."""
        if plan.tried_since is not None:  # an earlier send's fate is unknown: did it go?
            found = self._look_up(plan, plan.tried_since, token)
            if found is not False:
                return found
            if plan.out_of_date:
                log.info("outbox %s: not at the provider, and out of date; not sent", plan.message_id)
                self._withdrawn(plan.message_id, token, "out-of-date")
                return None
        try:
            if isinstance(plan.outgoing, OutgoingCall):
                return Handed(plan, self.sender.call(plan.outgoing))
            return Handed(plan, self.sender.send(plan.outgoing))
        except SendError as error:
            if not error.unknown:
                self._failed(plan.message_id, token, error, plan.attempts)
                return None
            found = self._look_up(plan, started, token)
            if found is not False:
                return found
            # Not there yet; a slow provider may still create it, so the next try looks
            # again before it sends.
            self._failed(plan.message_id, token, SendError(f"{error}; not found at the provider"),
                         plan.attempts, tried_since=plan.tried_since or started)
        except Exception as error:  # a sender bug must not stop the worker
            log.exception("sender failed")
            self._failed(plan.message_id, token, SendError(str(error)), plan.attempts)
        return None

    @contextmanager
    def _on_the_wire(self, number: str):
        """Count this worker's sends to one number, so that a look-up waits until the others
        have been answered and written down (see _look_up)."""
        with self._wire:
            self._sending_to[number] += 1
        try:
            yield
        finally:
            with self._wire:
                self._sending_to[number] -= 1
                if not self._sending_to[number]:
                    del self._sending_to[number]
                self._wire.notify_all()

    def _hold(self, plan: Planned, token: str, started: datetime) -> bool:
        """Is the text still ours? If so, extend the lease past this send and write down
        that a send begins (when, and its words), in one statement."""
        with self._engine.begin() as connection:
            return connection.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == plan.message_id, OutboxMessage.claim_token == token,
                       OutboxMessage.status == OutboxStatus.sending)
                .values(lease_until=started + self.rules.lease, sent_at=started, body=plan.body)
            ).rowcount == 1

    def _look_up(self, plan: Planned, since: datetime, token: str) -> Handed | None | bool:
        """Did the provider take this text after all? A Handed if so, False if it surely did
        not (send it), None if nobody can tell: then it goes to the desk, not out again.

        A text found there is ours only if no other text has its id: the worker's other
        sends to the same number are answered and written down first (for at most one HTTP
        timeout), then every id already stored is left out."""
        with self._wire:
            self._wire.wait_for(lambda: self._sending_to[plan.outgoing.to] <= 1,
                                timeout=self.rules.send_timeout.total_seconds())
        try:
            candidates = self.sender.find(plan.outgoing, since - CLOCK_SLACK)
        except SendError as error:
            log.warning("outbox %s: its send may have gone, and the provider cannot tell (%s); left to the desk",
                        plan.message_id, error)
            self._undecided(plan.message_id, token)
            return None
        if candidates:
            with transaction(self.sessions) as session:
                known = set(session.scalars(select(OutboxMessage.provider_sid).where(
                    OutboxMessage.provider_sid.in_(candidates))))
            for sid in candidates:
                if sid not in known:
                    log.info("outbox %s: the provider had taken it (%s); not sent again", plan.message_id, sid)
                    return Handed(plan, sid)
        return False

    def _renew(self, token: str) -> None:
        """Extend the lease of every text this worker still holds."""
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.claim_token == token, OutboxMessage.status == OutboxStatus.sending)
                    .values(lease_until=self.wall() + self.rules.lease))
        except Exception:  # the next renewal tries again; the lease has time to spare
            log.exception("could not renew the outbox lease")

    def _release(self, ids: list[int], token: str) -> None:
        """Give back claimed texts that were not sent (the worker is stopping): another
        worker may send them at once, and the claim does not count as an attempt."""
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.claim_token == token,
                       OutboxMessage.status == OutboxStatus.sending)
                .values(status=OutboxStatus.pending, claim_token=None, lease_until=None,
                        attempts=OutboxMessage.attempts - 1))
        log.info("stopping: released %d texts for another worker", len(ids))

    def _record(self, handed: Handed, token: str) -> None:
        """Mark a text the provider took as queued, if this worker still holds it. What the
        provider took stays sent: a provider id that is repeated or missing is left out. A
        lost database connection is waited out, up to half the lease or until the worker is
        told to stop (the lease keeps the row ours meanwhile, and after it the next worker
        looks the text up before sending it)."""
        deadline = _time.monotonic() + self.rules.lease.total_seconds() / 2
        pause = 0.25
        sid = handed.provider_sid or None
        while True:
            try:
                self._record_as(handed, token, sid)
                return
            except IntegrityError:  # another text was given the same id a moment ago
                log.warning("outbox %s: its provider id %s is already stored; kept as sent without it",
                            handed.planned.message_id, sid)
                sid = None
            except DBAPIError:
                if _time.monotonic() + pause > deadline or self.stopping.is_set():
                    log.exception("outbox %s: sent, but could not be recorded; the next worker looks it up",
                                  handed.planned.message_id)
                    return
                log.warning("outbox %s: sent; recording it again", handed.planned.message_id)
                _time.sleep(pause)
                pause = min(pause * 2, 4)

    def _record_as(self, handed: Handed, token: str, sid: str | None) -> None:
        """One statement, unless she may answer it (a reminder): a repeated id fails on the
        unique index, and _record writes the text again without it."""
        message_id = handed.planned.message_id
        recording = (update(OutboxMessage)
                     .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
                     .values(status=OutboxStatus.queued, provider_sid=sid, error_code=None if sid else "no-sid",
                             updated_at=self.now(), lease_until=None))
        told = _record_told(handed.planned.tells)
        if not handed.planned.reply_to:
            with self._engine.begin() as connection:
                recorded = connection.execute(recording).rowcount
                if recorded and told is not None:
                    connection.execute(told)
        else:
            with transaction(self.sessions) as session:
                recorded = session.execute(recording).rowcount
                if recorded and told is not None:
                    session.execute(told)
                if recorded:
                    try:
                        with session.begin_nested():
                            self._await_replies(session, [handed.planned])
                    except IntegrityError:  # her dialogue began at this moment: it keeps her next text
                        log.info("outbox %s: her dialogue began meanwhile; it keeps her next answer", message_id)
        if not recorded:
            log.warning("outbox %s was sent, but another worker had claimed it meanwhile", message_id)

    def _withdrawn(self, message_id: int, token: str, reason: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(update(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.claim_token == token).values(
                status=OutboxStatus.withdrawn, error_code=reason, updated_at=self.now(), lease_until=None))

    def _undecided(self, message_id: int, token: str) -> None:
        """It may have gone, or not: a person decides (the desk's queue of texts that did not
        arrive), rather than her getting it twice."""
        with self._engine.begin() as connection:
            connection.execute(update(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.claim_token == token).values(
                status=OutboxStatus.failed, error_code="unknown", updated_at=self.now(), lease_until=None))

    def _failed(self, message_id: int, token: str, error: SendError, attempts: int,
                tried_since: datetime | None = None) -> None:
        """It did not go (or was not found where it may have gone: ``tried_since``, and the
        next try looks it up again first)."""
        now = self.now()
        final = error.permanent or attempts >= self.rules.max_attempts
        log.warning("outbox %s: %s (%s)", message_id, error, "giving up" if final else "will try again")
        with self._engine.begin() as connection:
            values = {"error_code": str(error.code) if error.code else "error", "updated_at": now, "lease_until": None}
            if final:
                values["status"] = OutboxStatus.failed
            else:
                values.update(status=OutboxStatus.pending, due_at=now + backoff(attempts), sent_at=tried_since)
            connection.execute(update(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.claim_token == token).values(**values))
            if error.code == 21610:  # she unsubscribed with the provider itself
                client_id = connection.scalar(select(OutboxMessage.client_id).where(OutboxMessage.id == message_id))
                if client_id:
                    connection.execute(update(Client).where(Client.id == client_id).values(is_opted_out=True))

    def _await_replies(self, session: Session, reminders: list[Planned]) -> None:
        """After a reminder, her next text is read as an answer to it (1 OK, 2 cancel, 3 move)."""
        if not reminders:
            return
        now = self.now()
        conversations = {c.client_id: c for c in session.scalars(select(Conversation).where(
            Conversation.client_id.in_({p.client_id for p in reminders})))}
        for plan in reminders:
            # The most recent question is the one her digits answer: a reminder's, or a
            # waiting-list offer's (hotline.conversation's REMINDER and WAITLIST_OFFER).
            state = "waitlist_offer" if plan.kind == "offer" else "reminder"
            conversation = conversations.get(plan.client_id)
            if conversation is None:
                conversations[plan.client_id] = conversation = Conversation(
                    client_id=plan.client_id, state=state, data=plan.reply_to, updated_at=now)
                session.add(conversation)
            elif conversation.state in ("new", "language", "main", "reminder", "waitlist_offer") or (
                now - conversation.updated_at > REMINDER_TAKES_OVER_AFTER
            ):
                # Not while she is in the middle of booking or moving: her next "1" belongs
                # to that dialogue, not to the reminder.
                conversation.state, conversation.data, conversation.updated_at = state, plan.reply_to, now


def _record_told(told: Told | None):
    """She now knows this time: unless a text composed later, or her own booking or move,
    told her since."""
    if told is None:
        return None
    return (update(Appointment)
            .where(Appointment.id == told.appointment_id,
                   or_(Appointment.told_at.is_(None), Appointment.told_at <= told.composed_at))
            .values(told_start_at=told.start_at, told_counselor_id=told.counselor_id, told_at=told.composed_at)
            .execution_options(synchronize_session=False))


# Twilio's message statuses, in the order they happen; a callback never moves a text back.
PROVIDER_STATUS = {
    "accepted": OutboxStatus.queued, "scheduled": OutboxStatus.queued, "queued": OutboxStatus.queued,
    "sending": OutboxStatus.queued, "sent": OutboxStatus.sent, "delivered": OutboxStatus.delivered,
    "read": OutboxStatus.delivered, "undelivered": OutboxStatus.undelivered, "failed": OutboxStatus.failed,
    "canceled": OutboxStatus.failed,
}
_RANK = {OutboxStatus.queued: 1, OutboxStatus.sent: 2, OutboxStatus.delivered: 3,
         OutboxStatus.undelivered: 3, OutboxStatus.failed: 3}


def record_provider_status(session: Session, provider_sid: str, status: str, error_code: str | None,
                           now: datetime) -> bool:
    """Apply a delivery report; False if the text is unknown or the report is stale."""
    new = PROVIDER_STATUS.get((status or "").lower())
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.provider_sid == provider_sid)).first()
    if new is None or message is None:
        return False
    if _RANK.get(new, 0) <= _RANK.get(message.status, 0):
        return False
    message.status, message.updated_at = new, now
    if error_code:
        message.error_code = error_code[:20]
    return True


# A reminder call nobody answered is tried once more, this much later, then left to the
# receptionists.
CALL_AGAIN_AFTER = timedelta(minutes=30)
CALL_TRIES = 2


def record_call_outcome(session: Session, provider_sid: str, status: str, answered_by: str | None,
                        now: datetime) -> bool:
    """A reminder call ended: answered by her, or to be tried again, or failed for good."""
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.provider_sid == provider_sid)).first()
    if message is None:
        return False
    machine = (answered_by or "").startswith(("machine", "fax"))
    if status == "completed" and not machine:
        message.status, message.updated_at = OutboxStatus.delivered, now
        return True
    if status not in ("completed", "busy", "no-answer", "failed", "canceled"):
        return False
    message.error_code = ("machine" if machine else status)[:20]
    message.updated_at = now
    again = now + CALL_AGAIN_AFTER
    if message.attempts < CALL_TRIES and (message.expires_at is None or again < message.expires_at):
        message.status, message.due_at, message.provider_sid = OutboxStatus.pending, again, None
        message.sent_at = None  # the next call is a new one, not a send of unknown fate
    else:
        message.status = OutboxStatus.failed
    return True
