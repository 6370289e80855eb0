"""What every admin page shares: the role check, the audit entry, the centre's time zone."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import abort, current_app
from flask_babel import format_date, format_time
from flask_login import current_user
from sqlalchemy.orm import Session

from scheduling import audit
from scheduling.models import Actor, StaffRole
from staff.admin.forms import WEEKDAYS
from staff.auth import role_required
from staff.views import now

admin_only = role_required(StaffRole.admin)
WEEKDAY_NAMES = dict(WEEKDAYS)


def tz() -> ZoneInfo:
    return current_app.extensions["linja.rules"].tz


def today() -> date:
    return now().astimezone(tz()).date()


def local_instant(day: date, at: time) -> datetime:
    """A wall-clock moment in Oslo as a UTC instant."""
    return datetime.combine(day, at, tzinfo=tz()).astimezone(timezone.utc)


def next_midnight(day: date) -> datetime:
    return local_instant(day + timedelta(days=1), time(0))


def record(session: Session, action: str, **details) -> None:
    """One audit entry for an admin's change. Never put a phone number in ``details``."""
    audit.record(session, at=now(), actor=Actor.staff, actor_staff_id=current_user.id,
                 action=action, details=details or None)


def get_or_404(session: Session, model, key):
    row = session.get(model, key)
    if row is None:
        abort(404)
    return row


def weekday_name(weekday: int) -> str:
    return str(WEEKDAY_NAMES.get(weekday, "?"))


def hhmm(at: time) -> str:
    return format_time(at, "HH:mm")


def day_label(day: date) -> str:
    return format_date(day, "EEE d. MMM y")


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    """Two half-open stretches [start, end) share a moment."""
    return a_start < b_end and b_start < a_end


def periods_overlap(a_from: date, a_until: date | None, b_from: date, b_until: date | None) -> bool:
    """Two inclusive date ranges (None: open-ended) share a day."""
    return (a_until is None or b_from <= a_until) and (b_until is None or a_from <= b_until)
