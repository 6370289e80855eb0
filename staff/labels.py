"""How the staff pages name things: languages, statuses, channels, times, and the end of
a caller's number (enough to tell two callers apart, not enough to write down)."""
from __future__ import annotations

from datetime import date, datetime

import phonenumbers
from babel import Locale
from flask import flash
from flask_babel import format_date, format_datetime, format_time, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from scheduling.availability import Slot
from scheduling.contact import EVERY_DAY, NOT_BY_THESE_MEANS, NOT_TOLD, OUTSIDE_HOURS, WEEKDAYS, ContactTerms
from scheduling.models import AppointmentStatus, BookedVia, ContactMeans, Staff, StaffRole

STATUS = {
    AppointmentStatus.booked: _l("Bestilt"),
    AppointmentStatus.cancelled: _l("Avlyst"),
    AppointmentStatus.attended: _l("Møtt"),
    AppointmentStatus.no_show: _l("Møtte ikke"),
}
ROLE = {StaffRole.counselor: _l("Rådgiver"), StaffRole.receptionist: _l("Resepsjon"),
        StaffRole.admin: _l("Administrator"), StaffRole.recorder: _l("Opptaker (tolk)")}
VIA = {
    BookedVia.sms: _l("SMS"),
    BookedVia.voice: _l("Telefon"),
    BookedVia.staff: _l("Resepsjonen"),
}
# Babel's name for "fa" is Persian only; the line serves Farsi and Dari speakers alike.
# Norwegian: Babel's "norsk bokmål" is longer than a staff page needs.
LANGUAGE_OVERRIDES = {"fa": _l("persisk (farsi/dari)"), "nb": _l("norsk")}


def language_name(code: str | None) -> str:
    """A language as staff pages name it: in the staff member's own page language
    ("arabisk", "Arabic"), never in the caller's script, which only callers see."""
    if not code:
        return _("ukjent")
    if code in LANGUAGE_OVERRIDES:
        return str(LANGUAGE_OVERRIDES[code])
    locale = get_locale() or Locale.parse("nb")
    return locale.languages.get(code) or locale.languages.get(code.split("_")[0]) or _("ukjent språk (%(code)s)", code=code)


def number_end(phone: str | None) -> str:
    return f"…{phone[-2:]}" if phone else _("(skjult eller slettet)")


def readable_phone(e164: str | None) -> str:
    """"+4790000000" as one reads it out: "+47 900 00 000"."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def hm(at: datetime) -> str:
    return format_time(at, "HH:mm")


def when(at: datetime) -> str:
    """A weekday, date and time, in Oslo: "man. 23. nov. 10:00"."""
    return format_datetime(at, "EEE d. MMM HH:mm")


def long_day(day: date) -> str:
    return format_date(day, "full")


def slot_choice(slot: Slot, counselors: dict[int, Staff]) -> dict:
    """A free slot as the desk's forms offer it: a value to post back and words to show."""
    counselor = counselors.get(slot.counselor_id)
    return {
        "value": slot_value(slot.counselor_id, slot.start_at),
        "start_at": slot.start_at.isoformat(),
        "counselor_id": slot.counselor_id,
        "when": when(slot.start_at),
        "end": hm(slot.end_at),
        "counselor": counselor.name if counselor else _("en rådgiver"),
        "interpreter": slot.is_interpreter_needed,
    }


def slot_value(counselor_id: int, start_at: datetime) -> str:
    return f"{counselor_id}@{start_at.isoformat()}"


# Dates the desk can ask about; anything outside is a typing slip (and the far ends of
# the calendar would overflow the day arithmetic).
FIRST_YEAR, LAST_YEAR = 2000, 2200


def parse_day(raw: str | None) -> date | None:
    """"2026-11-24" -> that day; None for anything else."""
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def day_asked_for(raw: str | None, default: date) -> date:
    """The day in ``?day=``, or ``default`` (today) with a kind word when it cannot be read."""
    if not raw:
        return default
    day = parse_day(raw)
    if day is None:
        flash(_("Den datoen forsto vi ikke, så her er i dag. Skriv datoen som 2026-11-24."), "error")
        return default
    return day


def parse_slot_value(raw: str | None) -> tuple[int, datetime] | None:
    """"12@2026-11-24T09:00:00+00:00" -> (12, that instant); None for anything else."""
    try:
        counselor, start = (raw or "").split("@", 1)
        start_at = datetime.fromisoformat(start)
    except ValueError:
        return None
    if start_at.tzinfo is None or not FIRST_YEAR <= start_at.year <= LAST_YEAR or not counselor.isdigit():
        return None
    return int(counselor), start_at


def listed(appointment) -> dict:
    """An appointment as the desk's pages list it (no number: see number_end)."""
    return {
        "id": appointment.id,
        "when": when(appointment.start_at),
        "end": hm(appointment.end_at),
        "counselor": appointment.counselor.name,
        "service": appointment.service.name_in("nb"),
        "language": language_name(appointment.language_code),
        "interpreter": appointment.is_interpreter_needed,
        "status": STATUS[appointment.status],
        "status_key": appointment.status.value,
        "cancel_reason": appointment.cancel_reason,
    }


# The largest id a row can have (PostgreSQL's integer).
MAX_ID = 2**31 - 1


def is_id(text: str) -> bool:
    """A row id as a query string may give it: plain ASCII digits ("²" is a digit too to
    Python), no larger than any row can have."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID


# --- her terms for being contacted ------------------------------------------------------------

MEANS = {
    ContactMeans.any: _l("SMS og telefon"),
    ContactMeans.texts: _l("bare SMS"),
    ContactMeans.calls: _l("bare telefon"),
    ContactMeans.no_reminders: _l("ingen påminnelser"),
}
WEEKDAY_NAMES = (_l("mandag"), _l("tirsdag"), _l("onsdag"), _l("torsdag"), _l("fredag"), _l("lørdag"),
                 _l("søndag"))
NOT_TOLD_LABEL = {OUTSIDE_HOURS: _l("ikke varslet (kontakttider)"),
                  NOT_BY_THESE_MEANS: _l("ikke varslet (kontaktmåte)")}


def _clock(at) -> str:
    return f"{at:%H}" if at.minute == 0 else f"{at:%H:%M}"


def contact_terms(terms: ContactTerms) -> str:
    """Her terms as the staff see them: "kontakt: hverdager 10–14, bare SMS". Never why."""
    days = terms.days or EVERY_DAY
    if days == EVERY_DAY:
        on = _("alle dager") if terms.starts else _("når som helst")
    elif days == WEEKDAYS:
        on = _("hverdager")
    else:
        on = ", ".join(str(WEEKDAY_NAMES[int(d)]) for d in days)
    hours = f" {_clock(terms.starts)}–{_clock(terms.ends)}" if terms.starts and terms.ends else ""
    return _("kontakt: %(when)s, %(means)s", when=on + hours, means=MEANS[terms.means])

