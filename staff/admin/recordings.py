"""Voice recordings per prompt per language: which are missing, what to say, upload, listen,
replace.

The list of pieces is the one `flask prompts missing` prints (hotline.voices). A language
Twilio has a voice for needs no recording, but a whole prompt recorded by a person is
played instead of the voice. A file is accepted by its own first bytes (MP3 or WAV, what
Twilio's <Play> plays), never by the type the browser declares.

A recording made for an older wording of its prompt (hotline.voices.is_current) is not
played: it is listed as missing again, marked as recorded for an older text, with the
text to record now; a new upload replaces it and is current.
"""
from __future__ import annotations

import csv
import io
import secrets

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from hotline import studio, voices
from hotline.studio import sniff
from scheduling.models import Language, PromptRecording, Service, Staff, StaffRole, StudioTake, TakeStatus
from staff.admin.common import admin_only, record
from staff.admin.forms import MAX_RECORDING_BYTES, RecordingForm
from staff.auth import role_required
from staff.db import db
from staff import nav
from staff.labels import language_name
from staff.once import once
from staff.recording_names import describe
from staff.views import bp, now

# What a browser may declare for the formats the phone line can play.
DECLARED_TYPES = {"audio/mpeg", "audio/mp3", "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}


def _slugs(session) -> list[str]:
    return session.scalars(select(Service.slug).where(Service.is_active.is_(True))
                           .order_by(Service.menu_order, Service.id)).all()


def _keys(language: str, slugs: list[str]) -> list[str]:
    """The pieces to record; with a voice, only whole prompts (the voice says the rest)."""
    keys = voices.pieces_to_record(language, slugs)
    if voices.voice(language) is not None:
        return [key for key in keys if _is_whole_prompt(key)]
    return keys


def _is_whole_prompt(key: str) -> bool:
    text = voices.prompts.VOICE_TEXTS.get(key)
    return text is not None and "{" not in text.msgid


# The recordings pages are the admin's; a recorder sees those of her own languages.
admin_or_recorder = role_required(StaffRole.admin, StaffRole.recorder)


def _me() -> Staff:
    return db().get(Staff, current_user.id)


def _may_see(code: str) -> bool:
    return current_user.role == StaffRole.admin or _me().speaks(code)


def _language(session, code: str) -> Language:
    language = session.get(Language, code[:8])
    if language is None or not _may_see(language.code):
        abort(404)
    return language


def _recorded(session, code: str) -> dict[str, PromptRecording]:
    """Every recording in a language, current or stale, by its key."""
    rows = session.execute(select(PromptRecording.prompt_key, PromptRecording.token, PromptRecording.uploaded_at,
                                  PromptRecording.text_version)
                           .where(PromptRecording.language_code == code)).all()
    return {row.prompt_key: row for row in rows}


def _is_played(row) -> bool:
    """Is there a recording, made for the wording its prompt has now? Else it is missing."""
    return row is not None and voices.is_current(row.prompt_key, row.text_version)


@bp.get("/admin/recordings")
@admin_or_recorder
def admin_recordings():
    session = db()
    slugs = _slugs(session)
    languages = [language for language in session.scalars(select(Language).order_by(Language.menu_order,
                                                                                     Language.code))
                 if _may_see(language.code)]
    waiting = dict(session.execute(
        select(StudioTake.language_code, func.count()).where(StudioTake.status == TakeStatus.waiting)
        .group_by(StudioTake.language_code)).all())
    overview = []
    for language in languages:
        keys = _keys(language.code, slugs)
        recorded = _recorded(session, language.code)
        missing = sum(1 for key in keys if not _is_played(recorded.get(key)))
        overview.append({
            "code": language.code, "name": language_name(language.code), "is_enabled": language.is_enabled,
            "is_rtl": language.is_rtl, "voice": voices.voice(language.code) is not None,
            "needed": len(keys), "missing": missing, "recorded": len(keys) - missing,
            "waiting": waiting.get(language.code, 0),
            "stale": sum(1 for key in keys if key in recorded and not _is_played(recorded[key])),
        })
    return render_template("staff/admin/recordings.html", overview=overview)


def script_for(key: str, language: Language, services: dict[str, Service]) -> str:
    """What the person recording ``key`` says, in her language where Linja knows it."""
    kind, _sep, value = key.partition(":")
    if kind == "service" and value in services:
        return services[value].name_in(language.code)
    if kind == "language":
        return language.name_native
    if kind == "minute" and value == "00":
        return _("(hel time, f.eks. «klokken ni»)")
    return voices.script(key, language.code)


GROUPS = [
    ("whole", _l("Hele beskjeder")),
    ("part", _l("Deler av beskjeder (mellom dato, tall og navn)")),
    ("weekday", _l("Ukedager")), ("day", _l("Dager i måneden")), ("month", _l("Måneder")),
    ("time", _l("Klokkeslett")), ("digit", _l("Tall å taste")), ("name", _l("Navn på tjenester og språket")),
]


def _group(key: str) -> str:
    if "#" in key:
        return "part"
    kind, colon, _value = key.partition(":")
    if not colon:
        return "whole"
    return {"hour": "time", "minute": "time", "service": "name", "language": "name"}.get(kind, kind)


@bp.get("/admin/recordings/<code>")
@admin_or_recorder
def admin_recordings_language(code: str):
    session = db()
    language = _language(session, code)
    slugs = _slugs(session)
    services = {s.slug: s for s in session.scalars(select(Service))}
    recorded = _recorded(session, language.code)
    pieces = []
    for key in _keys(language.code, slugs):
        row = recorded.get(key)
        pieces.append({
            "key": key, "script": script_for(key, language, services), "description": describe(key, services),
            "sentence": voices.in_sentence(key, language.code),
            # A stale recording has no token here: it is missing, and says so.
            "token": row.token if _is_played(row) else None, "is_stale": row is not None and not _is_played(row),
            "uploaded": format_datetime(row.uploaded_at, "d. MMM y HH:mm") if row else None,
        })
    missing = [p for p in pieces if p["token"] is None]
    only_missing = request.args.get("missing") == "1"
    shown = missing if only_missing else pieces
    groups = []
    for name, label in GROUPS:
        members = [p for p in shown if _group(p["key"]) == name]
        if members:
            groups.append({"name": name, "label": label, "pieces": members,
                           "missing": sum(1 for p in members if p["token"] is None)})
    return render_template("staff/admin/recordings_language.html", language=language, groups=groups,
                           pieces=shown, missing_count=len(missing),
                           stale_count=sum(1 for p in pieces if p["is_stale"]),
                           total=len(pieces), only_missing=only_missing, has_voice=voices.voice(language.code) is not None)


def _upload_page(session, language: Language, key: str, form: RecordingForm, status=200):
    services = {s.slug: s for s in session.scalars(select(Service))}
    row = _recorded(session, language.code).get(key)
    is_stale = row is not None and not _is_played(row)
    return render_template("staff/admin/recording_upload.html", language=language, key=key, form=form,
                           script=script_for(key, language, services), description=describe(key, services),
                           token=row.token if _is_played(row) else None, is_stale=is_stale,
                           stale_token=row.token if is_stale else None,
                           uploaded=format_datetime(row.uploaded_at, "d. MMM y HH:mm") if row else None), status


@bp.route("/admin/recordings/<code>/upload", methods=["GET", "POST"])
@admin_only
@once
def admin_recording_upload(code: str):
    session = db()
    language = _language(session, code)
    keys = set(_keys(language.code, _slugs(session)))
    key = (request.values.get("prompt_key") or request.args.get("key") or "")[:80]
    if key not in keys:
        flash(_("Velg opptaket du vil laste opp fra lista."), "error")
        return redirect(url_for("staff.admin_recordings_language", code=language.code))
    form = RecordingForm(data={"prompt_key": key})
    if request.method == "POST" and (request.content_length or 0) > MAX_RECORDING_BYTES + 64 * 1024:
        # Refused before the body is read: a huge upload is never held in memory.
        form.audio.errors = [_("Filen er for stor: høyst 5 MB. Et opptak på under ett minutt er nok.")]
        return _upload_page(session, language, key, form, 413)
    if form.validate_on_submit():
        upload = form.audio.data
        audio = upload.read(MAX_RECORDING_BYTES + 1)
        kind = sniff(audio[:16])
        declared = (upload.mimetype or "").lower()
        if len(audio) > MAX_RECORDING_BYTES:
            form.audio.errors.append(_("Filen er for stor: høyst 5 MB. Et opptak på under ett minutt er nok."))
        elif kind is None:
            form.audio.errors.append(_("Dette ser ikke ut som en MP3- eller WAV-fil. Lagre opptaket som MP3 "
                                       "eller WAV og prøv igjen."))
        elif declared not in DECLARED_TYPES:
            form.audio.errors.append(_("Nettleseren sier at filen er «%(type)s». Bare MP3- eller WAV-filer kan "
                                       "brukes.", type=declared or "?"))
        else:
            row = session.scalars(select(PromptRecording).where(
                PromptRecording.prompt_key == key, PromptRecording.language_code == language.code)).first()
            is_new = row is None
            if is_new:
                row = PromptRecording(prompt_key=key, language_code=language.code)
                session.add(row)
            # A new address on every upload: Twilio and browsers cache the old one for a day.
            row.token = secrets.token_urlsafe(32)
            row.content_type, row.audio, row.uploaded_at = kind, audio, now()
            # Made for the wording the script showed: current until that wording changes.
            row.text_version = voices.text_version(key)
            session.flush()
            record(session, "recording_added" if is_new else "recording_replaced", recording=row.id,
                   prompt_key=key, language=language.code, bytes=len(audio), content_type=kind)
            session.commit()
            services = {s.slug: s for s in session.scalars(select(Service))}
            flash(_("Opptaket av «%(key)s» er lagret. Lytt til det nedenfor.", key=describe(key, services)), "info")
            return redirect(url_for("staff.admin_recording_upload", code=language.code, key=key))
    status = 400 if form.is_submitted() else 200
    return _upload_page(session, language, key, form, status)


# --- takes from the studio line, waiting for someone to listen and approve ------------------------


def _waiting_takes(session, code: str) -> list[StudioTake]:
    return session.scalars(select(StudioTake).where(
        StudioTake.language_code == code, StudioTake.status == TakeStatus.waiting).order_by(StudioTake.id)).all()


@bp.get("/admin/recordings/<code>/takes")
@admin_or_recorder
def admin_recording_takes(code: str):
    session = db()
    language = _language(session, code)
    services = {s.slug: s for s in session.scalars(select(Service))}
    names = dict(session.execute(select(Staff.id, Staff.name)).all())
    me = _me()
    takes = [{
        "id": take.id, "key": take.prompt_key, "description": describe(take.prompt_key, services),
        "script": script_for(take.prompt_key, language, services),
        "gloss": studio.gloss(take.prompt_key, take.language_code),
        "by": names.get(take.staff_id, "?"), "when": format_datetime(take.recorded_at, "d. MMM y HH:mm"),
        "may_approve": studio.may_approve(me, take),
        "is_stale": not voices.is_current(take.prompt_key, take.text_version),
    } for take in _waiting_takes(session, language.code)]
    return render_template("staff/admin/recording_takes.html", language=language, takes=takes)


@bp.get("/admin/recordings/takes/<int:take_id>/audio")
@admin_or_recorder
def admin_recording_take_audio(take_id: int):
    take = db().get(StudioTake, take_id)
    if take is None or take.audio is None or not _may_see(take.language_code):
        abort(404)
    return Response(take.audio, mimetype=take.content_type or "audio/wav", headers={"Cache-Control": "no-store"})


@bp.post("/admin/recordings/takes/<int:take_id>/<decision>")
@admin_or_recorder
@once
def admin_recording_take_decide(take_id: int, decision: str):
    session = db()
    take = session.get(StudioTake, take_id, with_for_update=True)
    if take is None or not _may_see(take.language_code) or decision not in ("approve", "reject"):
        abort(404)
    services = {s.slug: s for s in session.scalars(select(Service))}
    what = describe(take.prompt_key, services)
    if take.status != TakeStatus.waiting:
        flash(_("Opptaket av «%(key)s» er allerede avgjort.", key=what), "info")
    elif not studio.may_approve(_me(), take):
        flash(_("Et opptak du har spilt inn selv, må godkjennes av en annen som kan språket, eller av en "
                "administrator."), "error")
    elif decision == "approve":
        if not voices.is_current(take.prompt_key, take.text_version):
            flash(_("Teksten til «%(key)s» er endret siden opptaket ble gjort. Spill det inn på nytt.", key=what),
                  "error")
        else:
            studio.approve(session, take, _me(), now())
            flash(_("«%(key)s» er godkjent. Innringere hører det nå.", key=what), "info")
    else:
        studio.reject(session, take, _me(), now())
        flash(_("«%(key)s» er forkastet.", key=what), "info")
    session.commit()
    return redirect(url_for("staff.admin_recording_takes", code=take.language_code))


# --- the script to read in the studio: a printable page and a CSV -------------------------------


def _script_rows(session, language: Language) -> list[dict]:
    services = {s.slug: s for s in session.scalars(select(Service))}
    recorded = _recorded(session, language.code)
    waiting = {take.prompt_key for take in _waiting_takes(session, language.code)}
    rows = []
    for number, key in enumerate(studio.studio_order(language.code, _slugs(session)), start=1):
        state = "recorded" if _is_played(recorded.get(key)) else "waiting" if key in waiting else \
            "stale" if key in recorded else "missing"
        rows.append({"number": number, "key": key, "text": script_for(key, language, services),
                     "sentence": voices.in_sentence(key, language.code) or "",
                     "gloss": studio.gloss(key, language.code),
                     "state": state})
    return rows


STATES = {"recorded": _l("spilt inn"), "waiting": _l("venter på godkjenning"), "missing": _l("mangler"),
          "stale": _l("utdatert")}


@bp.get("/admin/recordings/<code>/script")
@admin_or_recorder
def admin_recording_script(code: str):
    session = db()
    language = _language(session, code)
    return render_template("staff/admin/recording_script.html", language=language,
                           rows=_script_rows(session, language), states=STATES)


@bp.get("/admin/recordings/<code>/script.csv")
@admin_or_recorder
def admin_recording_script_csv(code: str):
    session = db()
    language = _language(session, code)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["nr", "name", "text", "in_sentence", "gloss_nb", "state"])
    for row in _script_rows(session, language):
        writer.writerow([row["number"], row["key"], _cell(row["text"]), _cell(row["sentence"]), _cell(row["gloss"]),
                         row["state"]])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=linja-script-{language.code}.csv",
        "Cache-Control": "no-store"})


def _cell(text: str) -> str:
    """A spreadsheet opens a cell starting with = + - @ (or a tab or carriage return before
    one) as a formula: such text is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


nav.add("staff.admin_recordings", _l("Lydopptak"), StaffRole.recorder, order=60)
