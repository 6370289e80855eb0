"""Sending the outbox: claim due texts, hand each to the sender once, record the result.

Any number of workers may run. A worker claims rows with ``SELECT ... FOR UPDATE SKIP
LOCKED`` (PostgreSQL; SQLite runs one writer at a time), marks them ``sending`` with a
lease and a claim token and commits *before* calling the provider. If it dies, the lease
runs out and another worker sends the row again: a text that was in flight at the crash
goes at most once more, and that is logged. A worker whose lease ran out cannot record a
result for a row another worker has claimed since: every update is guarded by the token.
"""
from __future__ import annotations

import logging
import threading
import time as _time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scheduling.availability import BookingRules
from scheduling.db import transaction
from scheduling.reminders import end_of_quiet_hours
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


@dataclass(frozen=True)
class Outgoing:
    to: str
    body: str
    status_callback: str | None = None
    # Seconds the provider may keep the text queued before dropping it (reminders).
    validity_seconds: int | None = None


class SendError(Exception):
    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False):
        super().__init__(message)
        self.code, self.permanent = code, permanent


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


Render = Callable[[str, str | None, dict], str]  # (template, language, params) -> words


@dataclass(frozen=True)
class SendingRules:
    per_second: float = 1.0  # 0: no limit
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 5
    status_callback: str | None = None
    # Reminder calls: the TwiML to answer with (".../voice/reminder?message=<id>") and
    # where the call's status is reported.
    reminder_call_url: str | None = None
    call_status_callback: str | None = None
    # Texts handed over at once by one worker: the provider's answer takes longer than
    # everything Linja does for a text, so a worker keeps several in flight.
    concurrency: int = 8

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


def claim_due(session: Session, now: datetime, *, limit: int, lease: timedelta, token: str) -> list[int]:
    """Claim up to ``limit`` due texts, and texts whose worker's lease ran out."""
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.due_at <= now),
        and_(OutboxMessage.status == OutboxStatus.sending, OutboxMessage.lease_until < now),
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
            log.warning("outbox %s was in flight when its worker stopped; sending it again (at most once more)",
                        message_id)
    ids = [message_id for message_id, _ in rows]
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(status=OutboxStatus.sending, claim_token=token, lease_until=now + lease,
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
    one goes, so she does not get two at once."""
    reminders = [m for m in messages if m.kind == "reminder" and m.appointment_id is not None]
    if not reminders:
        return set()
    due = session.execute(select(OutboxMessage.appointment_id, OutboxMessage.due_at).where(
        OutboxMessage.appointment_id.in_({m.appointment_id for m in reminders}),
        OutboxMessage.kind == "reminder", OutboxMessage.due_at <= now,
        OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.sending)),
    )).all()
    latest: dict[int, datetime] = {}
    for appointment_id, due_at in due:
        latest[appointment_id] = max(due_at, latest.get(appointment_id, due_at))
    return {m.id for m in reminders if m.due_at < latest.get(m.appointment_id, m.due_at)}


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


@dataclass(frozen=True)
class Handed:
    planned: Planned
    provider_sid: str


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

    def send_due(self, *, until: Callable[[], bool] = lambda: False) -> int:
        """Send every text that is due; returns how many were handed to the provider."""
        handed = 0
        with ThreadPoolExecutor(max_workers=max(1, self.rules.concurrency)) as pool:
            while not until():
                token = str(uuid.uuid4())
                with transaction(self.sessions) as session:
                    now = self.now()
                    ids = claim_due(session, now, limit=self.rules.batch, lease=self.rules.lease, token=token)
                    planned = self._plan(session, ids, now) if ids else []
                if not ids:
                    break
                handed += self._hand_over(pool, planned, token)
        return handed

    def _plan(self, session: Session, ids: list[int], now: datetime) -> list[Planned]:
        """Read the claimed texts with their callers and appointments in one query; set
        aside the ones that must not go (withdrawn) or not yet (quiet hours)."""
        rows = session.execute(
            select(OutboxMessage, Client, Appointment)
            .outerjoin(Client, Client.id == OutboxMessage.client_id)
            .outerjoin(Appointment, Appointment.id == OutboxMessage.appointment_id)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        ).all()
        superseded = _superseded_reminders(session, [m for m, _, _ in rows], now)
        quiet_ends = end_of_quiet_hours(now, self.centre_rules) if self.centre_rules else None
        planned = []
        for message, client, appointment in rows:
            reason = _why_not(message, client, appointment, now) or (
                "superseded" if message.id in superseded else None)
            if reason:
                message.status, message.error_code, message.updated_at = OutboxStatus.withdrawn, reason, now
                continue
            if quiet_ends is not None:  # the workers were down, or the clock moved: wait for morning
                message.status, message.due_at, message.updated_at = OutboxStatus.pending, quiet_ends, now
                message.attempts -= 1
                continue
            planned.append(self._outgoing(message, client, appointment, now))
        return planned

    def _outgoing(self, message: OutboxMessage, client: Client, appointment: Appointment | None,
                  now: datetime) -> Planned:
        if message.kind == "reminder" and client.wants_reminder_calls and self.rules.reminder_call_url:
            call = OutgoingCall(client.phone_e164, f"{self.rules.reminder_call_url}?message={message.id}",
                                self.rules.call_status_callback)
            return Planned(message.id, message.kind, message.attempts, call, "(call)")
        params = message.params or {}
        if client.code_word_hash:
            # She has a code word: the renderer says the time and nothing more (no address,
            # no reply options), and "tomorrow" is reckoned from now, when it goes.
            params = {**params, "private": True, "sent_at": now.isoformat()}
        body = self.render(message.template, message.language_code, params)
        validity = None
        if message.expires_at is not None:
            validity = int(min(message.expires_at - now, MAX_VALIDITY).total_seconds())
        reply_to = None
        if message.kind == "reminder" and appointment is not None:
            reply_to = {"appointment": appointment.id, "when": appointment.start_at.isoformat(),
                        "service": appointment.service_id}
        return Planned(message.id, message.kind, message.attempts,
                       Outgoing(client.phone_e164, body, self.rules.status_callback, validity),
                       body, reply_to, message.client_id)

    def _hand_over(self, pool: ThreadPoolExecutor, planned: list[Planned], token: str) -> int:
        """Send side by side; write results a few at a time. A worker that dies loses the
        record of at most 2 × concurrency sent texts (on the wire, or sent and not yet
        written), and each of those goes at most once more."""
        step = max(1, self.rules.concurrency)
        unrecorded = threading.BoundedSemaphore(2 * step)

        def send(plan: Planned) -> Handed | None:
            unrecorded.acquire()
            handed = self._send(plan, token)
            if handed is None:  # its failure is already written
                unrecorded.release()
            return handed

        handed, pending = 0, []
        for future in as_completed([pool.submit(send, plan) for plan in planned]):
            if (result := future.result()) is not None:
                pending.append(result)
            if len(pending) >= step:
                handed += self._record(pending, token)
                for _ in pending:
                    unrecorded.release()
                pending = []
        if pending:
            handed += self._record(pending, token)
            for _ in pending:
                unrecorded.release()
        return handed

    def _send(self, plan: Planned, token: str) -> Handed | None:
        if self.pace is not None:
            self.pace.wait_turn()
        try:
            if isinstance(plan.outgoing, OutgoingCall):
                return Handed(plan, self.sender.call(plan.outgoing))
            return Handed(plan, self.sender.send(plan.outgoing))
        except SendError as error:
            self._failed(plan.message_id, token, error, plan.attempts)
        except Exception as error:  # a sender bug must not stop the worker
            log.exception("sender failed")
            self._failed(plan.message_id, token, SendError(str(error)), plan.attempts)
        return None

    def _record(self, handed: list[Handed], token: str) -> int:
        """Mark texts the provider took as queued; only rows this worker still holds."""
        now = self.now()
        ids = [h.planned.message_id for h in handed]
        with transaction(self.sessions) as session:
            ours = set(session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.id.in_(ids), OutboxMessage.claim_token == token)))
            for message_id in ids:
                if message_id not in ours:
                    log.warning("outbox %s was sent, but another worker had claimed it meanwhile", message_id)
            done = [h for h in handed if h.planned.message_id in ours]
            if done:
                table = OutboxMessage.__table__
                session.connection().execute(
                    update(table).where(table.c.id == bindparam("message_id"), table.c.claim_token == token)
                    .values(status=OutboxStatus.queued, provider_sid=bindparam("sid"), body=bindparam("text"),
                            sent_at=now, updated_at=now, lease_until=None),
                    [{"message_id": h.planned.message_id, "sid": h.provider_sid, "text": h.planned.body}
                     for h in done],
                )
                self._await_replies(session, [h.planned for h in done if h.planned.reply_to])
        return len(handed)

    def _failed(self, message_id: int, token: str, error: SendError, attempts: int) -> None:
        now = self.now()
        final = error.permanent or attempts >= self.rules.max_attempts
        log.warning("outbox %s: %s (%s)", message_id, error, "giving up" if final else "will try again")
        with transaction(self.sessions) as session:
            values = {"error_code": str(error.code) if error.code else "error", "updated_at": now, "lease_until": None}
            if final:
                values["status"] = OutboxStatus.failed
            else:
                values.update(status=OutboxStatus.pending, due_at=now + backoff(attempts))
            session.execute(update(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.claim_token == token).values(**values))
            if error.code == 21610:  # she unsubscribed with the provider itself
                client_id = session.scalar(select(OutboxMessage.client_id).where(OutboxMessage.id == message_id))
                if client_id:
                    session.execute(update(Client).where(Client.id == client_id).values(is_opted_out=True))

    def _await_replies(self, session: Session, reminders: list[Planned]) -> None:
        """After a reminder, her next text is read as an answer to it (1 OK, 2 cancel, 3 move)."""
        if not reminders:
            return
        now = self.now()
        conversations = {c.client_id: c for c in session.scalars(select(Conversation).where(
            Conversation.client_id.in_({p.client_id for p in reminders})))}
        for plan in reminders:
            conversation = conversations.get(plan.client_id)
            if conversation is None:
                conversations[plan.client_id] = conversation = Conversation(
                    client_id=plan.client_id, state="reminder", data=plan.reply_to, updated_at=now)
                session.add(conversation)
            elif conversation.state in ("new", "language", "main", "reminder") or (
                now - conversation.updated_at > REMINDER_TAKES_OVER_AFTER
            ):
                # Not while she is in the middle of booking or moving: her next "1" belongs
                # to that dialogue, not to the reminder.
                conversation.state, conversation.data, conversation.updated_at = "reminder", plan.reply_to, now


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
    else:
        message.status = OutboxStatus.failed
    return True
