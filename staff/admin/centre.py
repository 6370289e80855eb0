"""The centre's set-up: services, languages, opening hours and closures, the duty rota."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from hotline.discretion import sensitive_words_in
from scheduling.models import (
    Closure,
    DutyShift,
    Language,
    OpeningHours,
    PromptRecording,
    Service,
    ServiceName,
    Staff,
    StaffRole,
)
from staff.db import db
from staff.labels import language_name
from staff.once import once
from staff.forms import StaffPageForm, choices
from staff.admin.common import admin_only, day_label, get_or_404, hhmm, overlaps, record, today, weekday_name
from staff.admin.forms import ClosureForm, DutyShiftForm, OpeningHoursForm, ServiceForm
from staff.views import bp

FALLBACK_LANGUAGE = "nb"

# --- services ---------------------------------------------------------------------------


def _name_languages(session) -> list[Language]:
    return session.scalars(select(Language).where(
        (Language.is_enabled.is_(True)) | (Language.code == FALLBACK_LANGUAGE))
        .order_by(Language.menu_order, Language.code)).all()


def _discreet_name(form, field) -> None:
    """A service's name is shown and read out on her phone, which others may see or hear."""
    words = sensitive_words_in(field.data or "", current_app.config.get("SENSITIVE_WORDS", ()))
    if words:
        raise ValidationError(_("Navnet røper for mye («%(word)s»): det vises og leses opp på telefonen hennes, "
                                "som andre kan se eller høre. Velg et mer diskret navn.", word=words[0]))


def _service_form(languages: list[Language], data: dict | None = None, formdata=True) -> ServiceForm:
    class Form(ServiceForm):
        pass

    for language in languages:
        required = language.code == FALLBACK_LANGUAGE
        validators = [DataRequired(_l("Skriv navnet på norsk: det brukes når et språk mangler navn."))] \
            if required else [Optional()]
        setattr(Form, f"name_{language.code}", StringField(
            language_name(language.code), validators=[*validators, Length(max=80), _discreet_name],
            render_kw={"lang": language.code, "dir": "rtl" if language.is_rtl else "ltr"}))
    if formdata:
        return Form(data=data)
    return Form(formdata=None, data=data)


@bp.get("/admin/services")
@admin_only
def admin_services():
    services = db().scalars(select(Service).order_by(Service.menu_order, Service.id)).all()
    return render_template("staff/admin/services.html", services=services)


def _save_service(session, service: Service | None):
    languages = _name_languages(session)
    data = None
    if service is not None:
        names = {n.language_code: n.name for n in service.names}
        data = {"slug": service.slug, "duration_minutes": service.duration_minutes,
                "buffer_minutes": service.buffer_minutes, "menu_order": service.menu_order,
                "is_active": service.is_active, **{f"name_{code}": name for code, name in names.items()}}
    form = _service_form(languages, data)
    if form.validate_on_submit():
        slug = form.slug.data.strip()
        taken = session.scalars(select(Service.id).where(Service.slug == slug)).first()
        if taken is not None and (service is None or taken != service.id):
            form.slug.errors.append(_("En annen tjeneste har allerede dette kortnavnet."))
        else:
            is_new = service is None
            if is_new:
                service = Service(slug=slug)
                session.add(service)
            old_slug = service.slug
            service.slug = slug
            service.duration_minutes = form.duration_minutes.data
            service.buffer_minutes = form.buffer_minutes.data
            service.menu_order = form.menu_order.data
            service.is_active = form.is_active.data
            by_code = {n.language_code: n for n in service.names}
            for language in languages:
                name = (getattr(form, f"name_{language.code}").data or "").strip()
                if name and language.code in by_code:
                    by_code[language.code].name = name
                elif name:
                    service.names.append(ServiceName(language_code=language.code, name=name))
                elif language.code in by_code:
                    service.names.remove(by_code[language.code])
            if not is_new and old_slug != slug:
                # The voice line plays a service's name from "service:<slug>" recordings.
                session.execute(delete(PromptRecording).where(PromptRecording.prompt_key == f"service:{slug}"))
                session.execute(update(PromptRecording).where(PromptRecording.prompt_key == f"service:{old_slug}")
                                .values(prompt_key=f"service:{slug}"))
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                form.slug.errors.append(_("En annen tjeneste har allerede dette kortnavnet."))
            else:
                record(session, "service_added" if is_new else "service_changed", service=service.id, slug=slug,
                       duration_minutes=service.duration_minutes, buffer_minutes=service.buffer_minutes,
                       is_active=service.is_active, menu_order=service.menu_order,
                       names=sorted(n.language_code for n in service.names))
                session.commit()
                flash(_("Tjenesten «%(name)s» er lagret.", name=service.name_in("nb")), "info")
                return redirect(url_for("staff.admin_services"))
    name_fields = [(language, getattr(form, f"name_{language.code}")) for language in languages]
    status = 400 if form.is_submitted() else 200
    return render_template("staff/admin/service_form.html", form=form, service=service,
                           name_fields=name_fields), status


@bp.route("/admin/services/new", methods=["GET", "POST"])
@admin_only
@once
def admin_service_new():
    return _save_service(db(), None)


@bp.route("/admin/services/<int:service_id>", methods=["GET", "POST"])
@admin_only
@once
def admin_service_edit(service_id: int):
    session = db()
    return _save_service(session, get_or_404(session, Service, service_id))


# --- languages --------------------------------------------------------------------------


def _languages_form(languages: list[Language], formdata=True) -> StaffPageForm:
    class Form(StaffPageForm):
        pass

    for language in languages:
        setattr(Form, f"enabled_{language.code}", BooleanField(
            _l("I menyen"), default=language.is_enabled))
        setattr(Form, f"order_{language.code}", IntegerField(
            _l("Plass"), default=language.menu_order, validators=[
                InputRequired(_l("Skriv et tall.")),
                NumberRange(0, 99, message=_l("Et tall fra %(min)d til %(max)d."))]))
    return Form() if formdata else Form(formdata=None)


@bp.route("/admin/languages", methods=["GET", "POST"])
@admin_only
@once
def admin_languages():
    session = db()
    languages = session.scalars(select(Language).order_by(Language.menu_order, Language.code)).all()
    form = _languages_form(languages)
    if form.validate_on_submit():
        if not getattr(form, f"enabled_{FALLBACK_LANGUAGE}").data:
            getattr(form, f"enabled_{FALLBACK_LANGUAGE}").errors = [
                _("Norsk kan ikke slås av: det er språket Linja faller tilbake på.")]
        else:
            changes = {}
            for language in languages:
                enabled = getattr(form, f"enabled_{language.code}").data
                order = getattr(form, f"order_{language.code}").data
                if (enabled, order) != (language.is_enabled, language.menu_order):
                    changes[language.code] = {"is_enabled": enabled, "menu_order": order}
                    language.is_enabled, language.menu_order = enabled, order
            if changes:
                record(session, "languages_changed", languages=changes)
            session.commit()
            flash(_("Språkene er lagret."), "info")
            return redirect(url_for("staff.admin_languages"))
    rows = [(language, getattr(form, f"enabled_{language.code}"), getattr(form, f"order_{language.code}"))
            for language in languages]
    status = 400 if form.is_submitted() else 200
    return render_template("staff/admin/languages.html", form=form, rows=rows), status


# --- opening hours and closures ---------------------------------------------------------


def _opening_page(session, hours_form=None, closure_form=None, status=200):
    hours = session.scalars(select(OpeningHours).order_by(OpeningHours.weekday, OpeningHours.opens)).all()
    closures = session.scalars(select(Closure).where(Closure.last_day >= today())
                               .order_by(Closure.first_day)).all()
    return render_template(
        "staff/admin/opening.html",
        hours=[{"id": h.id, "weekday": weekday_name(h.weekday), "opens": hhmm(h.opens), "closes": hhmm(h.closes)}
               for h in hours],
        closures=[{"id": c.id, "first": day_label(c.first_day), "last": day_label(c.last_day), "reason": c.reason}
                  for c in closures],
        hours_form=hours_form or OpeningHoursForm(formdata=None),
        closure_form=closure_form or ClosureForm(formdata=None),
    ), status


@bp.get("/admin/opening")
@admin_only
def admin_opening():
    return _opening_page(db())


@bp.post("/admin/opening/hours")
@admin_only
@once
def admin_opening_add():
    session = db()
    form = OpeningHoursForm()
    if form.validate_on_submit():
        f = form.data
        clash = session.scalars(select(OpeningHours).where(OpeningHours.weekday == f["weekday"])).all()
        clash = next((h for h in clash if overlaps(h.opens, h.closes, f["opens"], f["closes"])), None)
        if f["opens"] >= f["closes"]:
            form.closes.errors.append(_("Stengetiden må være etter åpningstiden."))
        elif clash is not None:
            form.opens.errors.append(_("Dette overlapper med %(weekday)s %(opens)s–%(closes)s. Fjern den først.",
                                       weekday=weekday_name(clash.weekday), opens=hhmm(clash.opens),
                                       closes=hhmm(clash.closes)))
        else:
            hours = OpeningHours(weekday=f["weekday"], opens=f["opens"], closes=f["closes"])
            session.add(hours)
            session.flush()
            record(session, "opening_hours_added", hours=hours.id, weekday=hours.weekday,
                   opens=hhmm(hours.opens), closes=hhmm(hours.closes))
            session.commit()
            flash(_("Åpningstiden er lagt til."), "info")
            return redirect(url_for("staff.admin_opening"))
    return _opening_page(session, hours_form=form, status=400)


@bp.post("/admin/opening/hours/<int:hours_id>/delete")
@admin_only
@once
def admin_opening_delete(hours_id: int):
    session = db()
    hours = get_or_404(session, OpeningHours, hours_id)
    record(session, "opening_hours_removed", hours=hours.id, weekday=hours.weekday,
           opens=hhmm(hours.opens), closes=hhmm(hours.closes))
    session.delete(hours)
    session.commit()
    flash(_("Åpningstiden er fjernet."), "info")
    return redirect(url_for("staff.admin_opening"))


@bp.post("/admin/opening/closures")
@admin_only
@once
def admin_closure_add():
    session = db()
    form = ClosureForm()
    if form.validate_on_submit():
        f = form.data
        if f["last_day"] < f["first_day"]:
            form.last_day.errors.append(_("Siste dag kan ikke være før første dag."))
        elif f["last_day"] < today():
            form.last_day.errors.append(_("Denne perioden er allerede over."))
        else:
            closure = Closure(first_day=f["first_day"], last_day=f["last_day"],
                              reason=(f["reason"] or "").strip() or None)
            session.add(closure)
            session.flush()
            record(session, "closure_added", closure=closure.id, first_day=closure.first_day.isoformat(),
                   last_day=closure.last_day.isoformat())
            session.commit()
            flash(_("Stengte dager er lagt til. Timer som allerede er booket da, må resepsjonen flytte."), "info")
            return redirect(url_for("staff.admin_opening"))
    return _opening_page(session, closure_form=form, status=400)


@bp.post("/admin/opening/closures/<int:closure_id>/delete")
@admin_only
@once
def admin_closure_delete(closure_id: int):
    session = db()
    closure = get_or_404(session, Closure, closure_id)
    record(session, "closure_removed", closure=closure.id, first_day=closure.first_day.isoformat(),
           last_day=closure.last_day.isoformat())
    session.delete(closure)
    session.commit()
    flash(_("De stengte dagene er fjernet."), "info")
    return redirect(url_for("staff.admin_opening"))


# --- the duty rota ----------------------------------------------------------------------

DUTY_ROLES = (StaffRole.receptionist, StaffRole.admin)


def _duty_page(session, form=None, status=200):
    rows = session.execute(select(DutyShift, Staff).join(Staff, Staff.id == DutyShift.staff_id)
                           .order_by(DutyShift.weekday, DutyShift.starts, Staff.name)).all()
    shifts = [{"id": shift.id, "weekday": weekday_name(shift.weekday), "starts": hhmm(shift.starts),
               "ends": hhmm(shift.ends), "name": staff.name, "staff_id": staff.id,
               "has_phone": bool(staff.phone_e164), "is_active": staff.is_active} for shift, staff in rows]
    if form is None:
        form = DutyShiftForm(formdata=None)
    _duty_choices(session, form)
    return render_template("staff/admin/duty.html", shifts=shifts, form=form), status


def _duty_choices(session, form) -> None:
    people = session.scalars(select(Staff).where(Staff.role.in_(DUTY_ROLES), Staff.is_active.is_(True))
                             .order_by(Staff.name)).all()
    form.staff_id.choices = choices((s.id, s.name + ("" if s.phone_e164 else " " + _("(mangler telefonnummer)")))
                                    for s in people)


@bp.get("/admin/duty")
@admin_only
def admin_duty():
    return _duty_page(db())


@bp.post("/admin/duty")
@admin_only
@once
def admin_duty_add():
    session = db()
    form = DutyShiftForm()
    _duty_choices(session, form)
    if form.validate_on_submit():
        f = form.data
        staff = session.get(Staff, f["staff_id"])
        same_day = session.scalars(select(DutyShift).where(DutyShift.staff_id == staff.id,
                                                           DutyShift.weekday == f["weekday"])).all()
        if f["starts"] >= f["ends"]:
            form.ends.errors.append(_("Sluttiden må være etter starttiden."))
        elif any(overlaps(s.starts, s.ends, f["starts"], f["ends"]) for s in same_day):
            form.starts.errors.append(_("%(name)s har allerede en vakt som overlapper denne.", name=staff.name))
        else:
            shift = DutyShift(staff_id=staff.id, weekday=f["weekday"], starts=f["starts"], ends=f["ends"])
            session.add(shift)
            session.flush()
            record(session, "duty_shift_added", shift=shift.id, staff=staff.id, weekday=shift.weekday,
                   starts=hhmm(shift.starts), ends=hhmm(shift.ends))
            session.commit()
            if staff.phone_e164:
                flash(_("Vakten er lagt til."), "info")
            else:
                flash(_("Vakten er lagt til, men %(name)s har ikke telefonnummer: samtaler kan ikke settes over "
                        "til henne før nummeret er lagt inn.", name=staff.name), "error")
            return redirect(url_for("staff.admin_duty"))
    return _duty_page(session, form, status=400)


@bp.post("/admin/duty/<int:shift_id>/delete")
@admin_only
@once
def admin_duty_delete(shift_id: int):
    session = db()
    shift = get_or_404(session, DutyShift, shift_id)
    record(session, "duty_shift_removed", shift=shift.id, staff=shift.staff_id, weekday=shift.weekday,
           starts=hhmm(shift.starts), ends=hhmm(shift.ends))
    session.delete(shift)
    session.commit()
    flash(_("Vakten er fjernet."), "info")
    return redirect(url_for("staff.admin_duty"))
