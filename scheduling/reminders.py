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


def _outside_quiet_hours(at: datetime, rules: BookingRules) -> datetime:
    """``at``, or if that falls in the quiet hours, the quarter-hour before they began."""
    local = at.astimezone(rules.tz)
    quiet_from, quiet_until = rules.quiet_from, rules.quiet_until
    clock = local.time()
    if quiet_from > quiet_until:  # the usual case: quiet over midnight
        if clock >= quiet_from:
            evening = local.date()
        elif clock < quiet_until:
            evening = local.date() - timedelta(days=1)
        else:
            return at
    elif quiet_from <= clock < quiet_until:
        evening = local.date()
    else:
        return at
    began = datetime.combine(evening, quiet_from, tzinfo=rules.tz)
    return (began - timedelta(minutes=15)).astimezone(at.tzinfo)


def end_of_quiet_hours(at: datetime, rules: BookingRules) -> datetime | None:
    """If ``at`` falls in the quiet hours, when they end; else None."""
    local = at.astimezone(rules.tz)
    clock = local.time()
    if rules.quiet_from > rules.quiet_until:  # over midnight
        if clock >= rules.quiet_from:
            day = local.date() + timedelta(days=1)
        elif clock < rules.quiet_until:
            day = local.date()
        else:
            return None
    elif rules.quiet_from <= clock < rules.quiet_until:
        day = local.date()
    else:
        return None
    return datetime.combine(day, rules.quiet_until, tzinfo=rules.tz).astimezone(at.tzinfo)


def plan_reminders(session: Session, appointment: Appointment, client: Client | None, *, now: datetime,
                   rules: BookingRules) -> None:
    withdraw(session, appointment_id=appointment.id, now=now, kind="reminder")
    for due_at in reminder_times(appointment.start_at, now, rules):
        queue_text(
            session, client, kind="reminder", template="reminder", now=now, due_at=due_at,
            params={"when": appointment.start_at.isoformat()}, appointment_id=appointment.id,
            expires_at=appointment.start_at,
        )
