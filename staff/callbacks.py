"""The call-back queue: callers who asked to be called back in their language.

"Call" rings the receptionist's own phone first and then puts her through to the caller,
who sees the centre's number: no staff member's own number is ever shown to a caller.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from scheduling import audit
from scheduling.models import (
    Actor,
    CallbackRequest,
    CallbackStatus,
    Client,
    Language,
    MessageStatus,
    Staff,
    Voicemail,
)
from scheduling.notifications import failed_texts
from scheduling.sending import OutgoingCall, SendError
from staff import nav
from staff.auth import DESK, role_required
from staff.views import bp
from webdb import db

def _when(at) -> str:
    return format_datetime(at, "EEE d. MMM HH:mm")


def _number_end(phone: str | None) -> str:
    # Enough to tell two callers apart on the phone, not enough to write down.
    return f"…{phone[-2:]}" if phone else _("(skjult eller slettet)")


@bp.get("/callbacks")
@role_required(*DESK)
def callbacks():
    rows = db().execute(
        select(CallbackRequest, Language.name_native, Client.phone_e164)
        .outerjoin(Language, Language.code == CallbackRequest.language_code)
        .outerjoin(Client, Client.id == CallbackRequest.client_id)
        .where(CallbackRequest.status == CallbackStatus.open)
        .order_by(CallbackRequest.requested_at)
    ).all()
    requests = [
        {
            "id": request.id, "language": language or "?", "via": request.requested_via.value,
            "at": _when(request.requested_at), "number_end": _number_end(phone),
        }
        for request, language, phone in rows
    ]
    return render_template("staff/callbacks.html", requests=requests)


@bp.post("/callbacks/<int:request_id>/call")
@role_required(*DESK)
def call_back(request_id: int):
    session = db()
    request = session.get(CallbackRequest, request_id)
    me = session.get(Staff, current_user.id)
    if request is None or request.status != CallbackStatus.open:
        flash(_("Denne forespørselen er allerede behandlet."), "error")
        return redirect(url_for("staff.callbacks"))
    if not me.phone_e164:
        flash(_("Legg inn ditt telefonnummer først: Linja ringer deg, så setter vi deg over."), "error")
        return redirect(url_for("staff.callbacks"))
    base = current_app.config["PUBLIC_BASE_URL"]
    try:
        current_app.extensions["linja.sender"].call(OutgoingCall(
            me.phone_e164, f"{base}/hotline/voice/bridge?request={request.id}", detect_machine=False))
    except SendError as error:
        flash(_("Linja fikk ikke ringt ut (%(error)s). Prøv igjen om litt.", error=error), "error")
        return redirect(url_for("staff.callbacks"))
    audit.record(session, at=current_app.extensions["linja.clock"].now(), actor=Actor.staff,
                 actor_staff_id=me.id, action="callback_called", details={"request": request.id})
    session.commit()
    flash(_("Linja ringer telefonen din nå, og setter deg over til innringeren."), "info")
    return redirect(url_for("staff.callbacks"))


@bp.post("/callbacks/<int:request_id>/done")
@role_required(*DESK)
def callback_done(request_id: int):
    session = db()
    request = session.get(CallbackRequest, request_id)
    if request is not None and request.status == CallbackStatus.open:
        request.status = CallbackStatus.done
        request.done_at = current_app.extensions["linja.clock"].now()
        request.done_by_staff_id = current_user.id
        session.commit()
    return redirect(url_for("staff.callbacks"))


@bp.get("/messages")
@role_required(*DESK)
def messages():
    """Voicemails left on the line, and texts that could not be delivered: someone should call."""
    session = db()
    voicemails = session.scalars(
        select(Voicemail).where(Voicemail.status == MessageStatus.open).order_by(Voicemail.received_at)).all()
    failed = failed_texts(session)
    client_ids = {row.client_id for row in [*voicemails, *failed] if row.client_id}
    phones = dict(session.execute(select(Client.id, Client.phone_e164).where(Client.id.in_(client_ids))).all())
    return render_template(
        "staff/messages.html",
        voicemails=[
            {"id": v.id, "at": _when(v.received_at), "language": v.language_code or "?",
             "seconds": v.duration_seconds, "number_end": _number_end(phones.get(v.client_id))}
            for v in voicemails
        ],
        failed=[
            {"at": _when(m.updated_at), "kind": m.kind, "language": m.language_code or "?", "error": m.error_code,
             "number_end": _number_end(phones.get(m.client_id))}
            for m in failed
        ],
    )


@bp.post("/voicemails/<int:voicemail_id>/done")
@role_required(*DESK)
def voicemail_done(voicemail_id: int):
    session = db()
    voicemail = session.get(Voicemail, voicemail_id)
    if voicemail is not None and voicemail.status == MessageStatus.open:
        voicemail.status, voicemail.done_by_staff_id = MessageStatus.done, current_user.id
        session.commit()
    return redirect(url_for("staff.messages"))


nav.add("staff.callbacks", _l("Ring tilbake"), *DESK, order=30)
nav.add("staff.messages", _l("Beskjeder"), *DESK, order=40)
