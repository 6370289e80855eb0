"""Reminder texts for an appointment: planned when it is booked or moved, withdrawn when
it is cancelled or moved. Never in the quiet hours, never in the past, never after it began."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.availability import BookingRules
from scheduling.models import Appointment, Client, OutboxMessage, OutboxStatus
from scheduling.notifications import queue_text, withdraw

# The quiet hours' rule for a reminder that would fall in them: it goes when they end if
# that still leaves her MORNING_NOTICE before her time; otherwise the evening before, a
# little before they begin (a busy worker still sends it in time), unless a longer-lead
# reminder reaches her less than APART before that: two texts so close is one too many.
MORNING_NOTICE = timedelta(hours=1)
EVENING_MARGIN = timedelta(minutes=15)
APART = timedelta(hours=12)
# The texts that reached her (or are with Twilio): a reminder that "went".
WENT = (OutboxStatus.sending, OutboxStatus.queued, OutboxStatus.sent, OutboxStatus.delivered)


def reminder_times(start_at: datetime, now: datetime, rules: BookingRules, *,
                   went: Iterable[datetime] = ()) -> list[datetime]:
    """When to remind her of an appointment at ``start_at``, earliest first; ``went`` are
    the reminders of this very time that already went out.

    A reminder whose moment has passed when she books is not sent: her confirmation names
    the time. One the quiet hours move is placed by ``_outside_quiet_hours``; if that place
    has passed too (booked late the evening before, or in the quiet hours) it is not sent
    either. None is ever due in the quiet hours or once her appointment has begun."""
    times: list[datetime] = []
    earlier = list(went)
    for lead in sorted(rules.reminder_leads, reverse=True):
        due_at = start_at - lead
        if due_at <= now:
            continue
        at = _outside_quiet_hours(due_at, start_at, rules)
        if at <= now or at >= start_at or at in times:
            continue
        if at < due_at and any(timedelta(0) <= at - other < APART for other in earlier + times):
            continue  # moved to the evening before, too soon after the longer-lead one
        times.append(at)
    return sorted(times)


def quiet_span(at: datetime, rules: BookingRules) -> tuple[datetime, datetime] | None:
    """If ``at`` falls in the quiet hours, when they began and when they end; else None."""
    local = at.astimezone(rules.tz)
    clock, day = local.time(), local.date()
    if rules.quiet_from > rules.quiet_until:  # the usual case: quiet over midnight
        if clock >= rules.quiet_from:
            evening = day
        elif clock < rules.quiet_until:
            evening = day - timedelta(days=1)
        else:
            return None
        morning = evening + timedelta(days=1)
    elif rules.quiet_from <= clock < rules.quiet_until:
        evening = morning = day
    else:
        return None
    began = datetime.combine(evening, rules.quiet_from, tzinfo=rules.tz)
    ends = datetime.combine(morning, rules.quiet_until, tzinfo=rules.tz)
    return began.astimezone(at.tzinfo), ends.astimezone(at.tzinfo)


def _outside_quiet_hours(at: datetime, start_at: datetime, rules: BookingRules) -> datetime:
    """``at``, or if that falls in the quiet hours: when they end, if that is at least
    ``MORNING_NOTICE`` before ``start_at``; else a little before they began."""
    span = quiet_span(at, rules)
    if span is None:
        return at
    began, ends = span
    if ends <= start_at - MORNING_NOTICE:
        return ends
    return began - EVENING_MARGIN


def end_of_quiet_hours(at: datetime, rules: BookingRules) -> datetime | None:
    """If ``at`` falls in the quiet hours, when they end; else None."""
    span = quiet_span(at, rules)
    return None if span is None else span[1]


def plan_reminders(session: Session, appointment: Appointment, client: Client | None, *, now: datetime,
                   rules: BookingRules, is_new: bool = False) -> None:
    """Queue the reminders of ``appointment`` in place of any queued before (a new one,
    ``is_new``, has none, nor any that went)."""
    if not is_new:
        withdraw(session, appointment_id=appointment.id, now=now, kind="reminder")
    went = [] if is_new else _went(session, appointment)
    for due_at in reminder_times(appointment.start_at, now, rules, went=went):
        queue_text(
            session, client, kind="reminder", template="reminder", now=now, due_at=due_at,
            params={"when": appointment.start_at.isoformat()}, appointment_id=appointment.id,
            expires_at=appointment.start_at,
        )


def _went(session: Session, appointment: Appointment) -> list[datetime]:
    """When reminders of this appointment that named the time it has now went out (it may
    have moved to another counselor, or back to this time, since). Their due time: the
    worker sends a text when it is due (``sent_at`` is the real clock's, for its leases)."""
    rows = session.execute(select(OutboxMessage.params, OutboxMessage.due_at).where(
        OutboxMessage.appointment_id == appointment.id, OutboxMessage.kind == "reminder",
        OutboxMessage.status.in_(WENT),
    )).all()
    return [due_at for params, due_at in rows if _named(params) == appointment.start_at]


def _named(params: dict | None) -> datetime | None:
    try:
        return datetime.fromisoformat((params or {})["when"])
    except (KeyError, TypeError, ValueError):
        return None
