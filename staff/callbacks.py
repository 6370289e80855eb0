"""The desk's queues: callers who asked to be called back in their language, voicemails
(played through the app), and texts that could not be delivered.

"Call" rings the receptionist's own phone first and then puts her through to the caller,
who sees the centre's number: no staff member's own number is ever shown to a caller.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests
from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from scheduling import audit, notifications
from scheduling.models import (
    Actor,
    CallbackRequest,
    CallbackStatus,
    Client,
    MessageStatus,
    Staff,
    Voicemail,
)
from scheduling.contact import ContactTerms
from scheduling.notifications import failed_texts
from scheduling.sending import OutgoingCall, SendError
from staff import nav
from staff.auth import DESK, role_required
from staff.db import db
from staff.once import once
from staff.labels import VIA, contact_terms, language_name, number_end, when
from staff.views import bp

# A recording as Twilio names it: .../Accounts/{AccountSid}/Recordings/{RecordingSid}[.mp3|.wav]
RECORDING_PATH = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Recordings/(RE[0-9a-fA-F]{32})(\.mp3|\.wav)?")
KINDS = {
    "reminder": _l("Påminnelse"),
    "change": _l("Endring av time"),
    "confirmation": _l("Bekreftelse"),
    "callback": _l("Ring tilbake"),
}
# What the desk reads for a failure: Linja's own, and Twilio's error codes for texts
# that did not arrive (https://www.twilio.com/docs/api/errors); any other code is named
# as Twilio's, with its number for looking it up.
FAILURES = {
    "unknown": _l("Uvisst om den kom fram: Twilio svarte ikke"),
    "30003": _l("Telefonen hennes var ikke å nå (avslått eller uten dekning)"),
    "30004": _l("Meldingen ble stoppet: hun kan ha sperret nummeret"),
    "30005": _l("Nummeret finnes ikke, eller er ikke i bruk"),
    "30006": _l("Nummeret tar ikke imot SMS (fasttelefon eller utilgjengelig teleselskap)"),
    "30007": _l("Teleselskapet stoppet meldingen"),
    "30008": _l("Ukjent feil hos teleselskapet"),
    "21211": _l("Nummeret er ikke gyldig"),
    "21610": _l("Hun har sagt STOPP til SMS"),
    "21614": _l("Nummeret er ikke et mobilnummer"),
}


@bp.get("/callbacks")
@role_required(*DESK)
def callbacks():
    rows = db().execute(
        select(CallbackRequest, Client)
        .outerjoin(Client, Client.id == CallbackRequest.client_id)
        .where(CallbackRequest.status == CallbackStatus.open)
        .order_by(CallbackRequest.requested_at)
    ).all()
    at = current_app.extensions["linja.clock"].now()
    requests = []
    for request, client in rows:
        phone = client.phone_e164 if client else None
        terms = ContactTerms.of(client)
        requests.append({
            "id": request.id, "language": language_name(request.language_code), "via": VIA[request.requested_via],
            "at": when(request.requested_at), "number_end": number_end(phone),
            "client_id": client.id if phone else None,
            "contact": None if terms.is_open_ended else contact_terms(terms),
            "wait": _not_now(client, at),
        })
    return render_template("staff/callbacks.html", requests=requests)


def _not_now(client: Client | None, at) -> str | None:
    """Why she cannot be called now by her own terms (scheduling.contact), or None."""
    terms = ContactTerms.of(client)
    if not terms.allows_calls:
        return _("Ikke ring: hun vil bare ha SMS.")
    tz = current_app.extensions["linja.rules"].tz
    if terms.has_hours and not terms.is_open(at, tz):
        opening = terms.next_opening(at, tz)
        if opening is None:
            return _("Ikke ring nå: utenfor kontakttidene hennes.")
        return _("Kan ringes fra %(when)s (kontakttidene hennes).", when=when(opening))
    return None


@bp.post("/callbacks/<int:request_id>/call")
@role_required(*DESK)
@once
def call_back(request_id: int):
    session = db()
    request = session.get(CallbackRequest, request_id)
    me = session.get(Staff, current_user.id)
    if request is None or request.status != CallbackStatus.open:
        flash(_("Denne forespørselen er allerede behandlet."), "error")
        return redirect(url_for("staff.callbacks"))
    wait = _not_now(session.get(Client, request.client_id) if request.client_id else None,
                    current_app.extensions["linja.clock"].now())
    if wait is not None:
        flash(wait, "error")
        return redirect(url_for("staff.callbacks"))
    if not me.phone_e164:
        flash(_("Legg inn ditt telefonnummer først: Linja ringer deg, så setter vi deg over."), "error")
        return redirect(url_for("staff.callbacks"))
    if notifications.is_off_limits(session, me.phone_e164):
        flash(_("Linja ringer ikke nummeret ditt (et spesialnummer eller senterets eget). "
                "Legg inn et vanlig telefonnummer under Innstillinger."), "error")
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
@once
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
        can_play=_twilio() is not None,
        voicemails=[
            {"id": v.id, "at": when(v.received_at), "language": language_name(v.language_code),
             "seconds": v.duration_seconds, "number_end": number_end(phones.get(v.client_id)),
             "client_id": v.client_id if phones.get(v.client_id) else None}
            for v in voicemails
        ],
        failed=[
            {"at": when(m.updated_at), "kind": KINDS.get(m.kind, _("SMS")), "language": language_name(m.language_code),
             "error": _failure(m.error_code), "number_end": number_end(phones.get(m.client_id)),
             "client_id": m.client_id if phones.get(m.client_id) else None}
            for m in failed
        ],
    )


def _failure(code: str | None) -> str:
    if not code:
        return ""
    return str(FAILURES[code]) if code in FAILURES else _("Twilio-feil %(code)s", code=code)


@bp.get("/voicemails/<int:voicemail_id>/audio")
@role_required(*DESK)
def voicemail_audio(voicemail_id: int):
    """The recording, fetched from Twilio with the account's credentials and passed on as
    it arrives: the browser never needs (or sees) them."""
    voicemail = db().get(Voicemail, voicemail_id)
    if voicemail is None:
        abort(404)
    audit.record(db(), at=current_app.extensions["linja.clock"].now(), actor=Actor.staff, actor_staff_id=current_user.id,
                 action="voicemail_played", details={"voicemail": voicemail.id, "client": voicemail.client_id})
    db().commit()
    upstream = _fetch_recording(voicemail.recording_url)
    if upstream is None:
        # A page, not an error: she opened a voicemail that exists; only its sound is gone.
        return render_template("staff/desk_recording_missing.html")

    def chunks():
        try:
            yield from upstream.iter_content(32 * 1024)
        finally:
            upstream.close()

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if upstream.headers.get("Content-Length") and not upstream.headers.get("Content-Encoding"):
        headers["Content-Length"] = upstream.headers["Content-Length"]
    return Response(chunks(), headers=headers,
                    content_type=upstream.headers.get("Content-Type", "audio/mpeg"))


def _twilio():
    """The twilio REST client of the app's sender; None when Linja runs without Twilio."""
    return getattr(current_app.extensions["linja.sender"], "client", None)


def _fetch_recording(url: str) -> requests.Response | None:
    """Twilio's answer for a voicemail's recording, or None when there is none to play.

    Only a recording of this account is fetched, and always from TWILIO_API_BASE: the
    account's credentials never go to whatever host a stored URL names."""
    twilio = _twilio()
    match = RECORDING_PATH.fullmatch(urlsplit(url or "").path)
    if twilio is None or match is None or match.group(1) != twilio.account_sid:
        return None
    path = match.group(0) if match.group(3) else match.group(0) + ".mp3"
    http = getattr(twilio.http_client, "session", None) or requests.Session()
    try:
        upstream = http.get(current_app.config["TWILIO_API_BASE"].rstrip("/") + path, stream=True, timeout=10,
                            auth=(twilio.username, twilio.password))
    except requests.RequestException:
        return None
    if upstream.status_code != 200:
        upstream.close()
        return None
    return upstream


@bp.post("/voicemails/<int:voicemail_id>/done")
@role_required(*DESK)
@once
def voicemail_done(voicemail_id: int):
    session = db()
    voicemail = session.get(Voicemail, voicemail_id)
    if voicemail is not None and voicemail.status == MessageStatus.open:
        voicemail.status, voicemail.done_by_staff_id = MessageStatus.done, current_user.id
        session.commit()
    return redirect(url_for("staff.messages"))


nav.add("staff.callbacks", _l("Ring tilbake"), *DESK, order=30)
nav.add("staff.messages", _l("Beskjeder"), *DESK, order=40)
