"""The admin's index page, and the staff: who works here, her role, languages and services.

Staff are deactivated, never deleted: their appointments and the audit trail keep
pointing at them. The last active admin cannot stop being one, or no one could set up
the centre any more.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hotline.studio import RECORDERS, new_pin
from scheduling.models import Language, Service, Staff, StaffRole
from staff import nav
from staff.admin.common import admin_only, get_or_404, record
from staff.admin.forms import NewStaffForm, SetPasswordForm, StaffForm
from staff.auth import end_sessions
from staff.db import db
from staff.labels import ROLE as ROLE_LABELS
from staff.labels import language_name
from staff.once import once
from staff.forms import MIN_PASSWORD_LENGTH, choices
from staff.passwords import hash_password
from staff.views import bp, now



@bp.get("/admin/")
@admin_only
def admin_home():
    return render_template("staff/admin/home.html")


@bp.get("/admin/staff")
@admin_only
def admin_staff():
    people = db().scalars(select(Staff).order_by(Staff.is_active.desc(), Staff.name)).all()
    return render_template("staff/admin/staff_list.html", people=people, role_labels=ROLE_LABELS)


def _choices(session, form: StaffForm) -> None:
    languages = session.scalars(select(Language).order_by(Language.menu_order, Language.code)).all()
    form.languages.choices = choices((lang.code, language_name(lang.code)) for lang in languages)
    services = session.scalars(select(Service).order_by(Service.menu_order, Service.id)).all()
    form.services.choices = choices((s.id, s.name_in("nb") + ("" if s.is_active else " " + _("(ikke aktiv)")))
                                    for s in services)


def _email_taken(session, email: str, staff_id: int | None) -> bool:
    query = select(Staff.id).where(func.lower(Staff.email) == email.strip().lower())
    if staff_id is not None:
        query = query.where(Staff.id != staff_id)
    return session.scalars(query).first() is not None


def _other_active_admins(session, staff_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Staff).where(
        Staff.role == StaffRole.admin, Staff.is_active.is_(True), Staff.id != staff_id))


def _apply(session, staff: Staff, form: StaffForm) -> None:
    staff.name = form.name.data.strip()
    staff.email = form.email.data.strip()
    staff.role = StaffRole(form.role.data)
    staff.phone_e164 = getattr(form.phone, "e164", None) if form.phone.data else None
    staff.is_active = form.is_active.data
    codes = set(form.languages.data or [])
    staff.languages = list(session.scalars(select(Language).where(Language.code.in_(codes)))) if codes else []
    ids = set(form.services.data or [])
    staff.services = list(session.scalars(select(Service).where(Service.id.in_(ids)))) if ids else []
    if staff.role not in RECORDERS or not staff.is_active:
        # No longer one who records, or no longer here: her studio PIN is gone (if she comes
        # back, she is given a new one).
        staff.studio_pin_hash = None


def _summary(staff: Staff) -> dict:
    # What the audit trail keeps: no phone number, only whether she has one.
    return {"staff": staff.id, "role": staff.role.value, "is_active": staff.is_active,
            "languages": sorted(lang.code for lang in staff.languages),
            "services": sorted(s.id for s in staff.services), "has_phone": bool(staff.phone_e164)}


@bp.route("/admin/staff/new", methods=["GET", "POST"])
@admin_only
@once
def admin_staff_new():
    session = db()
    form = NewStaffForm()
    _choices(session, form)
    if form.validate_on_submit():
        if _email_taken(session, form.email.data, None):
            form.email.errors.append(_("Noen andre har allerede denne e-postadressen."))
        else:
            staff = Staff(created_at=now(), password_hash=hash_password(form.password.data))
            _apply(session, staff, form)
            session.add(staff)
            try:
                session.flush()
            except IntegrityError:  # someone saved the same address a moment ago
                session.rollback()
                form.email.errors.append(_("Noen andre har allerede denne e-postadressen."))
            else:
                record(session, "staff_added", **_summary(staff))
                session.commit()
                if staff.role == StaffRole.recorder:
                    # She records by phone: what she needs next is her studio PIN, on her page.
                    flash(_("%(name)s er lagt til. Gi henne en studio-PIN for å spille inn.", name=staff.name),
                          "info")
                    return redirect(url_for("staff.admin_staff_edit", staff_id=staff.id))
                flash(_("%(name)s er lagt til. Legg inn arbeidstidene hennes.", name=staff.name), "info")
                if staff.role == StaffRole.counselor:
                    return redirect(url_for("staff.admin_calendar", staff_id=staff.id))
                return redirect(url_for("staff.admin_staff"))
    status = 400 if form.is_submitted() else 200
    return render_template("staff/admin/staff_form.html", form=form, staff=None,
                           min_password=MIN_PASSWORD_LENGTH), status


@bp.route("/admin/staff/<int:staff_id>", methods=["GET", "POST"])
@admin_only
@once
def admin_staff_edit(staff_id: int):
    session = db()
    staff = get_or_404(session, Staff, staff_id)
    form = StaffForm(data=_data(staff))
    _choices(session, form)
    if form.validate_on_submit():
        stays_admin = form.role.data == StaffRole.admin.value and form.is_active.data
        if _email_taken(session, form.email.data, staff.id):
            form.email.errors.append(_("Noen andre har allerede denne e-postadressen."))
        elif (staff.role == StaffRole.admin and staff.is_active and not stays_admin
              and _other_active_admins(session, staff.id) == 0):
            message = _("Hun er den eneste aktive administratoren. Gjør en annen til administrator først, "
                        "ellers kan ingen endre oppsettet.")
            (form.role if form.is_active.data else form.is_active).errors.append(message)
        else:
            was_active = staff.is_active
            _apply(session, staff, form)
            if was_active and not staff.is_active:
                end_sessions(session, staff.id)  # a deactivated member's open pages close too
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                form.email.errors.append(_("Noen andre har allerede denne e-postadressen."))
            else:
                record(session, "staff_changed", **_summary(staff))
                session.commit()
                flash(_("Endringene for %(name)s er lagret.", name=staff.name), "info")
                if staff.id == current_user.id and not stays_admin:
                    return redirect(url_for("staff.home"))
                return redirect(url_for("staff.admin_staff"))
    status = 400 if form.is_submitted() else 200
    return _edit_page(session, staff, form=form), status


def _data(staff: Staff) -> dict:
    return {"name": staff.name, "email": staff.email, "role": staff.role.value, "phone": staff.phone_e164 or "",
            "is_active": staff.is_active, "languages": [lang.code for lang in staff.languages],
            "services": [s.id for s in staff.services]}


def _edit_page(session, staff: Staff, form: StaffForm | None = None, password_form: SetPasswordForm | None = None,
               pin: str | None = None) -> str:
    if form is None:
        form = StaffForm(formdata=None, data=_data(staff))
        _choices(session, form)
    return render_template("staff/admin/staff_form.html", form=form, staff=staff,
                           password_form=password_form or SetPasswordForm(formdata=None),
                           may_record=staff.role in RECORDERS and staff.is_active, pin=pin)


@bp.post("/admin/staff/<int:staff_id>/password")
@admin_only
@once
def admin_staff_password(staff_id: int):
    session = db()
    staff = get_or_404(session, Staff, staff_id)
    password_form = SetPasswordForm()
    if password_form.validate_on_submit():
        staff.password_hash = hash_password(password_form.new.data)
        record(session, "staff_password_set", staff=staff.id)
        end_sessions(session, staff.id)  # whoever knew the old password is signed out
        session.commit()
        flash(_("Nytt passord for %(name)s er satt. Gi henne det på en trygg måte.", name=staff.name), "info")
        return redirect(url_for("staff.admin_staff_edit", staff_id=staff.id))
    return _edit_page(session, staff, password_form=password_form), 400


@bp.post("/admin/staff/<int:staff_id>/sign-out")
@admin_only
@once
def admin_staff_sign_out(staff_id: int):
    """"Logg ut overalt": every session she has ends, on every device (a lost phone, a
    shared computer left signed in)."""
    session = db()
    staff = get_or_404(session, Staff, staff_id)
    end_sessions(session, staff.id)
    record(session, "staff_signed_out_everywhere", staff=staff.id)
    session.commit()
    flash(_("%(name)s er logget ut på alle enheter.", name=staff.name), "info")
    return redirect(url_for("staff.admin_staff_edit", staff_id=staff.id))


@bp.post("/admin/staff/<int:staff_id>/studio-pin")
@admin_only
@once
def admin_staff_studio_pin(staff_id: int):
    """"Ny studio-PIN": a new PIN for the studio line, shown on the page this answers and
    nowhere else. Only its HMAC is kept; her old PIN stops working. The answer is the page
    itself, never a redirect: a PIN must not travel in a flash message (the session cookie).
    The form acts once, so the page cannot be had again by sending it again."""
    session = db()
    staff = get_or_404(session, Staff, staff_id)
    if staff.role not in RECORDERS or not staff.is_active:
        flash(_("Bare en aktiv administrator eller opptaker kan få en studio-PIN."), "error")
        return redirect(url_for("staff.admin_staff_edit", staff_id=staff.id))
    pin = new_pin(session, staff, current_app.config["SECRET_KEY"])
    record(session, "studio_pin_set", staff=staff.id)
    session.commit()
    return _edit_page(session, staff, pin=pin)


# A recorder's start page: the recordings she may approve, never the desk or callers.
nav.HOME[StaffRole.recorder] = "staff.admin_recordings"
nav.add("staff.admin_home", _l("Oppsett"), StaffRole.admin, order=60)
