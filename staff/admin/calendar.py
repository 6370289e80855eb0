"""A counselor's weekly working hours and her absences.

An absence never cancels anything by itself: the appointments already booked inside it
are listed, with the absence, until the desk has moved or cancelled them.
"""
from __future__ import annotations

from datetime import time, timedelta

from flask import flash, redirect, render_template, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from scheduling.models import Absence, Appointment, AppointmentStatus, Service, Staff, WorkingHours
from staff.admin.common import (
    admin_only,
    day_label,
    get_or_404,
    hhmm,
    local_instant,
    next_midnight,
    overlaps,
    periods_overlap,
    record,
    today,
    tz,
    weekday_name,
)
from staff.admin.forms import AbsenceForm, WorkingHoursForm
from staff.db import db
from staff.labels import language_name
from staff.once import once
from staff.views import bp, now


def _hours(session, staff_id: int) -> list[WorkingHours]:
    return session.scalars(select(WorkingHours).where(WorkingHours.staff_id == staff_id)
                           .order_by(WorkingHours.weekday, WorkingHours.starts, WorkingHours.valid_from)).all()


def booked_within(session, staff_id: int, starts_at, ends_at) -> list[dict]:
    """Her booked appointments that an absence [starts_at, ends_at) would leave without her."""
    return booked_within_each(session, staff_id, [(starts_at, ends_at)])[0]


def booked_within_each(session, staff_id: int, spans: list[tuple]) -> list[list[dict]]:
    """``booked_within`` for each of ``spans``, read in one query however many there are."""
    if not spans:
        return []
    rows = session.execute(
        select(Appointment, Service)
        .join(Service, Service.id == Appointment.service_id)
        .where(Appointment.counselor_id == staff_id, Appointment.status == AppointmentStatus.booked,
               Appointment.start_at < max(ends for _, ends in spans),
               Appointment.end_at > min(starts for starts, _ in spans))
        .order_by(Appointment.start_at)
    ).all()
    shown = [({"id": a.id, "when": format_datetime(a.start_at, "EEE d. MMM y HH:mm"), "service": s.name_in("nb"),
               "language": language_name(a.language_code), "is_interpreter_needed": a.is_interpreter_needed},
              a.start_at, a.end_at) for a, s in rows]
    return [[row for row, start_at, end_at in shown if start_at < ends and end_at > starts] for starts, ends in spans]


def _absence_label(absence: Absence) -> str:
    """Whole days as dates ("man. 23. nov. 2026, hele dagen"), anything else with times."""
    starts, ends = absence.starts_at.astimezone(tz()), absence.ends_at.astimezone(tz())
    if starts.time() == time(0) and ends.time() == time(0):
        last = (ends - timedelta(hours=12)).date()
        if last == starts.date():
            return _("%(day)s, hele dagen", day=day_label(starts.date()))
        return _("%(first)s – %(last)s, hele dager", first=day_label(starts.date()), last=day_label(last))
    return "{} – {}".format(format_datetime(absence.starts_at, "EEE d. MMM y HH:mm"),
                            format_datetime(absence.ends_at, "EEE d. MMM y HH:mm"))


def _page(session, staff: Staff, hours_form=None, absence_form=None, status=200):
    at = now()
    absences = session.scalars(select(Absence).where(Absence.staff_id == staff.id, Absence.ends_at > at)
                               .order_by(Absence.starts_at)).all()
    booked = booked_within_each(session, staff.id, [(max(a.starts_at, at), a.ends_at) for a in absences])
    upcoming = [{"id": a.id, "reason": a.reason, "when": _absence_label(a), "booked": within}
                for a, within in zip(absences, booked)]
    hours = [{
        "id": h.id, "weekday": weekday_name(h.weekday), "starts": hhmm(h.starts), "ends": hhmm(h.ends),
        "valid_from": day_label(h.valid_from), "valid_until": day_label(h.valid_until) if h.valid_until else None,
        "is_past": h.valid_until is not None and h.valid_until < today(),
    } for h in _hours(session, staff.id)]
    if hours_form is None:
        hours_form = WorkingHoursForm(formdata=None, data={"valid_from": today()})
    if absence_form is None:
        absence_form = AbsenceForm(formdata=None)
    return render_template("staff/admin/calendar.html", staff=staff, hours=hours, absences=upcoming,
                           hours_form=hours_form, absence_form=absence_form), status


@bp.get("/admin/staff/<int:staff_id>/calendar")
@admin_only
def admin_calendar(staff_id: int):
    session = db()
    return _page(session, get_or_404(session, Staff, staff_id))


@bp.post("/admin/staff/<int:staff_id>/hours")
@admin_only
@once
def admin_hours_add(staff_id: int):
    session = db()
    staff = get_or_404(session, Staff, staff_id)
    form = WorkingHoursForm()
    if form.validate_on_submit():
        f = form.data
        if f["starts"] >= f["ends"]:
            form.ends.errors.append(_("Sluttiden må være etter starttiden."))
        elif f["valid_until"] is not None and f["valid_until"] < f["valid_from"]:
            form.valid_until.errors.append(_("Sluttdatoen kan ikke være før startdatoen."))
        else:
            clash = next((h for h in _hours(session, staff.id)
                          if h.weekday == f["weekday"] and overlaps(h.starts, h.ends, f["starts"], f["ends"])
                          and periods_overlap(h.valid_from, h.valid_until, f["valid_from"], f["valid_until"])), None)
            if clash is not None:
                form.starts.errors.append(_(
                    "Dette overlapper med %(weekday)s %(starts)s–%(ends)s som hun allerede har. Fjern eller "
                    "avslutt den først.", weekday=weekday_name(clash.weekday), starts=hhmm(clash.starts),
                    ends=hhmm(clash.ends)))
            else:
                hours = WorkingHours(staff_id=staff.id, weekday=f["weekday"], starts=f["starts"], ends=f["ends"],
                                     valid_from=f["valid_from"], valid_until=f["valid_until"])
                session.add(hours)
                session.flush()
                record(session, "working_hours_added", staff=staff.id, hours=hours.id, weekday=hours.weekday,
                       starts=hhmm(hours.starts), ends=hhmm(hours.ends), valid_from=hours.valid_from.isoformat(),
                       valid_until=hours.valid_until.isoformat() if hours.valid_until else None)
                session.commit()
                flash(_("Arbeidstiden er lagt til."), "info")
                return redirect(url_for("staff.admin_calendar", staff_id=staff.id))
    return _page(session, staff, hours_form=form, status=400)


@bp.post("/admin/hours/<int:hours_id>/delete")
@admin_only
@once
def admin_hours_delete(hours_id: int):
    session = db()
    hours = get_or_404(session, WorkingHours, hours_id)
    staff_id = hours.staff_id
    record(session, "working_hours_removed", staff=staff_id, hours=hours.id, weekday=hours.weekday,
           starts=hhmm(hours.starts), ends=hhmm(hours.ends))
    session.delete(hours)
    session.commit()
    flash(_("Arbeidstiden er fjernet. Timer som allerede er booket, står som før."), "info")
    return redirect(url_for("staff.admin_calendar", staff_id=staff_id))


@bp.post("/admin/staff/<int:staff_id>/absences")
@admin_only
@once
def admin_absence_add(staff_id: int):
    session = db()
    staff = get_or_404(session, Staff, staff_id)
    form = AbsenceForm()
    if form.validate_on_submit():
        f = form.data
        starts_at = local_instant(f["first_day"], f["starts"] or time(0))
        ends_at = local_instant(f["last_day"], f["ends"]) if f["ends"] else next_midnight(f["last_day"])
        if ends_at <= starts_at:
            (form.ends if f["last_day"] == f["first_day"] else form.last_day).errors.append(
                _("Fraværet må slutte etter at det begynner."))
        elif ends_at <= now():
            form.last_day.errors.append(_("Dette fraværet er allerede over. Skriv inn et fravær som ikke er forbi."))
        else:
            absence = Absence(staff_id=staff.id, starts_at=starts_at, ends_at=ends_at,
                              reason=(f["reason"] or "").strip() or None)
            session.add(absence)
            session.flush()
            booked = booked_within(session, staff.id, max(starts_at, now()), ends_at)
            record(session, "absence_added", staff=staff.id, absence=absence.id, starts_at=starts_at.isoformat(),
                   ends_at=ends_at.isoformat(), booked_appointments=[b["id"] for b in booked])
            session.commit()
            if booked:
                flash(ngettext("Fraværet er lagret, men %(num)d time er allerede booket i denne perioden. Den står "
                               "under fraværet nedenfor: resepsjonen må flytte den.",
                               "Fraværet er lagret, men %(num)d timer er allerede booket i denne perioden. De står "
                               "under fraværet nedenfor: resepsjonen må flytte dem.", len(booked)), "error")
            else:
                flash(_("Fraværet er lagret. Hun får ingen nye timer i denne perioden."), "info")
            return redirect(url_for("staff.admin_calendar", staff_id=staff.id))
    return _page(session, staff, absence_form=form, status=400)


@bp.post("/admin/absences/<int:absence_id>/delete")
@admin_only
@once
def admin_absence_delete(absence_id: int):
    session = db()
    absence = get_or_404(session, Absence, absence_id)
    staff_id = absence.staff_id
    record(session, "absence_removed", staff=staff_id, absence=absence.id,
           starts_at=absence.starts_at.isoformat(), ends_at=absence.ends_at.isoformat())
    session.delete(absence)
    session.commit()
    flash(_("Fraværet er fjernet."), "info")
    return redirect(url_for("staff.admin_calendar", staff_id=staff_id))
