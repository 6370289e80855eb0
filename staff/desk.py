"""The reception desk: every counselor's day, finding a caller, booking, moving, cancelling.

The board, the search and booking on a caller's behalf live here; one appointment's page
(move, cancel) lives in staff.desk_appointment.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_, or_, select
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from scheduling import audit
from scheduling.availability import find_free_slots, intersect, load_centre, local_interval, subtract
from scheduling import codeword, notifications
from scheduling.contact import EVERY_DAY, ContactTerms, change_terms, within_sending_day
from scheduling.reference import reference
from scheduling.booking import Booked, book_appointment
from scheduling.clients import appointments_of, find_client, find_or_create_client
from scheduling.models import (
    Absence,
    Actor,
    Appointment,
    AppointmentStatus,
    BookedVia,
    Client,
    ContactMeans,
    Language,
    Service,
    Staff,
    StaffRole,
    WorkingHours,
)
from staff import nav
from staff.auth import DESK, role_required
from staff.db import db
from staff.once import new_flow, once, sent_page
from staff.desk_forms import PHONE_HINT, BookForm, ChooseSlotForm, ContactForm, SearchForm
from staff.desk_notices import text_notice, text_reaches
from staff.desk_numbers import caller_from, has_stale_reference, reference_for
from staff.labels import (
    contact_terms,
    is_id,
    day_asked_for,
    STATUS,
    VIA,
    hm,
    language_name,
    listed,
    long_day,
    number_end,
    parse_slot_value,
    readable_phone,
    slot_choice,
    when,
)
from staff.views import bp, now

# Free stretches shorter than this are not worth showing on the board.
SHORTEST_FREE = timedelta(minutes=30)
SLOTS_OFFERED = 10


# --- the day board ---------------------------------------------------------------------------


@bp.get("/board")
@role_required(*DESK)
def board():
    rules = current_app.extensions["linja.rules"]
    at = now()
    today = at.astimezone(rules.tz).date()
    shown = day_asked_for(request.args.get("day"), today)
    session = db()
    day_start = local_interval(shown, time(0), time(0), rules.tz)[0]
    day_end = local_interval(shown + timedelta(days=1), time(0), time(0), rules.tz)[0]

    # Rows, not objects: the board of a busy day shows hundreds of cards and changes none.
    appointments = session.execute(
        select(*CARD_COLUMNS, Client.phone_e164)
        .outerjoin(Client, Client.id == Appointment.client_id)
        .where(Appointment.start_at >= day_start, Appointment.start_at < day_end)
        .order_by(Appointment.start_at)
    ).all()
    hours = session.scalars(
        select(WorkingHours).where(
            WorkingHours.weekday == shown.weekday(), WorkingHours.valid_from <= shown,
            or_(WorkingHours.valid_until.is_(None), WorkingHours.valid_until >= shown),
        ).order_by(WorkingHours.starts)
    ).all()
    working_ids = {h.staff_id for h in hours}
    booked_ids = {a.counselor_id for a in appointments}
    counselors = session.scalars(
        select(Staff).where(
            Staff.id.in_(working_ids | booked_ids),
            # Someone who has left still shows if she had appointments that day.
            or_(Staff.id.in_(booked_ids), and_(Staff.is_active.is_(True), Staff.role == StaffRole.counselor)),
        ).order_by(Staff.name)
    ).all()
    absences = session.scalars(
        select(Absence).where(Absence.staff_id.in_([c.id for c in counselors]),
                              Absence.starts_at < day_end, Absence.ends_at > day_start)
        .order_by(Absence.starts_at)
    ).all()
    centre = load_centre(session, shown, shown)
    closed = centre.is_closed(shown)
    opening = sorted(local_interval(shown, a, b, rules.tz) for a, b in centre.opening.get(shown.weekday(), ()))

    # Each row is handed to its counselor once (a board of 100 counselors shows about 500
    # appointments), and the words every card repeats are looked up once per page.
    mine_by, work_by, away_by = defaultdict(list), defaultdict(list), defaultdict(list)
    for a in appointments:
        mine_by[a.counselor_id].append(a)
    for h in hours:
        work_by[h.staff_id].append(local_interval(shown, h.starts, h.ends, rules.tz))
    for x in absences:
        away_by[x.staff_id].append((max(x.starts_at, day_start), min(x.ends_at, day_end)))
    clock = _local_clock(rules.tz)
    card = _card_maker(clock, reference(session).services)
    columns = []
    for counselor in counselors:
        mine = mine_by[counselor.id]
        work = sorted(work_by[counselor.id])
        away = away_by[counselor.id]
        busy = [(a.start_at, a.busy_until_at) for a in mine if a.status != AppointmentStatus.cancelled]
        free = [] if closed else subtract(intersect(work, opening), [*away, *busy, (day_start, at)])
        entries = [
            *({"kind": "appointment", "start": a.start_at, **card(a)} for a in mine),
            *({"kind": "absence", "start": s, "from": clock(s), "to": clock(e),
               "all_day": s == day_start and e == day_end} for s, e in away),
            *({"kind": "free", "start": s, "from": clock(s), "to": clock(e)}
              for s, e in free if e - s >= SHORTEST_FREE),
        ]
        entries.sort(key=lambda entry: (entry["start"], entry["kind"] != "absence"))
        columns.append({
            "id": counselor.id,
            "name": counselor.name,
            "languages": ", ".join(card.language(lang.code) for lang in counselor.languages),
            "hours": [f"{clock(s)}–{clock(e)}" for s, e in work],
            "count": len(busy),
            "entries": entries,
        })
    return render_template(
        "staff/board.html",
        heading=long_day(shown), day=shown.isoformat(), is_today=shown == today, closed=closed,
        previous_day=(shown - timedelta(days=1)).isoformat(), next_day=(shown + timedelta(days=1)).isoformat(),
        columns=columns, search_form=SearchForm(formdata=None),
    )


def _local_clock(tz):
    """``hm`` for a page that shows hundreds of times: the same "HH:mm" in the centre's
    zone, without asking Flask-Babel for the zone and the pattern each time."""
    return lambda at: at.astimezone(tz).strftime("%H:%M")


# What a card on the board shows, with the caller's number (for its last two digits).
CARD_COLUMNS = (
    Appointment.id, Appointment.counselor_id, Appointment.service_id, Appointment.language_code,
    Appointment.start_at, Appointment.end_at, Appointment.busy_until_at, Appointment.status,
    Appointment.is_interpreter_needed, Appointment.booked_via,
)


def _card_maker(clock, services):
    """What a card on the board shows of one appointment (a row of CARD_COLUMNS and the
    caller's phone_e164). The words repeated on every card
    (service, language, via, status) are translated once per page."""
    words: dict = {}

    def looked_up(key, make):
        if key not in words:
            words[key] = make()
        return words[key]

    def card(appointment) -> dict:
        return {
            "id": appointment.id,
            "time": f"{clock(appointment.start_at)}–{clock(appointment.end_at)}",
            "service": looked_up(("service", appointment.service_id), lambda: services[appointment.service_id].name_in("nb")),
            "language": card.language(appointment.language_code),
            "interpreter": appointment.is_interpreter_needed,
            "via": looked_up(appointment.booked_via, lambda: str(VIA[appointment.booked_via])),
            "status": looked_up(appointment.status, lambda: str(STATUS[appointment.status])),
            "status_key": appointment.status.value,
            "number_end": number_end(appointment.phone_e164),
        }

    card.language = lambda code: looked_up(("language", code), lambda: language_name(code))
    return card


# --- finding a caller by her number -------------------------------------------------------------


STALE_REFERENCE = _l("Det søket husker Linja ikke lenger (du har logget inn på nytt, eller det er noen timer "
                     "siden). Skriv nummeret inn på nytt.")


@bp.get("/search")
@role_required(*DESK)
def search():
    """Her page, named by ``client`` (a caller Linja knows; queues link here) or ``ref`` (a
    number no caller has yet); without either, the empty search form. A ``phone`` in the
    query string is ignored: a number is posted (search_number), never written in a URL."""
    session = db()
    at = now()
    caller = caller_from(request.args, session, at)
    if caller is None:
        if is_id(request.args.get("client", "")):
            abort(404)
        notice = STALE_REFERENCE if has_stale_reference(request.args, caller) else None
        return render_template("staff/search.html", form=SearchForm(formdata=None), hint=PHONE_HINT,
                               searched=False, notice=notice)
    form = SearchForm(formdata=None, data={"phone": caller.phone_e164})
    client, found = caller.client, None
    if client is not None:
        audit.record(session, at=at, actor=Actor.staff, actor_staff_id=current_user.id, action="caller_viewed",
                     details={"client": client.id})
        session.commit()
        upcoming, past = appointments_of(session, client.id, at)
        found = {
            "id": client.id,
            "readable_phone": readable_phone(client.phone_e164),
            "language_code": client.language_code,
            "language": language_name(client.language_code) if client.language_code else None,
            "is_opted_out": client.is_opted_out,
            "can_text": notifications.can_text(session, client),
            "wants_calls": client.wants_reminder_calls,
            "code_word": codeword.status(client).value,
            "contact": contact_terms(ContactTerms.of(client)),
            "contact_form": contact_form_for(client),
            "upcoming": [listed(a) for a in upcoming],
            "past": [listed(a) for a in past],
        }
    return render_template(
        "staff/search.html", form=form, hint=PHONE_HINT, searched=True, found=found,
        who=caller.url_args, readable=readable_phone(caller.phone_e164),
    )


@bp.post("/search")
@role_required(*DESK)
def search_number():
    """Her number as the receptionist typed it, in any format; then (Post/Redirect/Get) her
    page, whose URL names her without the number."""
    form = SearchForm()
    if not form.validate():
        return render_template("staff/search.html", form=form, hint=PHONE_HINT, searched=False), 400
    return redirect(url_for("staff.search", **reference_for(db(), form.phone.e164, now())), 303)


# --- booking on her behalf ----------------------------------------------------------------------


def _fill_choices(form: BookForm) -> None:
    session = db()
    languages = session.scalars(
        select(Language).where(Language.is_enabled.is_(True)).order_by(Language.menu_order, Language.code)
    ).all()
    form.language.choices = [SelectChoice("", _("Velg språk"))] + [
        SelectChoice(lang.code, language_name(lang.code)) for lang in languages
    ]
    services = session.scalars(
        select(Service).where(Service.is_active.is_(True)).order_by(Service.menu_order, Service.id)
    ).all()
    form.service.choices = [SelectChoice(s.id, s.name_in("nb")) for s in services]


@bp.get("/book")
@role_required(*DESK)
def book():
    """Step 1, her number, language and service (posted to book_times); with them, step 2:
    the free slots for the caller the URL names by ``client`` or ``ref``. A ``phone`` in
    the query string is ignored, as in search."""
    session = db()
    caller = caller_from(request.args, session, now())
    if caller is None and is_id(request.args.get("client", "")):
        abort(404)
    if caller is not None and caller.client is not None:
        # Her number is on the page: opening it by client id is a look-up, like search's.
        audit.record(session, at=now(), actor=Actor.staff, actor_staff_id=current_user.id,
                     action="caller_viewed", details={"client": caller.client.id})
        session.commit()
    data = MultiDict([(key, value) for key, value in request.args.items(multi=True)
                      if key in ("language", "service")])
    if caller is not None:
        data["phone"] = caller.phone_e164
        if not data.get("language") and caller.client is not None and caller.client.language_code:
            data["language"] = caller.client.language_code
    form = BookForm(data, meta={"csrf": False})
    _fill_choices(form)
    if caller is None or not request.args.get("service"):
        # Arriving from a search: her number and language filled in, nothing checked yet.
        notice = STALE_REFERENCE if has_stale_reference(request.args, caller) else None
        return render_template("staff/book.html", form=form, hint=PHONE_HINT, slots=None, message=notice)
    if not form.validate():
        return render_template("staff/book.html", form=form, hint=PHONE_HINT, slots=None), 400
    after = _parse_instant(request.args.get("after"))
    return _slots_page(ChooseSlotForm(formdata=None, data={
        "phone": caller.phone_e164, "language": form.language.data, "service": form.service.data,
    }), phone_e164=caller.phone_e164, after=after, flow=_flow(request.args.get("f")))


@bp.post("/book/times")
@role_required(*DESK)
def book_times():
    """Step 1 posted; then (Post/Redirect/Get) step 2, whose URL names her without the number."""
    form = BookForm()
    _fill_choices(form)
    if not form.validate():
        return render_template("staff/book.html", form=form, hint=PHONE_HINT, slots=None), 400
    who = reference_for(db(), form.phone.e164, now())
    # Step 2's address names this booking (f): the browser's Back loads the same page with
    # the same one-time token, so it cannot book a second time (staff.once).
    return redirect(url_for("staff.book", **who, language=form.language.data, service=form.service.data,
                            f=new_flow()), 303)


def _flow(raw: str | None) -> str | None:
    """A booking's reference as step 2's address or form carries it (staff.once.new_flow)."""
    return raw if raw and len(raw) <= 32 and raw.replace("-", "").replace("_", "").isalnum() and raw.isascii() \
        else None


def _slots_page(form: ChooseSlotForm, *, phone_e164: str, after: datetime | None = None,
                message: str | None = None, status: int = 200, alternatives=None, flow: str | None = None):
    _fill_choices(form)
    session = db()
    slots = alternatives if alternatives is not None else find_free_slots(
        session, service_id=form.service.data, language_code=form.language.data, now=now(),
        rules=current_app.extensions["linja.rules"], limit=SLOTS_OFFERED, not_before=after,
    )
    counselors = {s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_({x.counselor_id for x in slots})))}
    choices = [slot_choice(slot, counselors) for slot in slots]
    form.slot.choices = [SelectChoice(c["value"], c["when"]) for c in choices]
    later = slots[-1].start_at + timedelta(minutes=1) if slots else None
    return render_template(
        "staff/book.html", form=form, hint=PHONE_HINT, slots=choices, message=message,
        who=reference_for(session, phone_e164, now()), readable=readable_phone(phone_e164),
        service_name=next((c.label for c in form.service.choices if c.value == form.service.data), ""),
        language=language_name(form.language.data),
        later=later.isoformat() if later else None, flow=flow,
    ), status


@bp.post("/book")
@role_required(*DESK)
@once
def book_slot():
    form = ChooseSlotForm()
    _fill_choices(form)
    flow = _flow(request.form.get("f"))
    if not form.validate():
        step_one_ok = not (form.phone.errors or form.language.errors or form.service.errors)
        if step_one_ok:
            return _slots_page(form, phone_e164=form.phone.e164, status=400, flow=flow)
        return render_template("staff/book.html", form=form, hint=PHONE_HINT, slots=None), 400
    session = db()
    at = now()
    known = find_client(session, form.phone.e164)
    live = appointments_of(session, known.id, at)[0] if known is not None else []
    if live and request.form.get("second") != "1":
        # She has a time already: a second is booked only when the receptionist says so, on
        # a page of its own address (the browser's Back after booking loads it again).
        return redirect(url_for("staff.book_second", client=known.id, language=form.language.data,
                                service=form.service.data, slot=form.slot.data, f=flow), 303)
    client = find_or_create_client(session, form.phone.e164, at)
    if client.language_code is None:
        client.language_code = form.language.data
    result = book_appointment(
        session, service_id=form.service.data, counselor_id=form.slot.counselor_id,
        start_at=form.slot.start_at, now=at, booked_via=BookedVia.staff, client=client,
        language_code=form.language.data, actor=Actor.staff, actor_staff_id=current_user.id,
        rules=current_app.extensions["linja.rules"],
    )
    if not isinstance(result, Booked):
        session.rollback()
        if result.reason == "held":
            message = _("En innringer holder på å bestille akkurat den tiden nå. Bekrefter hun den ikke, "
                        "blir den ledig igjen om noen minutter. Her er de neste ledige tidene – velg en av dem.")
        else:
            message = _("Noen andre fikk akkurat den tiden. Her er de neste ledige tidene – velg en av dem.")
        return _slots_page(form, phone_e164=form.phone.e164, alternatives=result.alternatives, status=409,
                           message=message, flow=flow)
    appointment = result.appointment
    counselor = session.get(Staff, appointment.counselor_id)
    session.commit()
    flash(_("Timen er bestilt: %(when)s hos %(name)s.", when=when(appointment.start_at), name=counselor.name), "info")
    flash(text_notice(client, _("bekreftelsen")), "info" if text_reaches(client) else "error")
    return redirect(url_for("staff.appointment", appointment_id=appointment.id), 303)


@bp.get("/book/second")
@role_required(*DESK)
def book_second():
    """She has a time already: is a second meant? (The answer posts to ``book_slot``.)"""
    session = db()
    flow = _flow(request.args.get("f"))
    if flow:
        # Back to the question after answering it: say the booking was sent.
        sent = sent_page(f"book:{flow}")
        if sent is not None:
            return sent
    caller = caller_from(request.args, session, now())
    parsed = parse_slot_value(request.args.get("slot", ""))
    form = ChooseSlotForm(formdata=None, data={
        "phone": caller.phone_e164 if caller else None, "language": request.args.get("language"),
        "service": request.args.get("service"), "slot": request.args.get("slot")})
    live = appointments_of(session, caller.client.id, now())[0] if caller and caller.client else []
    if parsed is None or not live:
        # Nothing to ask (no time to keep, or an address we cannot read): the times again.
        return redirect(url_for("staff.book", **({"client": caller.client.id} if caller and caller.client else {}),
                                language=request.args.get("language"), service=request.args.get("service"),
                                f=flow))
    form.slot.counselor_id, form.slot.start_at = parsed
    return _second_page(form, live, flow, caller.phone_e164)


def _second_page(form: ChooseSlotForm, live: list[Appointment], flow: str | None, phone_e164: str):
    session = db()
    counselor = session.get(Staff, form.slot.counselor_id)
    return render_template(
        "staff/book_second.html", form=form, flow=flow, live=[listed(a) for a in live],
        wanted=when(form.slot.start_at), counselor=counselor.name if counselor else "",
        who=reference_for(session, phone_e164, now()),
    )


def _parse_instant(raw: str | None) -> datetime | None:
    parsed = parse_slot_value(f"0@{raw}") if raw else None
    return parsed[1] if parsed else None


nav.HOME[StaffRole.receptionist] = nav.HOME[StaffRole.admin] = "staff.board"
nav.add("staff.board", _l("Tavle"), *DESK, order=20)
nav.add("staff.book", _l("Bestill time"), *DESK, order=25)

def contact_form_for(client: Client, formdata=None) -> ContactForm:
    terms = ContactTerms.of(client)
    return ContactForm(formdata=formdata, data={
        "means": terms.means.value, "days": list(terms.days or EVERY_DAY), "starts": terms.starts, "ends": terms.ends,
    })


@bp.post("/clients/<int:client_id>/contact")
@role_required(*DESK)
@once
def set_contact_terms(client_id: int):
    """Her terms for being contacted, as she told the receptionist: from now on every text
    and call keeps to them (scheduling.contact); the audit trail says who changed them."""
    session = db()
    client = session.get(Client, client_id)
    if client is None or client.phone_e164 is None:
        abort(404)
    form = ContactForm()
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("staff.search", client=client.id, _anchor="contact"), 303)
    starts, ends = form.starts.data, form.ends.data
    if starts is not None and ends is not None:
        # No text or call leaves in the quiet hours: what is kept is the part outside them.
        rules = current_app.extensions["linja.rules"]
        window = within_sending_day(starts, ends, rules.quiet_from, rules.quiet_until)
        if window is None:
            flash(_("Linja sender ingen SMS og ringer ikke mellom %(quiet_from)s og %(quiet_until)s: velg tider "
                    "utenom, ellers når ingenting henne.", quiet_from=f"{rules.quiet_from:%H:%M}",
                    quiet_until=f"{rules.quiet_until:%H:%M}"), "error")
            return redirect(url_for("staff.search", client=client.id, _anchor="contact"), 303)
        starts, ends = window
    terms = ContactTerms(means=ContactMeans(form.means.data), days="".join(sorted(set(form.days.data))),
                         starts=starts, ends=ends)
    change_terms(session, client, terms, now=now(), actor=Actor.staff, staff_id=current_user.id)
    session.commit()
    flash(_("Lagret: %(terms)s.", terms=contact_terms(ContactTerms.of(client))), "info")
    return redirect(url_for("staff.search", client=client.id, _anchor="contact"), 303)


@bp.post("/clients/<int:client_id>/code-word/clear")
@role_required(*DESK)
@once
def clear_code_word(client_id: int):
    """She called and cannot give her code word (forgotten, or locked after wrong tries):
    the receptionist, having spoken with her, clears it; she can choose a new one by text."""
    session = db()
    client = session.get(Client, client_id)
    if client is None or client.phone_e164 is None:
        abort(404)
    if client.code_word_hash:
        codeword.clear_code_word(session, client, current_user.id, now())
        session.commit()
        flash(_("Kodeordet er fjernet. Hun kan velge et nytt på SMS."), "info")
    return redirect(url_for("staff.search", client=client.id), 303)

