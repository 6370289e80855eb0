"""One appointment at the desk: its details and history, moving it to a free slot of the
same counselor or of another who speaks her language, and cancelling it with a reason.

Every form carries the version of the appointment the receptionist saw: if someone else
changed it meanwhile, nothing is overwritten; she is told, and shown how it is now.
"""
from __future__ import annotations

from datetime import datetime, time

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from scheduling import audit
from scheduling.availability import Slot, find_free_slots, local_interval
from scheduling.booking import (
    Booked,
    Conflict,
    NotChangeable,
    SlotTaken,
    Unchanged,
    cancel_appointment,
    reschedule_appointment,
)
from scheduling.crypto import UnreadableNumber, keyring
from scheduling.sending import change_text, params_as_sent
from scheduling.contact import NOT_TOLD, ContactTerms
from scheduling.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    AuditEntry,
    OutboxMessage,
    OutboxStatus,
    Staff,
    StaffRole,
    staff_services,
)
from staff import audit_words
from staff.auth import DESK, role_required
from staff.db import db
from staff.once import once, sent_page
from staff.desk_forms import CancelForm, MoveForm
from staff.desk_notices import text_notice, text_reaches
from staff.labels import (
    NOT_TOLD_LABEL,
    VIA,
    contact_terms,
    hm,
    language_name,
    listed,
    number_end,
    parse_day,
    slot_choice,
    when,
)
from staff.views import bp, now

SLOTS_PER_COUNSELOR = 6
# The reason of the cancellation being confirmed, kept in the session (encrypted, as the
# desk's numbers are) so that its confirmation has an address of its own.
CANCELLING = "cancelling"


@bp.get("/appointments/<int:appointment_id>")
@role_required(*DESK)
def appointment(appointment_id: int):
    shown = _load(appointment_id)
    audit.record(db(), at=now(), actor=Actor.staff, actor_staff_id=current_user.id, action="appointment_viewed",
                 appointment_id=shown.id)
    db().commit()
    return _page(shown, from_day=request.args.get("from", ""))


@bp.get("/appointments/<int:appointment_id>/move")
@role_required(*DESK)
def confirm_move(appointment_id: int):
    """What moving to the chosen time means, and the text she will get; "Bekreft" posts it."""
    appointment = _load(appointment_id)
    if "slot" not in request.args:
        return redirect(url_for("staff.appointment", appointment_id=appointment.id, _anchor="move"))
    form = MoveForm(request.args, meta={"csrf": False})
    if not form.validate():
        return _page(appointment, notice=_("Den tiden forsto vi ikke. Velg en av tidene under på nytt."),
                     status=400)
    if form.version.data != appointment.version:
        # Back to a confirmation she already sent: say so, rather than "someone changed it".
        sent = sent_page(f"appointment:{appointment.id}:{form.version.data}:move")
        if sent is not None:
            return sent
    return _move_preview(appointment, form)


@bp.post("/appointments/<int:appointment_id>/move")
@role_required(*DESK)
@once
def move_appointment(appointment_id: int):
    appointment = _load(appointment_id)
    form = MoveForm()
    if not form.validate():
        return _page(appointment, notice=_("Den tiden forsto vi ikke. Velg en av tidene under på nytt."),
                     status=400)
    if request.form.get("confirm") != "1":
        return _move_preview(appointment, form)
    session = db()
    at = now()
    result = reschedule_appointment(
        session, appointment, start_at=form.slot.start_at, counselor_id=form.slot.counselor_id, now=at,
        actor=Actor.staff, actor_staff_id=current_user.id, expected_version=form.version.data,
        rules=current_app.extensions["linja.rules"],
    )
    if isinstance(result, Booked):
        moved = result.appointment
        counselor = session.get(Staff, moved.counselor_id)
        client = moved.client
        session.commit()
        flash(_("Timen er flyttet til %(when)s hos %(name)s.", when=when(moved.start_at), name=counselor.name), "info")
        flash(text_notice(client, _("beskjed om den nye tiden")), "info" if text_reaches(client) else "error")
        return redirect(url_for("staff.appointment", appointment_id=moved.id), 303)
    session.rollback()
    if isinstance(result, SlotTaken):
        message = {
            "taken": _("Noen andre fikk akkurat den tiden, så timen er ikke flyttet. Her er andre ledige tider."),
            "held": _("En innringer holder på å bestille akkurat den tiden nå, så timen er ikke flyttet. "
                      "Bekrefter hun den ikke, blir den ledig igjen om noen minutter. Her er andre ledige tider."),
        }.get(result.reason) or _("Den tiden er ikke ledig lenger, så timen er ikke flyttet. "
                                  "Her er andre ledige tider.")
        return _page(_load(appointment_id), notice=message, alternatives=result.alternatives, status=409)
    if isinstance(result, Unchanged):
        return _unchanged(appointment_id)
    return _refused(appointment_id, result)


def _unchanged(appointment_id: int):
    shown = _load(appointment_id)
    return _page(shown, status=409, notice=_(
        "Timen er allerede %(when)s hos %(name)s, så ingenting er endret, og hun får ingen SMS.",
        when=when(shown.start_at), name=shown.counselor.name))


@bp.post("/appointments/<int:appointment_id>/cancel/ask")
@role_required(*DESK)
def ask_cancel(appointment_id: int):
    """The cancel form: nothing changes yet. Its reason is kept in the session and the
    confirmation shown at an address of its own, so that the browser's Back after the
    cancellation loads that page (which then says it was sent), never a form to send again."""
    appointment = _load(appointment_id)
    form = CancelForm()
    if not form.validate() or not form.version.data.isdigit():
        return _page(appointment, cancel_form=form, status=400)
    if int(form.version.data) != appointment.version or not _is_changeable(appointment):
        return _refused(appointment_id, Conflict(appointment) if _is_changeable(appointment)
                        else NotChangeable(appointment), cancel_form=form)
    cookie[CANCELLING] = {"appointment": appointment.id, "version": appointment.version,
                          "reason": keyring().encrypt(form.reason.data.strip())}
    return redirect(url_for("staff.confirm_cancel", appointment_id=appointment.id, version=appointment.version), 303)


@bp.get("/appointments/<int:appointment_id>/cancel")
@role_required(*DESK)
def confirm_cancel(appointment_id: int):
    """What cancelling means, and the text she will get; "Bekreft" posts it."""
    appointment = _load(appointment_id)
    version = request.args.get("version", "")
    if version.isdigit() and len(version) < 10 and int(version) != appointment.version:
        # Back to a confirmation she already sent: say so.
        sent = sent_page(f"appointment:{appointment.id}:{int(version)}:cancel")
        if sent is not None:
            return sent
    kept = cookie.get(CANCELLING)
    reason = None
    if isinstance(kept, dict) and kept.get("appointment") == appointment.id and str(kept.get("version")) == version:
        try:
            reason = keyring().decrypt(str(kept.get("reason")))
        except UnreadableNumber:
            reason = None
    if reason is None:
        return redirect(url_for("staff.appointment", appointment_id=appointment.id, _anchor="cancel"))
    form = CancelForm(formdata=None, data={"reason": reason, "version": version})
    if int(version) != appointment.version or not _is_changeable(appointment):
        return _refused(appointment_id, Conflict(appointment) if _is_changeable(appointment)
                        else NotChangeable(appointment), cancel_form=form)
    return _preview(appointment, kind="cancel", start_at=appointment.start_at, counselor=appointment.counselor,
                    cancel_form=form)


@bp.post("/appointments/<int:appointment_id>/cancel")
@role_required(*DESK)
@once
def cancel(appointment_id: int):
    appointment = _load(appointment_id)
    form = CancelForm()
    if not form.validate() or not form.version.data.isdigit():
        return _page(appointment, cancel_form=form, status=400)
    if request.form.get("confirm") != "1":
        if int(form.version.data) != appointment.version or not _is_changeable(appointment):
            return _refused(appointment_id, Conflict(appointment) if _is_changeable(appointment)
                            else NotChangeable(appointment), cancel_form=form)
        return _preview(appointment, kind="cancel", start_at=appointment.start_at,
                        counselor=appointment.counselor, cancel_form=form)
    session = db()
    result = cancel_appointment(
        session, appointment, now=now(), actor=Actor.staff, actor_staff_id=current_user.id,
        reason=form.reason.data.strip(), expected_version=int(form.version.data),
    )
    if isinstance(result, Booked):
        client = appointment.client
        session.commit()
        cookie.pop(CANCELLING, None)
        flash(_("Timen er avlyst."), "info")
        flash(text_notice(client, _("beskjed om avlysningen")), "info" if text_reaches(client) else "error")
        return redirect(url_for("staff.appointment", appointment_id=appointment_id), 303)
    session.rollback()
    return _refused(appointment_id, result, cancel_form=form)


def _is_changeable(appointment: Appointment) -> bool:
    return appointment.status == AppointmentStatus.booked and appointment.end_at > now()


def _move_preview(appointment: Appointment, form: MoveForm):
    if form.version.data != appointment.version or not _is_changeable(appointment):
        return _refused(appointment.id, Conflict(appointment) if _is_changeable(appointment)
                        else NotChangeable(appointment))
    if (form.slot.start_at, form.slot.counselor_id) == (appointment.start_at, appointment.counselor_id):
        # Her own time with her own counselor (an old page, another tab): nothing to confirm.
        return _unchanged(appointment.id)
    counselor = db().get(Staff, form.slot.counselor_id)
    if counselor is None:
        return _page(appointment, notice=_("Den tiden forsto vi ikke. Velg en av tidene under på nytt."),
                     status=400)
    return _preview(appointment, kind="move", start_at=form.slot.start_at, counselor=counselor,
                    slot=form.slot.data)


def _preview(appointment: Appointment, *, kind: str, start_at: datetime, counselor: Staff,
             slot: str | None = None, cancel_form: CancelForm | None = None):
    """The confirmation page of a move or a cancellation: what changes, and the text she
    will get, rendered by the worker's own function from what would be queued."""
    client = appointment.client
    # What the worker will write: it names only times she was told (scheduling.sending.compose).
    text = change_text("moved" if kind == "move" else "cancelled",
                       told=(appointment.told_start_at, appointment.told_counselor_id),
                       current=(start_at, counselor.id))
    texts = []
    no_text = None
    if text == "already-told":
        no_text = _("Hun har alt fått beskjed om akkurat denne tiden, så hun får ingen ny SMS.")
    elif isinstance(text, str):
        no_text = _("Hun har ikke fått beskjed om denne timen ennå, så hun får ingen SMS om dette.")
    elif text_reaches(client):
        template, values = text
        render = current_app.extensions["linja.render_text"]
        params = params_as_sent(values, client, now())
        language = client.language_code
        texts.append({"label": language_name(language) if language else _("norsk og engelsk"),
                      "body": render(template, language, params), "is_hers": True})
        if language and language not in ("nb", "en"):
            texts.append({"label": _("norsk, bare for deg"), "body": render(template, "nb", params),
                          "is_hers": False})
    what = _("beskjed om den nye tiden") if kind == "move" else _("beskjed om avlysningen")
    return render_template(
        "staff/appointment_confirm.html", kind=kind, a=listed(appointment), version=appointment.version,
        new_when=when(start_at), new_end=hm(start_at + (appointment.end_at - appointment.start_at)),
        counselor=counselor.name, slot=slot, texts=texts,
        no_text=no_text or (None if texts else text_notice(client, what)),
        reason=cancel_form.reason.data.strip() if cancel_form is not None else None,
    )


def _refused(appointment_id: int, result: Conflict | NotChangeable, **kwargs):
    if isinstance(result, Conflict):
        notice = _("Noen andre endret denne timen mens du så på den, så ingenting er endret av deg. "
                   "Slik er timen nå – se over den og velg på nytt.")
    else:
        notice = _("Timen er avlyst eller allerede over, så den kan ikke endres.")
    return _page(_load(appointment_id), notice=notice, status=409, **kwargs)


def _load(appointment_id: int) -> Appointment:
    session = db()
    session.expire_all()
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        abort(404)
    return appointment


def _page(appointment: Appointment, *, notice: str | None = None, alternatives: list[Slot] | None = None,
          cancel_form: CancelForm | None = None, status: int = 200, from_day: str = ""):
    at = now()
    rules = current_app.extensions["linja.rules"]
    is_changeable = appointment.status == AppointmentStatus.booked and appointment.end_at > at
    client = appointment.client
    not_before = None
    if from_day:
        day = parse_day(from_day)
        if day is None:
            notice = _("Den datoen forsto vi ikke. Skriv den som 2026-11-30; her er de første ledige tidene.")
            from_day = ""
        else:
            not_before = local_interval(day, time(0), time(0), rules.tz)[0]
    options = _move_options(appointment, at, not_before) if is_changeable else []
    if alternatives and is_changeable:
        counselors = _staff_by_id({s.counselor_id for s in alternatives})
        alternatives_shown = [slot_choice(s, counselors) for s in alternatives]
    else:
        alternatives_shown = []
    if cancel_form is None:
        cancel_form = CancelForm(formdata=None)
    cancel_form.version.data = str(appointment.version)
    return render_template(
        "staff/appointment.html",
        a={
            **listed(appointment),
            "via": VIA[appointment.booked_via],
            "version": appointment.version,
            "client_id": client.id if client and client.phone_e164 else None,
            "number_end": number_end(client.phone_e164 if client else None),
            "is_opted_out": bool(client and client.is_opted_out),
            "contact": contact_terms(ContactTerms.of(client)) if client and client.phone_e164 else None,
        },
        is_changeable=is_changeable, notice=notice, options=options, alternatives=alternatives_shown,
        cancel_form=cancel_form, history=_history(appointment.id), from_day=from_day,
        not_told=_not_told(appointment.id),
    ), status


def _not_told(appointment_id: int) -> list[str]:
    """The texts and calls about this appointment her contact terms kept from going
    (scheduling.contact): someone at the desk decides whether to reach her otherwise."""
    rows = db().execute(
        select(OutboxMessage.kind, OutboxMessage.due_at, OutboxMessage.error_code)
        .where(OutboxMessage.appointment_id == appointment_id, OutboxMessage.status == OutboxStatus.withdrawn,
               OutboxMessage.error_code.in_(NOT_TOLD))
        .order_by(OutboxMessage.due_at)
    ).all()
    return [_("%(what)s (%(when)s): %(why)s", what=_("Påminnelse") if kind == "reminder" else _("Beskjed om endring"),
              when=when(due_at), why=NOT_TOLD_LABEL[code]) for kind, due_at, code in rows]


def _move_options(appointment: Appointment, at: datetime, not_before: datetime | None) -> list[dict]:
    """Her own counselor first, then the others offering the service who speak her
    language, each with the next few slots she could move to: never the time she has,
    but that time with another counselor, when only the counselor is to change."""
    session = db()
    rules = current_app.extensions["linja.rules"]
    others = session.scalars(
        select(Staff)
        .join(staff_services, staff_services.c.staff_id == Staff.id)
        .where(staff_services.c.service_id == appointment.service_id, Staff.is_active.is_(True),
               Staff.role == StaffRole.counselor, Staff.id != appointment.counselor_id)
        .order_by(Staff.name)
    ).all()
    if appointment.language_code:
        others = [s for s in others if s.speaks(appointment.language_code)]
    options = []
    for counselor in [appointment.counselor, *others]:
        slots = find_free_slots(
            session, service_id=appointment.service_id, language_code=appointment.language_code, now=at,
            rules=rules, limit=SLOTS_PER_COUNSELOR, counselor_ids=[counselor.id], moving=appointment.id,
            same_time_with_another=True, not_before=not_before,
        )
        options.append({
            "counselor": counselor.name,
            "is_same": counselor.id == appointment.counselor_id,
            "speaks": bool(appointment.language_code) and counselor.speaks(appointment.language_code),
            "slots": [slot_choice(s, {counselor.id: counselor}) for s in slots],
        })
    return options


def _staff_by_id(ids: set[int]) -> dict[int, Staff]:
    return {s.id: s for s in db().scalars(select(Staff).where(Staff.id.in_(ids)))}


def _history(appointment_id: int) -> list[dict]:
    entries = db().scalars(
        select(AuditEntry).where(AuditEntry.appointment_id == appointment_id, AuditEntry.action != "appointment_viewed")
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    names = audit_words.Names(db(), entries)
    return [{"at": when(entry.at), "who": audit_words.who(entry, names, caller=_("innringeren"), system=_("Linja")),
             "what": audit_words.sentence(entry, names)} for entry in entries]
