"""Every text a caller can receive, and how it is put into her language.

The English wording below is the gettext msgid; each language's wording lives in
``translations/<code>/LC_MESSAGES/messages.po``. Texts are short (a basic phone, a
per-segment price) and discreet: a locked screen may be read by someone else, so no text
names the centre, the kind of help, or words like "violence" or "lawyer".
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_skeleton
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
    "main_menu": Text(N_("Reply with a number:\n1 Book a time\n2 My appointment\n3 Call me back\n4 Help\n"
                         "5 How we contact you\n6 Code word\n0 Language")),
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
    # Past her own hourly limit, once (hotline.abuse): when answers resume, and nothing more.
    "over_limit": Text(N_("You have sent many texts. We will answer again at {time}.")),
    # How and when Linja may reach her (main menu 5; scheduling.contact). Said at once,
    # and kept: every text and call from now on keeps to it.
    "contact_menu": Text(N_("How may we contact you?\n1 Texts and calls\n2 Only texts\n3 Only calls\n"
                            "4 Reminders as a call\n5 No reminders\n6 Days and hours\n0 Menu")),
    "contact_any": Text(N_("Saved: texts and calls. Reminders come as texts. Reply 5 to change it.")),
    "contact_texts": Text(N_("Saved: only texts, no calls. Reply 5 to change it.")),
    "contact_calls": Text(N_("Saved: only calls. We text you only when you text us. Reply 5 to change it.")),
    "contact_reminder_calls": Text(N_("Saved: reminders come as a phone call, other news as texts. "
                                      "Reply 5 to change it.")),
    "contact_no_reminders": Text(N_("Saved: no reminders. Reply 5 to change it.")),
    "contact_days": Text(N_("On which days may we contact you?\n1 Every day\n2 Monday to Friday\n0 Menu")),
    "contact_hours": Text(N_("Between which hours? Send 4 digits: 1014 means 10 to 14. 1 Any hour. 0 Menu")),
    "contact_hours_format": Text(N_("Please send 4 digits, for example 1014 for 10 to 14, or 1 for any hour. "
                                    "0 Menu")),
    # Her hours wholly in the quiet hours (scheduling.reminders), when nothing is sent.
    "contact_hours_quiet": Text(N_("We text and call only from {start} to {end}. Please send hours in between, "
                                   "for example 1014. 0 Menu")),
    "contact_any_time": Text(N_("Saved: any day, any hour. Reply 5 to change it.")),
    "contact_hours_every_day": Text(N_("Saved: every day from {start} to {end}. Reply 5 to change it.")),
    "contact_weekdays": Text(N_("Saved: Monday to Friday, any hour. Reply 5 to change it.")),
    "contact_weekdays_hours": Text(N_("Saved: Monday to Friday from {start} to {end}. Reply 5 to change it.")),
    "appointment_confirmed": Text(N_("Thank you. See you {when}."), "confirmation"),
    "reminder": Text(N_("Reminder: your time is {when}. Reply 1 OK, 2 Cancel, 3 Move."), "reminder"),
    # Her code word (scheduling.codeword): digits only, so the keypad of the voice line takes it too.
    "code_choose": Text(N_("Choose a code word of 4 to 8 digits and send it. Keep it to yourself. 0 Menu")),
    "code_repeat": Text(N_("Send the same code word again.")),
    "code_mismatch": Text(N_("The two were not the same. Choose a code word of 4 to 8 digits. 0 Menu")),
    "code_set": Text(N_("Your code word is saved. We will ask for it before we show, cancel or move your time.")),
    "code_ask": Text(N_("Please send your code word. 0 Menu")),
    "code_format": Text(N_("A code word is 4 to 8 digits. Please send it again. 0 Menu")),
    "code_wrong": Text(N_("That code word is not right. Please try again. 0 Menu")),
    "code_locked": Text(N_("Sorry, that was wrong too many times. Please call us and we will help you.")),
    # The waiting list (scheduling.waitlist): a freed time held for her, and her answer.
    "waitlist_offer": Text(N_("A time is free for you: {when}. Reply 1 to take it, 2 if not. "
                              "We keep it for you until {time}.")),
    "offer_passed": Text(N_("OK. You stay on the waiting list.")),
    "offer_gone": Text(N_("Sorry, that time is no longer kept for you. You stay on the waiting list.")),
    # With a code word, texts about her time say the time and nothing more.
    "booked_private": Text(N_("Booked: {when}."), "confirmation"),
    "moved_private": Text(N_("Moved to {when}."), "confirmation"),
    "reminder_private": Text(N_("Reminder: your time is {when}."), "reminder"),
    "reminder_today": Text(N_("Reminder: your time is today at {time}."), "reminder"),
    "reminder_tomorrow": Text(N_("Reminder: your time is tomorrow at {time}."), "reminder"),
}

# What the voice line says. Each is spoken with the language's Twilio voice, or played
# from a recording staff upload per language (see hotline.voices).
VOICE_TEXTS: dict[str, Text] = {
    "v_language_option": Text(N_("For {language}, press {digit}."), "voice"),
    # The same numbering as the SMS menu (hotline.conversation): 3 is "call me back" by
    # text and "talk to someone" on a call, where no one free means a call back or a message.
    "v_main_menu": Text(N_("To book a time, press 1. To hear, cancel or move your time, press 2. "
                           "To talk to someone, press 3. For help, press 4. "
                           "To choose how and when we may contact you, press 5. "
                           "To set or change your code word, press 6. "
                           "To hear this again, press 9. For another language, press 0."), "voice"),
    "v_service_option": Text(N_("For {service}, press {digit}."), "voice"),
    "v_slots_intro": Text(N_("These times are free."), "voice"),
    "v_slot_option": Text(N_("{when}, press {digit}."), "voice"),
    "v_later": Text(N_("For later times, press 9. For the menu, press 0."), "voice"),
    "v_no_slots": Text(N_("Sorry, there are no free times now. To talk to someone, press 3."), "voice"),
    "v_confirm": Text(N_("{when}. To book this time, press 1. To choose another time, press 2."), "voice"),
    "v_confirm_move": Text(N_("{when}. To move your time to this, press 1. To keep your time, press 2."), "voice"),
    "v_booked": Text(N_("Your time is booked: {when}. Thank you, goodbye."), "voice"),
    "v_booked_text": Text(N_("Your time is booked: {when}. You will also get a text. Thank you, goodbye."), "voice"),
    "v_taken": Text(N_("Sorry, that time was just taken."), "voice"),
    "v_moved": Text(N_("Your time is moved to {when}. Thank you, goodbye."), "voice"),
    "v_moved_text": Text(N_("Your time is moved to {when}. You will also get a text. Thank you, goodbye."), "voice"),
    "v_your_time": Text(N_("Your time is {when}. To cancel it, press 1. To move it, press 2. "
                           "For the menu, press 0."), "voice"),
    "v_no_appointment": Text(N_("You have no booked time. To book one, press 1."), "voice"),
    "v_confirm_cancel": Text(N_("To cancel your time {when}, press 1. To keep it, press 2."), "voice"),
    "v_cancelled": Text(N_("Your time is cancelled. Goodbye."), "voice"),
    "v_kept": Text(N_("Your time is kept. Goodbye."), "voice"),
    "v_connecting": Text(N_("Please wait. We are connecting you."), "voice"),
    "v_leave_message": Text(N_("No one can answer right now. Please leave a message after the tone, "
                               "then press any key."), "voice"),
    # No one free to talk: she chooses a call back or a message (nothing is registered unasked).
    "v_nobody": Text(N_("No one can answer right now. To be called back in your language, press 1. "
                        "To leave a message, press 2. For the menu, press 0."), "voice"),
    "v_closed": Text(N_("We are closed now. We open again {when}. To be called back in your language, press 1. "
                        "To leave a message, press 2. For the menu, press 0."), "voice"),
    "v_record": Text(N_("Please leave your message after the tone, then press any key."), "voice"),
    "v_message_saved": Text(N_("Thank you. Your message is saved. Goodbye."), "voice"),
    "v_callback": Text(N_("Thank you. Someone who speaks your language will call you back. Goodbye."), "voice"),
    # How and when Linja may reach her (main menu 5): said, then her main menu again.
    "v_contact_menu": Text(N_("For texts and calls, press 1. For texts only, press 2. For calls only, press 3. "
                              "For reminders as a phone call, press 4. For no reminders, press 5. "
                              "To choose days and hours, press 6. For the menu, press 0."), "voice"),
    "v_contact_any": Text(N_("Saved. We may text or call you, and reminders come as texts."), "voice"),
    "v_contact_texts": Text(N_("Saved. We will only text you, and not call."), "voice"),
    "v_contact_calls": Text(N_("Saved. We will only call you, and reminders come as a phone call."), "voice"),
    "v_contact_reminder_calls": Text(N_("Saved. Reminders come as a phone call, and other news as texts."),
                                     "voice"),
    "v_contact_no_reminders": Text(N_("Saved. You will get no reminders."), "voice"),
    "v_contact_days": Text(N_("To be contacted on any day, press 1. For Monday to Friday only, press 2. "
                              "For the menu, press 0."), "voice"),
    "v_contact_hours": Text(N_("Enter the hours we may contact you as four digits, then press the hash key. "
                               "For example, 1 0 1 4 means from 10 to 14. For any hour, press 1, then the hash "
                               "key."), "voice"),
    "v_contact_hours_format": Text(N_("Please enter four digits: the first hour, then the last."), "voice"),
    "v_contact_hours_quiet": Text(N_("We text and call only from {start} to {end}. Please enter hours in between."),
                                  "voice"),
    "v_contact_any_time": Text(N_("Saved. We may contact you on any day, at any hour."), "voice"),
    "v_contact_hours_every_day": Text(N_("Saved. We may contact you every day from {start} to {end}."), "voice"),
    "v_contact_weekdays": Text(N_("Saved. We may contact you Monday to Friday, at any hour."), "voice"),
    "v_contact_weekdays_hours": Text(N_("Saved. We may contact you Monday to Friday from {start} to {end}."),
                                     "voice"),
    "v_help": Text(N_("Choose with the keys of your phone. In every menu, 0 takes you back. "
                      "If you do not press a key, you hear the menu again."), "voice"),
    "v_timed_out": Text(N_("We have started again."), "voice"),
    "v_wrong_key": Text(N_("Sorry, that key is not in the menu."), "voice"),
    "v_no_key": Text(N_("I did not hear a key."), "voice"),
    "v_goodbye": Text(N_("We could not help you this time. Please call again. Goodbye."), "voice"),
    "v_hidden_number": Text(N_("Your number is hidden, so we cannot book a time. To talk to someone, press 3. "
                               "To leave a message, press 6."), "voice"),
    "v_reminder_call": Text(N_("This is a reminder. Your time is {when}. To confirm, press 1. To cancel, press 2. "
                               "To move it, press 3."), "voice"),
    "v_confirmed": Text(N_("Thank you. See you then. Goodbye."), "voice"),
    "v_code_ask": Text(N_("Please enter your code word, then press the hash key."), "voice"),
    "v_code_wrong": Text(N_("That code word is not right."), "voice"),
    "v_code_locked": Text(N_("Sorry, we cannot go on without your code word."), "voice"),
    # Choosing or changing it by keypad (main menu 6), as by text: twice, never read back.
    "v_code_choose": Text(N_("Choose a code word of 4 to 8 digits and keep it to yourself. Enter it, "
                             "then press the hash key."), "voice"),
    "v_code_repeat": Text(N_("Enter the same code word again, then press the hash key."), "voice"),
    "v_code_mismatch": Text(N_("The two were not the same."), "voice"),
    "v_code_format": Text(N_("A code word is 4 to 8 digits."), "voice"),
    "v_code_set": Text(N_("Your code word is saved. We will ask for it before you hear or cancel your time."),
                       "voice"),
    # Said in Norwegian and English when her language has neither a voice nor recordings.
    # She is never asked to press a key she could not understand: the call back is
    # registered as this is said.
    "v_not_available": Text(N_("Booking by phone in your language is coming soon. Someone who speaks your "
                               "language will call you back. Goodbye."), "voice"),
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


def text_version(key: str) -> str | None:
    """A short, stable fingerprint of prompt ``key``'s English wording (its msgid).

    A recording is tied to the wording it was made for (PromptRecording.text_version):
    when the msgid changes, so does this, and a recording of the old wording is no longer
    played. Translations are not part of it: a new msgid is what says the words changed.
    None for a key that is not a prompt. Migrations copy these values for the wording of
    their day (0014): keep the recipe as it is, or old recordings all turn stale.
    """
    text = TEXTS.get(key) or VOICE_TEXTS.get(key)
    if text is None:
        return None
    return hashlib.sha256(text.msgid.encode("utf-8")).hexdigest()[:12]


def translate(msgid: str, language: str) -> str:
    return catalog(language).get(msgid, msgid)


def render(key: str, language: str, /, **values) -> str:
    text = TEXTS.get(key) or VOICE_TEXTS[key]
    return translate(text.msgid, language).format(**values)


def format_time(at: datetime, language: str, tz: ZoneInfo) -> str:
    return format_skeleton("Hm", at.astimezone(tz), locale=language)


def format_clock(at: time, language: str) -> str:
    """A time of day with no date ("10:00"), as her language writes it."""
    return format_skeleton("Hm", datetime.combine(date(2000, 1, 3), at), locale=language)


def spoken_clock(at: time, language: str) -> str:
    """A time of day with no date, as the voice line says it."""
    local = datetime.combine(date(2000, 1, 3), at)
    if language in SPOKEN_TIME:
        return format_datetime(local, SPOKEN_TIME[language], locale=language)
    return format_skeleton("Hm", local, locale=language)


# A time said aloud, in full words its voice reads well: (date pattern, the sentence the
# date and the time go into). No abbreviations ("tir.", "Dec"), which a voice spells or
# stumbles on. The connecting words are marked for review by a native speaker (REVIEW.md).
SPOKEN_WHEN = {
    "nb": ("EEEE d. MMMM", "{date} klokka {time}"),  # tirsdag 8. desember klokka 11.30
    "en": ("EEEE d MMMM", "{date} at {time}"),  # Tuesday 8 December at 11:30
    "pl": ("EEEE, d MMMM", "{date}, godzina {time}"),  # wtorek, 8 grudnia, godzina 11:30
    "ar": ("EEEE d MMMM", "{date}، الساعة {time}"),  # الثلاثاء 8 ديسمبر، الساعة 11:30
    "ur": ("EEEE d MMMM", "{date}، {time} بجے"),  # منگل 8 دسمبر، 11:30 بجے
}
SPOKEN_TIME = {"nb": "HH.mm"}


def spoken_when(at: datetime, language: str, tz: ZoneInfo) -> str:
    """A time as the voice line says it: weekday, day and month in full, then the time."""
    local = at.astimezone(tz)
    date_pattern, sentence = SPOKEN_WHEN.get(language, ("EEEE d MMMM", "{date} {time}"))
    time = format_datetime(local, SPOKEN_TIME[language], locale=language) if language in SPOKEN_TIME else \
        format_skeleton("Hm", local, locale=language)
    return sentence.format(date=format_date(local, date_pattern, locale=language), time=time)


def format_when(at: datetime, language: str, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    pattern = DATE_PATTERNS.get(language)
    day = format_date(local, pattern, locale=language) if pattern else format_skeleton("MMMEd", local, locale=language)
    return f"{day} {format_skeleton('Hm', local, locale=language)}"
