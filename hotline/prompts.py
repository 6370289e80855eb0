"""Every text a caller can receive, and how it is put into her language.

The English wording below is the gettext msgid; each language's wording lives in
``translations/<code>/LC_MESSAGES/messages.po``. Texts are short (a basic phone, a
per-segment price) and discreet: a locked screen may be read by someone else, so no text
names the centre, the kind of help, or words like "violence" or "lawyer".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:
    """Marks a string for extraction into the catalogs (pybabel extract -k N_)."""
    return message


@dataclass(frozen=True)
class Text:
    msgid: str
    # "confirmation" and "reminder" texts must fit one segment in GSM-7 languages.
    kind: str = "reply"


TEXTS: dict[str, Text] = {
    "main_menu": Text(N_("Reply with a number:\n1 Book a time\n2 My appointment\n3 Call me back\n4 Help\n0 Language")),
    "choose_service": Text(N_("What would you like to talk about?\n{services}\n0 Menu")),
    "offer_slots": Text(N_("Free times:\n{slots}\n9 Later times. 0 Menu")),
    "no_slots": Text(N_("Sorry, there are no free times now. Reply 3 and we will call you. 0 Menu")),
    "confirm_slot": Text(N_("{when}. Is this right? 1 Yes 2 No")),
    "booked": Text(N_("Booked: {when}. Address: {address}. Text 2 to see, move or cancel it."), "confirmation"),
    "slot_taken": Text(N_("Sorry, that time was just taken.")),
    "appointment_menu": Text(N_("Your time: {when}.\n1 Cancel it\n2 Move it\n0 Menu")),
    "no_appointment": Text(N_("You have no booked time. Reply 1 to book one. 0 Menu")),
    "confirm_cancel": Text(N_("Cancel your time {when}? 1 Yes 2 No")),
    "cancelled": Text(N_("Your time {when} is cancelled. Reply 1 to book a new time."), "confirmation"),
    "kept": Text(N_("OK, your time is kept: {when}.")),
    "moved": Text(N_("Moved to {when}. Address: {address}."), "confirmation"),
    "callback_requested": Text(N_("Thank you. Someone who speaks your language will call you soon.")),
    "help": Text(N_("Reply with a number to choose. 0 Menu. STOP: no more texts. START: texts again. "
                    "DELETE: delete your number.")),
    "not_understood": Text(N_("Sorry, I did not understand.")),
    "empty_message": Text(N_("I can only read text. Please reply with a number.")),
    "timed_out": Text(N_("We have started again.")),
    "stopped": Text(N_("You will get no more texts from us. Text START to get texts again.")),
    "started": Text(N_("Welcome back.")),
    "deleted": Text(N_("Your number and your messages are deleted.")),
    "try_again": Text(N_("Sorry, something went wrong. Please try again in a moment.")),
    "appointment_confirmed": Text(N_("Thank you. See you {when}."), "confirmation"),
    "reminder": Text(N_("Reminder: your time is {when}. Reply 1 OK, 2 Cancel, 3 Move."), "reminder"),
}

# Dates as a woman reads them in her language: weekday, day and month, then the time.
# Where CLDR's short weekday is an abbreviation few would recognise, the full name is used.
DATE_PATTERNS = {"so": "EEEE, d MMMM", "ti": "EEEE d MMMM"}


@lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, str]:
    """msgid -> translation for one language; untranslated and fuzzy entries left out."""
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    if language == SOURCE_LANGUAGE or not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    return {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}


def translate(msgid: str, language: str) -> str:
    return catalog(language).get(msgid, msgid)


def render(key: str, language: str, **values) -> str:
    return translate(TEXTS[key].msgid, language).format(**values)


def format_when(at: datetime, language: str, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    pattern = DATE_PATTERNS.get(language)
    day = format_date(local, pattern, locale=language) if pattern else format_skeleton("MMMEd", local, locale=language)
    return f"{day} {format_skeleton('Hm', local, locale=language)}"
