"""The audit trail in words a person reads: what happened, to whom and when, with names
instead of ids ("Flyttet fra Amina 8. des. 10:00 til Sana 9. des. 12:00"), in the staff
member's page language and Oslo time. A caller is named as the desk names her, by the last
two digits of her number, never the number itself.

An entry's details are whatever its action recorded, and old rows may hold keys, or
values, this module does not know: anything it cannot read is left out, never shown raw.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from babel.dates import format_skeleton, get_day_names
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import (
    Actor, AppointmentStatus, AuditEntry, BookedVia, CallbackRequest, Client, ContactMeans, Service, Staff,
    StaffRole,
)
from scheduling.contact import ContactTerms
from staff.labels import MAX_ID, ROLE, STATUS, contact_terms, language_name, number_end
from staff.recording_names import describe as describe_recording

# What each action means, in the staff's words. An action not listed here (a new one, or
# one from an older Linja) is "Annen hendelse".
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
    "contact_terms_changed": _l("Endret når og hvordan Linja kan nå en innringer"),
    "studio_pin_set": _l("Ga en ansatt ny studio-PIN"),
    "studio_opened": _l("Ringte inn til studiolinja"),
    "studio_session": _l("Spilte inn på studiolinja"),
    "recording_approved": _l("Godkjente et lydopptak fra studiolinja"),
    "recording_rejected": _l("Forkastet et lydopptak fra studiolinja"),
}
OTHER = _l("Annen hendelse")
BOOKED_VIA = {
    BookedVia.sms.value: _l("Bestilt på SMS"),
    BookedVia.voice.value: _l("Bestilt på telefon"),
    BookedVia.staff.value: _l("Bestilt av resepsjonen"),
}
# Seven digits or more, with the spaces, dashes and brackets people write numbers with.
PHONE_LIKE = re.compile(r"\+?\(?\d(?:[\s().-]*\d){6,}")
HIDDEN = "•••"


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, OTHER))


# --- the names an entry's ids stand for ----------------------------------------------------


def _id(value) -> int | None:
    """A row id as an entry holds it; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def _ids(value) -> list[int]:
    return [i for i in (_id(v) for v in value) if i is not None] if isinstance(value, list) else []


class Names:
    """The staff, services and callers a list of entries mentions, each looked up once."""

    def __init__(self, session: Session, entries: list[AuditEntry]):
        staff, services, clients, requests = set(), set(), set(), set()
        for entry in entries:
            if entry.actor_staff_id:
                staff.add(entry.actor_staff_id)
            for details in _dicts(entry.details):
                staff.update(filter(None, (_id(details.get("staff")), _id(details.get("counselor_id")),
                                           _id(details.get("recorded_by")))))
                services.update(filter(None, (_id(details.get("service")), _id(details.get("service_id")))))
                services.update(_ids(details.get("services")))
                clients.update(filter(None, [_id(details.get("client"))]))
                requests.update(filter(None, [_id(details.get("request"))]))
        self._requests = dict(session.execute(
            select(CallbackRequest.id, CallbackRequest.client_id).where(CallbackRequest.id.in_(requests))).all()
        ) if requests else {}
        clients.update(filter(None, self._requests.values()))
        self._staff = dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff))).all()) \
            if staff else {}
        # Services are few; a recording of a service's name is known by its slug.
        self._services = {s.id: s for s in session.scalars(select(Service))}
        self._by_slug = {s.slug: s for s in self._services.values()}
        self._phones = dict(session.execute(select(Client.id, Client.phone_e164).where(Client.id.in_(clients))).all()) \
            if clients else {}

    def staff(self, staff_id) -> str:
        return self._staff.get(_id(staff_id)) or _("en ansatt")

    def counselor(self, staff_id) -> str:
        return self._staff.get(_id(staff_id)) or _("en rådgiver")

    def service(self, service_id) -> str:
        service = self._services.get(_id(service_id))
        return service.name_in("nb") if service else _("en tjeneste")

    def caller(self, client_id) -> str:
        """"innringer …23": enough to tell two callers apart, not to write her number down."""
        return _("innringer %(end)s", end=number_end(self._phones.get(_id(client_id))))

    def caller_of_request(self, request_id) -> str | None:
        client_id = self._requests.get(_id(request_id))
        return self.caller(client_id) if client_id else None

    def recording(self, key) -> str:
        return describe_recording(key, self._by_slug) if isinstance(key, str) else _("et opptak")


def _dicts(details) -> list[dict]:
    """The entry's details and the dicts nested in them (a move's "from" and "to")."""
    if not isinstance(details, dict):
        return []
    return [details] + [value for value in details.values() if isinstance(value, dict)]


# --- dates and small words ------------------------------------------------------------------


def _instant(value) -> datetime | None:
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _when(at: datetime, year: int | None = None) -> str:
    """"8. des. 10:00" ("Dec 8 10:00"), with the year when it is not ``year``'s."""
    local = at.astimezone(get_timezone())
    skeleton = "MMMd" if local.year == year else "yMMMd"
    return f"{format_skeleton(skeleton, local, locale=get_locale(), fuzzy=True)} {local:%H:%M}"


def _date(day: date) -> str:
    return format_skeleton("yMMMd", day, locale=get_locale(), fuzzy=True)


def _weekday(value) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return get_day_names("wide", locale=get_locale())[value]
    return None


def _clock(value) -> str | None:
    return value if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}", value) else None


def _span(start, end) -> str | None:
    start, end = _clock(start), _clock(end)
    return f"{start}–{end}" if start and end else None


def _yes_no(value: bool) -> str:
    return _("ja") if value else _("nei")


def _joined(parts) -> str:
    return ", ".join(part for part in parts if part)


def _number(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- each action's details, in words ---------------------------------------------------------


def _booking(details: dict, names: Names, year: int) -> str:
    """"Amina, Samtale, 24. nov. 10:00, tolk: nei" from what a booking recorded."""
    at = _instant(details.get("start_at"))
    interpreter = details.get("interpreter")
    return _joined([
        names.counselor(details["counselor_id"]) if "counselor_id" in details else None,
        names.service(details["service_id"]) if "service_id" in details else None,
        _when(at, year) if at else None,
        _("tolk: %(answer)s", answer=_yes_no(interpreter)) if isinstance(interpreter, bool) else None,
    ])


def _place(details, names: Names, year: int) -> str | None:
    """"Amina 8. des. 10:00": where and when an appointment was, or is."""
    if not isinstance(details, dict):
        return None
    at = _instant(details.get("start_at"))
    return " ".join(part for part in (
        names.counselor(details["counselor_id"]) if "counselor_id" in details else None,
        _when(at, year) if at else None,
    ) if part) or None


def _booked(d: dict, names: Names, year: int) -> str:
    via = BOOKED_VIA.get(d.get("via"))
    label = str(via) if via else _("Bestilt")
    facts = _booking(d, names, year)
    return f"{label}: {facts}" if facts else label


def _moved(d: dict, names: Names, year: int) -> str:
    before, after = _place(d.get("from"), names, year), _place(d.get("to"), names, year)
    if before and after:
        said = _("Flyttet fra %(before)s til %(after)s", before=before, after=after)
    elif after:
        said = _("Flyttet til %(after)s", after=after)
    elif before:
        said = _("Flyttet fra %(before)s", before=before)
    else:
        return _("Flyttet")
    was, now = (d.get(side, {}).get("interpreter") if isinstance(d.get(side), dict) else None
                for side in ("from", "to"))
    if isinstance(was, bool) and isinstance(now, bool) and was != now:
        said = _joined([said, _("nå med tolk") if now else _("nå uten tolk")])
    return said


def _cancelled(d: dict, names: Names, year: int) -> str:
    reason = d.get("reason")
    if isinstance(reason, str) and reason.strip():
        return _("Avlyst: %(reason)s", reason=PHONE_LIKE.sub(HIDDEN, reason.strip()))
    return _("Avlyst")


def _status(value) -> str | None:
    try:
        return str(STATUS[AppointmentStatus(value)])
    except ValueError:
        return None


def _attendance(d: dict, names: Names, year: int) -> str:
    before, after = _status(d.get("from")), _status(d.get("to"))
    if before and after:
        return _("Oppmøte endret fra «%(before)s» til «%(after)s»", before=before, after=after)
    if after:
        return _("Oppmøte merket: %(status)s", status=after)
    return _("Oppmøte endret")


def _caller(d: dict, names: Names, year: int) -> str:
    return names.caller(d["client"]) if "client" in d else ""


def _contact_terms(d: dict, names: Names, year: int) -> str:
    """Her terms as they were set ("kontakt: hverdager 10–14, bare SMS"), never why."""
    told = d.get("to") if isinstance(d.get("to"), dict) else {}
    terms = None
    try:
        hours = told.get("hours")
        starts, ends = (time.fromisoformat(part) for part in hours.split("-")) if hours else (None, None)
        terms = ContactTerms(ContactMeans(told.get("means", "any")), told.get("days") or None, starts, ends)
    except (AttributeError, TypeError, ValueError):
        pass
    return _joined([_caller(d, names, year) or None, contact_terms(terms) if terms else None])


def _voicemail(d: dict, names: Names, year: int) -> str:
    return _("talemelding fra %(caller)s", caller=names.caller(d["client"])) if "client" in d else ""


def _callback(d: dict, names: Names, year: int) -> str:
    return names.caller_of_request(d.get("request")) or ""


def _someone(d: dict, names: Names, year: int) -> str:
    return names.staff(d["staff"]) if "staff" in d else ""


def _own(entry: AuditEntry):
    """Her own password or calendar link: her name is already in the "who" column."""
    def facts(d: dict, names: Names, year: int) -> str:
        return "" if _id(d.get("staff")) in (None, entry.actor_staff_id) else names.staff(d["staff"])
    return facts


def _staff_member(d: dict, names: Names, year: int) -> str:
    try:
        role = str(ROLE[StaffRole(d.get("role"))])
    except ValueError:
        role = None
    languages = [language_name(code) for code in d.get("languages", []) if isinstance(code, str)] \
        if isinstance(d.get("languages"), list) else []
    services = [names.service(i) for i in _ids(d.get("services"))]
    active, phone = d.get("is_active"), d.get("has_phone")
    return _joined([
        names.staff(d["staff"]) if "staff" in d else None,
        role.lower() if role else None,
        (_("aktiv") if active else _("ikke aktiv")) if isinstance(active, bool) else None,
        _("språk: %(languages)s", languages=", ".join(languages)) if languages else None,
        _("tjenester: %(services)s", services=", ".join(services)) if services else None,
        (_("har telefonnummer") if phone else _("uten telefonnummer")) if isinstance(phone, bool) else None,
    ])


def _working_hours(d: dict, names: Names, year: int) -> str:
    since, until = _day(d.get("valid_from")), _day(d.get("valid_until"))
    return _joined([
        names.staff(d["staff"]) if "staff" in d else None,
        " ".join(filter(None, (_weekday(d.get("weekday")), _span(d.get("starts"), d.get("ends"))))),
        _("fra %(day)s", day=_date(since)) if since else None,
        _("til %(day)s", day=_date(until)) if until else None,
    ])


def _absence(d: dict, names: Names, year: int) -> str:
    starts, ends = _instant(d.get("starts_at")), _instant(d.get("ends_at"))
    booked = len(d["booked_appointments"]) if isinstance(d.get("booked_appointments"), list) else 0
    return _joined([
        names.staff(d["staff"]) if "staff" in d else None,
        _stretch(starts, ends) if starts and ends else None,
        ngettext("%(num)d bestilt time i fraværet", "%(num)d bestilte timer i fraværet", booked) if booked else None,
    ])


def _stretch(starts: datetime, ends: datetime) -> str:
    """Whole days as days ("24. nov. 2026, hele dagen"), anything else with its times."""
    tz = get_timezone()
    first, end = starts.astimezone(tz), ends.astimezone(tz)
    if first.time() == end.time() == datetime.min.time() and end > first:
        last = (end - timedelta(hours=12)).date()
        if last == first.date():
            return _("%(day)s, hele dagen", day=_date(first.date()))
        return _("%(first)s – %(last)s, hele dager", first=_date(first.date()), last=_date(last))
    return _("%(starts)s til %(ends)s", starts=_when(starts), ends=_when(ends))


def _service(d: dict, names: Names, year: int) -> str:
    minutes, pause, order = (_number(d.get(key)) for key in ("duration_minutes", "buffer_minutes", "menu_order"))
    active = d.get("is_active")
    named_in = [language_name(code) for code in d.get("names", []) if isinstance(code, str)] \
        if isinstance(d.get("names"), list) else []
    return _joined([
        names.service(d["service"]) if "service" in d else None,
        _("%(minutes)d min", minutes=minutes) if minutes is not None else None,
        _("pause %(minutes)d min", minutes=pause) if pause is not None else None,
        (_("aktiv") if active else _("ikke aktiv")) if isinstance(active, bool) else None,
        _("plass %(number)d", number=order) if order is not None else None,
        _("navn på %(languages)s", languages=", ".join(named_in)) if named_in else None,
    ])


def _languages(d: dict, names: Names, year: int) -> str:
    changes = d.get("languages") if isinstance(d.get("languages"), dict) else {}
    said = []
    for code, change in changes.items():
        if not isinstance(change, dict):
            continue
        enabled, order = change.get("is_enabled"), _number(change.get("menu_order"))
        said.append("{}: {}".format(language_name(code), _joined([
            (_("i menyen") if enabled else _("ikke i menyen")) if isinstance(enabled, bool) else None,
            _("plass %(number)d", number=order) if order is not None else None,
        ])))
    return "; ".join(said)


def _opening_hours(d: dict, names: Names, year: int) -> str:
    return " ".join(filter(None, (_weekday(d.get("weekday")), _span(d.get("opens"), d.get("closes")))))


def _closure(d: dict, names: Names, year: int) -> str:
    first, last = _day(d.get("first_day")), _day(d.get("last_day"))
    if first and last and first != last:
        return f"{_date(first)} – {_date(last)}"
    return _date(first) if first else ""


def _duty_shift(d: dict, names: Names, year: int) -> str:
    return _joined([
        names.staff(d["staff"]) if "staff" in d else None,
        " ".join(filter(None, (_weekday(d.get("weekday")), _span(d.get("starts"), d.get("ends"))))),
    ])


def _recording(d: dict, names: Names, year: int) -> str:
    if "prompt_key" not in d:
        return ""
    what = names.recording(d["prompt_key"])
    language = d.get("language")
    if isinstance(language, str):
        return _("«%(what)s» på %(language)s", what=what, language=language_name(language))
    return f"«{what}»"


def _take(d: dict, names: Names, year: int) -> str:
    """A studio take approved or rejected: what, in which language, and who recorded it."""
    return _joined([
        _recording(d, names, year) or None,
        _("spilt inn av %(name)s", name=names.staff(d["recorded_by"])) if _id(d.get("recorded_by")) else None,
    ])


def _studio_session(d: dict, names: Names, year: int) -> str:
    language = d.get("language")
    return language_name(language) if isinstance(language, str) else ""


FACTS = {
    "booked": _booked, "moved": _moved, "cancelled": _cancelled, "attendance": _attendance,
    "caller_viewed": _caller, "code_word_set": _caller, "code_word_locked": _caller, "code_word_cleared": _caller,
    "contact_terms_changed": _contact_terms,
    "voicemail_played": _voicemail, "callback_called": _callback,
    "staff_added": _staff_member, "staff_changed": _staff_member,
    "staff_password_set": _someone, "staff_signed_out_everywhere": _someone,
    "working_hours_added": _working_hours, "working_hours_removed": _working_hours,
    "absence_added": _absence, "absence_removed": _absence,
    "service_added": _service, "service_changed": _service, "languages_changed": _languages,
    "opening_hours_added": _opening_hours, "opening_hours_removed": _opening_hours,
    "closure_added": _closure, "closure_removed": _closure,
    "duty_shift_added": _duty_shift, "duty_shift_removed": _duty_shift,
    "recording_added": _recording, "recording_replaced": _recording,
    "studio_pin_set": _someone, "studio_session": _studio_session,
    "recording_approved": _take, "recording_rejected": _take,
}
OWN = {"password_changed", "calendar_feed_created", "calendar_feed_replaced", "calendar_feed_revoked"}
# Whose facts are a whole sentence, so an appointment's history shows them alone.
SENTENCES = {"booked", "moved", "cancelled", "attendance"}


def facts(entry: AuditEntry, names: Names) -> str:
    """An entry's details in words ("Bestilt av resepsjonen: Amina, Samtale, 24. nov.
    10:00, tolk: nei"); "" when it has none this module can read."""
    details = entry.details if isinstance(entry.details, dict) else {}
    if entry.action in OWN:
        read = _own(entry)
    else:
        read = FACTS.get(entry.action)
    if read is None or (not details and entry.action not in SENTENCES):
        return ""
    year = entry.at.astimezone(get_timezone()).year if entry.at else None
    return read(details, names, year)


def sentence(entry: AuditEntry, names: Names) -> str:
    """One line of an appointment's history: "Flyttet fra Amina 8. des. 10:00 til Sana
    9. des. 12:00", "Avlyst: hun er syk", "Innringerens nummer og historikk ble slettet"."""
    said = facts(entry, names)
    if entry.action in SENTENCES:
        return said
    return f"{action_label(entry.action)}: {said}" if said else action_label(entry.action)


def logged_at(entry: AuditEntry) -> str:
    """When it happened, to the second, in Oslo: "lør. 21. nov. 2026 14:05:00"."""
    local = entry.at.astimezone(get_timezone())
    return f"{format_skeleton('yMMMEd', local, locale=get_locale(), fuzzy=True)} {local:%H:%M:%S}"


def who(entry: AuditEntry, names: Names, *, caller: str, system: str) -> str:
    if entry.actor_staff_id:
        return names.staff(entry.actor_staff_id)
    return {Actor.caller: caller, Actor.system: system}.get(entry.actor) or _("en ansatt")
