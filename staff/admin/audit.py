"""The audit trail for admins: who saw or changed which caller's appointment, and when.

Newest first, a page at a time, filtered by staff member, action, appointment and dates.
The trail keeps no phone number, and this page shows none: a number a staff member typed
into free text (a cancellation reason) is masked too.
"""
from __future__ import annotations

from datetime import time

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms import DateField, Form, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from scheduling.models import Actor, AuditEntry, Staff
from staff.admin.common import admin_only, local_instant, next_midnight
from staff.admin.forms import BAD_DATE
from staff.audit_words import ACTIONS, OTHER, Names, action_label, facts, logged_at, who
from staff.labels import MAX_ID
from staff.db import db
from staff.forms import choices
from staff.views import bp

PER_PAGE = 50
CALLER, SYSTEM = "caller", "system"


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


def _choices(session, form: AuditFilter) -> None:
    people = session.scalars(select(Staff).order_by(Staff.name, Staff.id)).all()
    form.who.choices = choices([("", _("Alle")), (CALLER, _("innringer")), (SYSTEM, _("system"))] + [
        (str(person.id), person.name) for person in people])
    seen = session.scalars(select(AuditEntry.action).distinct()).all()
    known = [(code, str(label)) for code, label in ACTIONS.items()]
    # Actions Linja has no words for (from an older version) can still be filtered on.
    others = sorted(set(seen) - set(ACTIONS))
    extra = [(code, _("%(other)s %(number)d", other=OTHER, number=n) if len(others) > 1 else str(OTHER))
             for n, code in enumerate(others, 1)]
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
    names = Names(session, entries)
    rows = [{
        "at": logged_at(entry),
        "iso": entry.at.isoformat(),
        "who": who(entry, names, caller=_("innringer"), system=_("system")),
        "what": action_label(entry.action),
        "appointment_id": entry.appointment_id,
        "details": facts(entry, names),
    } for entry in entries]
    kept = {k: v for k, v in request.args.items() if k != "page" and v}
    links = {}
    if page > 1:
        links["newer"] = url_for("staff.admin_audit", **kept, page=page - 1)
    if page < pages:
        links["older"] = url_for("staff.admin_audit", **kept, page=page + 1)
    return render_template("staff/admin/audit.html", form=form, rows=rows, page=page, pages=pages,
                           total=total, links=links)
