"""A counselor's own calendar: her day."""
from __future__ import annotations

from datetime import date, time, timedelta

from flask import current_app, flash, render_template, request
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from scheduling.availability import local_interval
from scheduling.models import Appointment, AppointmentStatus, StaffRole
from staff import nav
from staff.auth import role_required
from staff.views import bp, now
from webdb import db


@bp.get("/day")
@role_required(*StaffRole)
def day():
    rules = current_app.extensions["linja.rules"]
    today = now().astimezone(rules.tz).date()
    shown = _parse_day(request.args.get("day"), today)
    start, _end = local_interval(shown, time(0), time(0), rules.tz)
    end, _end = local_interval(shown + timedelta(days=1), time(0), time(0), rules.tz)
    query = (
        select(Appointment)
        .options(selectinload(Appointment.counselor), selectinload(Appointment.service))
        .where(
            Appointment.start_at >= start,
            Appointment.start_at < end,
            Appointment.status != AppointmentStatus.cancelled,
        )
        .order_by(Appointment.start_at)
    )
    if current_user.role == StaffRole.counselor:
        query = query.where(Appointment.counselor_id == current_user.id)
    appointments = db().scalars(query).all()
    rows = [
        {
            "time": format_time(a.start_at, "HH:mm"),
            "end": format_time(a.end_at, "HH:mm"),
            "counselor": a.counselor.name,
            "service": a.service.name_in("nb"),
            "language": a.language_code or "",
            "interpreter": a.is_interpreter_needed,
            "via": a.booked_via.value,
            "status": a.status.value,
        }
        for a in appointments
    ]
    return render_template(
        "staff/day.html",
        rows=rows,
        heading=format_date(shown, "full"),
        previous_day=(shown - timedelta(days=1)).isoformat(),
        next_day=(shown + timedelta(days=1)).isoformat(),
        show_counselor=current_user.role != StaffRole.counselor,
    )


def _parse_day(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        flash(_("Den datoen forsto vi ikke; her er i dag."), "error")
        return default


nav.add("staff.day", _l("Min dag"), StaffRole.counselor, order=10)
for role in StaffRole:
    nav.HOME.setdefault(role, "staff.day")
