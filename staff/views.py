"""Staff pages: sign in, sign out, and the day's appointments."""
from __future__ import annotations

from datetime import date, time, timedelta

from babel.dates import format_date, format_time
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from scheduling.availability import local_interval
from scheduling.models import Appointment, AppointmentStatus, StaffRole
from staff.auth import authenticate, role_required
from staff.forms import LoginForm
from webdb import db

bp = Blueprint("staff", __name__, url_prefix="/staff")

STAFF_LOCALE = "nb_NO"


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(url_for("staff.day"))
        flash("Feil e-post eller passord.", "error")
    return render_template("staff/login.html", form=form)


@bp.post("/logout")
@role_required(*StaffRole)
def logout():
    logout_user()
    return redirect(url_for("staff.login"))


@bp.get("/")
@role_required(*StaffRole)
def day():
    rules = current_app.extensions["linja.rules"]
    now = current_app.extensions["linja.clock"].now()
    today = now.astimezone(rules.tz).date()
    shown = _parse_day(request.args.get("day"), today)
    start, _ = local_interval(shown, time(0), time(0), rules.tz)
    end, _ = local_interval(shown + timedelta(days=1), time(0), time(0), rules.tz)
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
            "time": format_time(a.start_at, "HH:mm", tzinfo=rules.tz, locale=STAFF_LOCALE),
            "end": format_time(a.end_at, "HH:mm", tzinfo=rules.tz, locale=STAFF_LOCALE),
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
        heading=format_date(shown, "full", locale=STAFF_LOCALE),
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
        flash("Den datoen forsto vi ikke; her er i dag.", "error")
        return default
