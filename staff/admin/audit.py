"""The audit trail for admins: who saw or changed which caller's appointment, and when.

Newest first, a page at a time, filtered by staff member, action, appointment and dates.
The trail keeps no phone number, and this page shows none: a number a staff member typed
into free text (a cancellation reason) is masked too.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time

from flask import render_template, request, url_for
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms import DateField, Form, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from scheduling.models import Actor, AuditEntry, Staff
from staff.admin.common import admin_only, local_instant, next_midnight
from staff.admin.forms import BAD_DATE
from staff.labels import MAX_ID
from staff.db import db
from staff.forms import choices
from staff.views import bp

PER_PAGE = 50
CALLER, SYSTEM = "caller", "system"

# What each action means, in the admin's words. An action not listed here (a new one)
# is shown by its code name, and can still be filtered on.
ACTIONS = {
    "caller_viewed": _l("Så på en innringer (søk)"),
    "appointment_viewed": _l("Så på en time"),
    "voicemail_played": _l("Spilte av en talemelding"),
    "booked": _l("Bestilte en time"),
    "moved": _l("Flyttet en time"),
    "cancelled": _l("Avlyste en time"),
    "attendance": _l("Registrerte oppmøte"),
    "callback_called": _l("Ringte tilbake"),
    "caller_erased": _l("Innringerens nummer og historikk ble slettet"),
    "opted_out": _l("Innringer sa STOPP til SMS"),
    "opted_in": _l("Innringer sa START til SMS"),
    "password_changed": _l("Byttet sitt passord"),
    "calendar_feed_created": _l("Lagde en kalenderlenke"),
    "calendar_feed_replaced": _l("Byttet kalenderlenken"),
    "calendar_feed_revoked": _l("Slettet kalenderlenken"),
    "staff_added": _l("La til en ansatt"),
    "staff_changed": _l("Endret en ansatt"),
    "staff_password_set": _l("Satte passord for en ansatt"),
    "staff_signed_out_everywhere": _l("Logget ut en ansatt overalt"),
    "working_hours_added": _l("La til arbeidstid"),
    "working_hours_removed": _l("Fjernet arbeidstid"),
    "absence_added": _l("La til fravær"),
    "absence_removed": _l("Fjernet fravær"),
    "service_added": _l("La til en tjeneste"),
    "service_changed": _l("Endret en tjeneste"),
    "languages_changed": _l("Endret språkene"),
    "opening_hours_added": _l("La til åpningstid"),
    "opening_hours_removed": _l("Fjernet åpningstid"),
    "closure_added": _l("La til stengte dager"),
    "closure_removed": _l("Fjernet stengte dager"),
    "duty_shift_added": _l("La til en vakt"),
    "duty_shift_removed": _l("Fjernet en vakt"),
    "recording_added": _l("La til et lydopptak"),
    "recording_replaced": _l("Byttet et lydopptak"),
    "code_word_set": _l("Innringer valgte et kodeord"),
    "code_word_locked": _l("Kodeordet ble låst etter for mange feil forsøk"),
    "code_word_cleared": _l("Fjernet en innringers kodeord"),
}
# Seven digits or more, with the spaces, dashes and brackets people write numbers with.
PHONE_LIKE = re.compile(r"\+?\(?\d(?:[\s().-]*\d){6,}")
HIDDEN = "•••"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class AuditFilter(Form):
    """A GET form: filters are part of the URL, so a filtered page can be bookmarked."""

    who = SelectField(_l("Hvem"), default="", validators=[Optional()])
    action = SelectField(_l("Hva"), default="", validators=[Optional()])
    appointment = IntegerField(_l("Time nr."), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    since = DateField(_l("Fra og med dato"), validators=[Optional()], format="%Y-%m-%d")
    until = DateField(_l("Til og med dato"), validators=[Optional()], format="%Y-%m-%d")

    def validate(self, extra_validators=None) -> bool:
        is_valid = super().validate(extra_validators)
        # WTForms' own messages are English; say it in the staff's words.
        for date_field in (self.since, self.until):
            if date_field.errors:
                date_field.errors = [str(BAD_DATE)]
        for choice in (self.who, self.action):
            if choice.errors:
                choice.errors = [_("Velg fra listen.")]
        if self.appointment.errors:
            self.appointment.errors = [_("Skriv nummeret på timen, for eksempel 42.")]
        return is_valid


def _without_phone_numbers(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_without_phone_numbers(v)}" for key, v in value.items() if "phone" not in key)
    if isinstance(value, list):
        return "[" + ", ".join(_without_phone_numbers(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return _readable_instant(str(value)) or PHONE_LIKE.sub(HIDDEN, str(value))


def _readable_instant(value: str) -> str | None:
    """An ISO date or instant in Oslo words ("tir. 24. nov. 2026 10:00"), which no
    phone-number mask can mistake for digits; None for anything else."""
    if not ISO_DATE.match(value):
        return None
    try:
        if len(value) == 10:
            return format_date(date.fromisoformat(value), "d. MMM y")
        return format_datetime(datetime.fromisoformat(value), "EEE d. MMM y HH:mm")
    except ValueError:
        return None


def describe(entry: AuditEntry) -> str:
    return str(ACTIONS.get(entry.action, entry.action))


def _choices(session, form: AuditFilter) -> None:
    people = session.scalars(select(Staff).order_by(Staff.name, Staff.id)).all()
    form.who.choices = choices([("", _("Alle")), (CALLER, _("innringer")), (SYSTEM, _("system"))] + [
        (str(person.id), person.name) for person in people])
    seen = session.scalars(select(AuditEntry.action).distinct()).all()
    known = [(code, str(label)) for code, label in ACTIONS.items()]
    extra = sorted((code, code) for code in set(seen) - set(ACTIONS))
    form.action.choices = choices([("", _("Alle"))] + sorted(known, key=lambda c: c[1]) + extra)


def _filtered(form: AuditFilter):
    query = select(AuditEntry)
    who = form.who.data or ""
    if who == CALLER:
        query = query.where(AuditEntry.actor == Actor.caller)
    elif who == SYSTEM:
        query = query.where(AuditEntry.actor == Actor.system)
    elif who.isdigit():
        query = query.where(AuditEntry.actor_staff_id == int(who))
    if form.action.data:
        query = query.where(AuditEntry.action == form.action.data)
    if form.appointment.data:
        query = query.where(AuditEntry.appointment_id == form.appointment.data)
    if form.since.data:
        query = query.where(AuditEntry.at >= local_instant(form.since.data, time(0)))
    if form.until.data:
        query = query.where(AuditEntry.at < next_midnight(form.until.data))
    return query


@bp.get("/admin/audit")
@admin_only
def admin_audit():
    session = db()
    form = AuditFilter(request.args)
    _choices(session, form)
    is_valid = form.validate()
    if not is_valid:
        # A wrong filter shows nothing rather than everything: the admin sees what to fix.
        return render_template("staff/admin/audit.html", form=form, rows=[], page=1, pages=1, total=0,
                               links={}), 400
    query = _filtered(form)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    entries = session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    names = {s.id: s.name for s in session.scalars(
        select(Staff).where(Staff.id.in_({e.actor_staff_id for e in entries if e.actor_staff_id})))}
    by_whom = {Actor.caller: _("innringer"), Actor.system: _("system")}
    rows = [{
        "at": format_datetime(entry.at, "EEE d. MMM y HH:mm:ss"),
        "iso": entry.at.isoformat(),
        "who": names.get(entry.actor_staff_id) or by_whom.get(entry.actor) or _("ukjent ansatt"),
        "what": describe(entry),
        "appointment_id": entry.appointment_id,
        "details": _without_phone_numbers(entry.details) if entry.details else "",
    } for entry in entries]
    kept = {k: v for k, v in request.args.items() if k != "page" and v}
    links = {}
    if page > 1:
        links["newer"] = url_for("staff.admin_audit", **kept, page=page - 1)
    if page < pages:
        links["older"] = url_for("staff.admin_audit", **kept, page=page + 1)
    return render_template("staff/admin/audit.html", form=form, rows=rows, page=page, pages=pages,
                           total=total, links=links)
