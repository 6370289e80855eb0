"""Reminder texts for an appointment: planned when it is booked or moved, withdrawn when
it is cancelled or moved. Never in the quiet hours, never in the past."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from scheduling.availability import BookingRules
from scheduling.models import Appointment, Client
from scheduling.notifications import queue_text, withdraw

# A reminder pushed earlier by the quiet hours that lands this close to another reminder
# is dropped: two texts in one evening about the same appointment is one too many.
TOO_CLOSE = timedelta(hours=6)


def reminder_times(start_at: datetime, now: datetime, rules: BookingRules) -> list[datetime]:
    """When to remind her of an appointment at ``start_at``, earliest first."""
    times: list[datetime] = []
    for lead in sorted(rules.reminder_leads, reverse=True):
        at = _outside_quiet_hours(start_at - lead, rules)
        if at <= now or at >= start_at:
            continue
        if times and at - times[-1] < TOO_CLOSE and at != start_at - lead:
            continue
        times.append(at)
    return times


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


def _outside_quiet_hours(at: datetime, rules: BookingRules) -> datetime:
    """``at``, or if that falls in the quiet hours, the quarter-hour before they began."""
    span = quiet_span(at, rules)
    return at if span is None else span[0] - timedelta(minutes=15)


def end_of_quiet_hours(at: datetime, rules: BookingRules) -> datetime | None:
    """If ``at`` falls in the quiet hours, when they end; else None."""
    span = quiet_span(at, rules)
    return None if span is None else span[1]


def plan_reminders(session: Session, appointment: Appointment, client: Client | None, *, now: datetime,
                   rules: BookingRules) -> None:
    withdraw(session, appointment_id=appointment.id, now=now, kind="reminder")
    for due_at in reminder_times(appointment.start_at, now, rules):
        queue_text(
            session, client, kind="reminder", template="reminder", now=now, due_at=due_at,
            params={"when": appointment.start_at.isoformat()}, appointment_id=appointment.id,
            expires_at=appointment.start_at,
        )
