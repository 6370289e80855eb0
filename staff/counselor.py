"""A counselor's own calendar: her day, her week, who came and who did not.

She sees only her own appointments and nothing that tells who a caller is: no number, no
name; her language, whether an interpreter is needed and whether she has been here before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from babel.dates import format_interval
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, format_time, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError
from wtforms import IntegerField, StringField
from wtforms.validators import AnyOf, InputRequired

from scheduling import audit
from scheduling.booking import Booked, Conflict, NotChangeable
from scheduling.models import Actor, Appointment, AppointmentStatus, StaffRole
from staff.db import db
from staff.once import once
from staff.forms import StaffPageForm
from staff import nav
from staff.auth import role_required
from staff.labels import STATUS, VIA, day_asked_for, language_name
from staff.views import bp, now

# Earlier appointments that count as having been here: not cancelled ones, and not the
# ones she did not come to.
VISITED = (AppointmentStatus.booked, AppointmentStatus.attended)


@dataclass(frozen=True)
class Row:
    """One appointment as her pages show it: words, never a number or a name."""

    id: int
    version: int
    day: date
    start_at: datetime
    time: str
    end: str
    service: str
    language: str
    language_code: str | None
    is_interpreter_needed: bool
    visit: str  # "first", "returning" or "unknown"
    via: str
    status: str
    status_label: str
    can_mark: bool

    @property
    def is_cancelled(self) -> bool:
        return self.status == AppointmentStatus.cancelled.value


def _tz():
    return current_app.extensions["linja.rules"].tz


def _today() -> date:
    return now().astimezone(_tz()).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_tz()).astimezone(timezone.utc)


def her_appointments(session: Session, counselor_id: int, first_day: date, last_day: date) -> list[Row]:
    """Her appointments from the start of ``first_day`` to the end of ``last_day`` (Oslo)."""
    at = now()
    found = session.execute(
        select(Appointment)
        .options(selectinload(Appointment.service))
        .where(
            Appointment.counselor_id == counselor_id,
            Appointment.start_at >= _midnight(first_day),
            Appointment.start_at < _midnight(last_day + timedelta(days=1)),
        )
        .order_by(Appointment.start_at, Appointment.id)
    ).scalars().all()
    first_visits = _first_visits(session, {a.client_id for a in found if a.client_id is not None})
    tz = _tz()
    return [
        Row(
            id=a.id, version=a.version, day=a.start_at.astimezone(tz).date(), start_at=a.start_at,
            time=format_time(a.start_at, "HH:mm"), end=format_time(a.end_at, "HH:mm"),
            service=a.service.name_in("nb"), language=language_name(a.language_code), language_code=a.language_code,
            is_interpreter_needed=a.is_interpreter_needed,
            visit=_visit(a, first_visits), via=str(VIA.get(a.booked_via, a.booked_via.value)),
            status=a.status.value, status_label=str(STATUS[a.status]),
            can_mark=a.status != AppointmentStatus.cancelled and a.start_at <= at,
        )
        for a in found
    ]


def _first_visits(session: Session, client_ids: set[int]) -> dict[int, datetime]:
    """Each client's earliest appointment she came to (or is still booked for)."""
    if not client_ids:
        return {}
    return dict(session.execute(
        select(Appointment.client_id, func.min(Appointment.start_at))
        .where(Appointment.client_id.in_(client_ids), Appointment.status.in_(VISITED))
        .group_by(Appointment.client_id)
    ).all())


def _visit(appointment: Appointment, first_visits: dict[int, datetime]) -> str:
    # A caller who erased her data (or never gave a number) cannot be told apart.
    if appointment.client_id is None:
        return "unknown"
    first = first_visits.get(appointment.client_id)
    return "first" if first is None or appointment.start_at <= first else "returning"


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@bp.get("/day")
@role_required(StaffRole.counselor)
def day():
    today = _today()
    shown = day_asked_for(request.args.get("day"), today)
    rows = her_appointments(db(), current_user.id, shown, shown)
    live = [row for row in rows if not row.is_cancelled]
    context = dict(
        rows=rows, day=shown, today=today, heading=format_date(shown, "full"),
        summary=_summary(live),
        previous_day=(shown - timedelta(days=1)).isoformat(),
        next_day=(shown + timedelta(days=1)).isoformat(),
        week=_monday(shown).isoformat(),
        printed_at=format_datetime(now(), "short"),
    )
    if request.args.get("print"):
        return render_template("staff/counselor_print.html", **context)
    return render_template("staff/day.html", **context)


def _summary(live: list[Row]) -> str:
    if not live:
        return ""
    words = [ngettext("%(num)d time", "%(num)d timer", len(live))]
    interpreters = sum(row.is_interpreter_needed for row in live)
    if interpreters:
        words.append(ngettext("%(num)d med tolk", "%(num)d med tolk", interpreters))
    firsts = sum(row.visit == "first" for row in live)
    if firsts:
        words.append(ngettext("%(num)d første gang", "%(num)d første gang", firsts))
    return ", ".join(words)


@bp.get("/week")
@role_required(StaffRole.counselor)
def week():
    today = _today()
    monday = _monday(day_asked_for(request.args.get("week"), today))
    sunday = monday + timedelta(days=6)
    rows = her_appointments(db(), current_user.id, monday, sunday)
    by_day: dict[date, list[Row]] = {}
    for row in rows:
        by_day.setdefault(row.day, []).append(row)
    # Monday to Friday always; a weekend day only when something is booked on it.
    days = [monday + timedelta(days=n) for n in range(7)]
    days = [d for d in days if d.weekday() < 5 or by_day.get(d)]
    return render_template(
        "staff/week.html",
        days=[{"date": d, "name": _day_name(d), "rows": by_day.get(d, []),
               "summary": _summary([r for r in by_day.get(d, []) if not r.is_cancelled])}
              for d in days],
        today=today, monday=monday,
        heading=_("Uke %(number)d", number=monday.isocalendar().week),
        span=format_interval(monday, sunday, "yMMMd", locale=get_locale()),
        previous_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
        this_week=_monday(today).isoformat(),
    )


def _day_name(day: date) -> str:
    # "mandag 23. november", "Monday 23 November": the year is in the week's heading.
    return format_date(day, "EEEE d. MMMM" if get_locale().language == "nb" else "EEEE d MMMM")


class AttendanceForm(StaffPageForm):
    status = StringField(validators=[InputRequired(), AnyOf([
        AppointmentStatus.attended.value, AppointmentStatus.no_show.value, AppointmentStatus.booked.value])])
    version = IntegerField(validators=[InputRequired()])


def mark_attendance(
    session: Session, appointment: Appointment, status: AppointmentStatus, *,
    now: datetime, staff_id: int, expected_version: int,
) -> Booked | Conflict | NotChangeable:
    """Came, did not come, or back to booked when she pressed the wrong button.

    Refused (``Conflict``) when the appointment changed since she saw it, so she never
    overwrites the desk's change unknowingly; a cancelled or not yet begun appointment
    cannot be marked (``NotChangeable``).
    """
    if appointment.version != expected_version:
        return Conflict(appointment)
    if appointment.status == AppointmentStatus.cancelled or appointment.start_at > now:
        return NotChangeable(appointment)
    if appointment.status == status:
        return Booked(appointment)
    before = appointment.status
    try:
        with session.begin_nested():
            appointment.status = status
            appointment.changed_by_staff_id = staff_id
            appointment.updated_at = now
            session.flush()
    except StaleDataError:
        # Someone committed a change between our read and our write.
        session.expire(appointment)
        return Conflict(session.scalars(select(Appointment).where(Appointment.id == appointment.id)).one())
    audit.record(session, at=now, actor=Actor.staff, actor_staff_id=staff_id, action="attendance",
                 appointment_id=appointment.id, details={"from": before.value, "to": status.value})
    return Booked(appointment)


@bp.post("/day/appointments/<int:appointment_id>/attendance")
@role_required(StaffRole.counselor)
@once
def attendance(appointment_id: int):
    session = db()
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.counselor_id != current_user.id:
        abort(404)
    form = AttendanceForm()
    if not form.validate_on_submit():
        flash(_("Det valget forsto vi ikke. Prøv igjen."), "error")
        return redirect(_back_to(appointment))
    wanted = AppointmentStatus(form.status.data)
    when = format_datetime(appointment.start_at, "short")
    if form.version.data != appointment.version and appointment.status == wanted:
        # Her own second click (or another tab): what she wanted is already so.
        flash(_("Timen %(when)s er allerede merket: %(status)s.", when=when, status=STATUS[wanted]), "info")
        return redirect(_back_to(appointment))
    result = mark_attendance(session, appointment, wanted, now=now(), staff_id=current_user.id,
                             expected_version=form.version.data)
    if isinstance(result, Conflict):
        current = result.appointment
        if current.counselor_id != current_user.id:
            flash(_("Timen %(when)s ble flyttet til en annen rådgiver mens du hadde siden åpen. "
                    "Ingenting ble endret.", when=when), "error")
            return redirect(url_for("staff.day", day=appointment.start_at.astimezone(_tz()).date().isoformat()))
        flash(_("Noen endret timen %(when)s mens du hadde siden åpen, så valget ditt ble ikke lagret. "
                "Slik er den nå: %(status)s.", when=format_datetime(current.start_at, "short"),
                status=STATUS[current.status]), "error")
        return redirect(_back_to(current))
    if isinstance(result, NotChangeable):
        if appointment.status == AppointmentStatus.cancelled:
            flash(_("Timen %(when)s er avlyst og kan ikke merkes.", when=when), "error")
        else:
            flash(_("Timen %(when)s har ikke begynt ennå. Du kan merke den når den har startet.", when=when), "error")
        return redirect(_back_to(appointment))
    session.commit()
    if wanted == AppointmentStatus.booked:
        flash(_("Timen %(when)s er satt tilbake til «Bestilt».", when=when), "info")
    else:
        flash(_("Timen %(when)s er merket: %(status)s.", when=when, status=STATUS[wanted]), "info")
    return redirect(_back_to(appointment))


def _back_to(appointment: Appointment) -> str:
    local_day = appointment.start_at.astimezone(_tz()).date()
    day_arg = None if local_day == _today() else local_day.isoformat()
    return url_for("staff.day", day=day_arg, _anchor=f"appointment-{appointment.id}")


nav.add("staff.day", _l("Min dag"), StaffRole.counselor, order=10)
nav.add("staff.week", _l("Min uke"), StaffRole.counselor, order=11)
nav.HOME[StaffRole.counselor] = "staff.day"

from staff import calendar_feed  # noqa: F401,E402  (her calendar feed's routes join the blueprint)
