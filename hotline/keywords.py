"""What a caller types, made comparable: digits in any script, keywords in any language.

Twilio itself treats STOP, STOPALL, UNSUBSCRIBE, CANCEL, END and QUIT (and START, YES,
UNSTOP, HELP, INFO) as opt-out/opt-in/help words on its numbers, so they mean only that
here too: cancelling an appointment is a digit in a menu, never a word.
"""
from __future__ import annotations

import re
import unicodedata

_STOP = {
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",  # Twilio's own
    "STOPP", "SLUTT",  # Norwegian
    "JOOJI",  # Somali
    "قف", "توقف", "ايقاف", "إيقاف",  # Arabic (توقف also Farsi/Urdu)
    "روکیں", "روکو", "بند",  # Urdu
    "ኣቋርጽ", "ኣቁም", "ጠጠው",  # Tigrinya
    "ZATRZYMAJ",  # Polish
}
_START = {"START", "UNSTOP", "BILOW", "ابدأ", "ابدا", "شروع", "ጀምር"}
_HELP = {"HELP", "HJELP", "INFO", "CAAWI", "CAAWIMAAD", "مساعدة", "مدد", "ሓገዝ", "کمک", "POMOC"}
_DELETE = {"DELETE", "SLETT", "TIRTIR", "احذف", "حذف", "مٹائیں", "ደምስስ", "USUŃ", "USUN"}
MENU = {"0", "MENU", "MENY"}

_YES = {
    "1", "YES", "Y", "JA", "J", "OK", "OKAY", "HAA", "HA", "HAYE", "نعم", "ايوه", "أيوه", "اه",
    "ہاں", "جی", "جی ہاں", "ኣወ", "እወ", "بله", "آره", "اره", "بلی", "TAK",
}
_NO = {"2", "NO", "N", "NEI", "NEJ", "MAYA", "لا", "نہیں", "نهیں", "ኣይፋል", "ኣይ", "نه", "نخیر", "NIE"}

# The keyword each language's help text names; a test checks every one is understood.
# START is the same everywhere: after STOP, Twilio's own block lifts only with START.
LOCAL_KEYWORDS = {
    "nb": {"stop": "STOPP", "start": "START", "delete": "SLETT", "help": "HJELP"},
    "en": {"stop": "STOP", "start": "START", "delete": "DELETE", "help": "HELP"},
    "ar": {"stop": "توقف", "start": "START", "delete": "احذف", "help": "مساعدة"},
    "so": {"stop": "JOOJI", "start": "START", "delete": "TIRTIR", "help": "CAAWI"},
    "ur": {"stop": "روکیں", "start": "START", "delete": "مٹائیں", "help": "مدد"},
    "ti": {"stop": "ኣቋርጽ", "start": "START", "delete": "ደምስስ", "help": "ሓገዝ"},
    "fa": {"stop": "توقف", "start": "START", "delete": "حذف", "help": "کمک"},
    "pl": {"stop": "STOP", "start": "START", "delete": "USUŃ", "help": "POMOC"},
}

_EDGE_JUNK = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)
_SPACES = re.compile(r"\s+", re.UNICODE)
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")  # harakat and tatweel
_SAME_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ہ": "ه"})
# Ge'ez numerals are not decimal digits to Unicode, but a Tigrinya phone may send them.
_ETHIOPIC_DIGITS = str.maketrans({chr(0x1369 + i): str(i + 1) for i in range(9)})


def ascii_digits(text: str) -> str:
    """Any Unicode decimal digit (٣, ۳, ３ ...) becomes its ASCII digit."""
    text = text.translate(_ETHIOPIC_DIGITS)
    return "".join(str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch for ch in text)


def normalise(body: str | None) -> str:
    """Upper case, ASCII digits, no surrounding spaces or punctuation, one space inside."""
    text = unicodedata.normalize("NFKC", body or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    text = _ARABIC_MARKS.sub("", ascii_digits(text))
    text = _SPACES.sub(" ", text).strip()
    text = _EDGE_JUNK.sub("", text)
    # Arabic and Farsi keyboards write the same letters with different code points.
    return text.translate(_SAME_LETTERS).upper()


def number(text: str) -> int | None:
    """The number she chose, from "3", " 3. ", "٣", "#3", "nr 3"; None if not a lone number."""
    match = re.fullmatch(r"(?:NR\.? ?|NO\.? ?|#)?(\d{1,3})", text)
    return int(match.group(1)) if match else None


def _normalised(words: set[str]) -> frozenset[str]:
    return frozenset(normalise(w) for w in words)


STOP = _normalised(_STOP)
START = _normalised(_START)
HELP = _normalised(_HELP)
DELETE = _normalised(_DELETE)
YES = _normalised(_YES)
# After STOP, Twilio itself lifts its block on START, YES and UNSTOP.
OPT_IN = _normalised({"YES", "UNSTOP"})
NO = _normalised(_NO)


# Greetings: a returning caller who says hello mid-dialogue is brought to her main menu.
# Each is written once, as people type it; ``greeting_key`` folds the ways the same word
# reaches us (case, accents and harakat, letter forms, spaces, punctuation, letters held
# long: "Cześć!", "czesc", "HEIII", "سلام!", "ﺳﻼﻡ", "salaam") into one key.
_GREETINGS = {
    "hei", "hallo", "heisann", "heia", "halla", "morn", "god morgen", "god dag", "god kveld",  # Norwegian
    "hi", "hello", "hey", "hiya", "good morning", "good afternoon", "good evening",  # English
    "salaan", "haye", "iska warran", "see tahay", "nabad", "subax wanaagsan", "galab wanaagsan",  # Somali
    "مرحبا", "السلام عليكم", "سلام عليكم", "سلام", "اهلا", "اهلا وسهلا", "اهلين", "هلا",  # Arabic
    "صباح الخير", "مساء الخير", "السلام عليكم ورحمة الله", "السلام عليكم ورحمة الله وبركاته",
    "ہیلو", "السلام علیکم", "آداب", "adaab", "aoa",  # Urdu (سلام above)
    "السلام علیکم ورحمۃ اللہ", "السلام علیکم ورحمۃ اللہ وبرکاتہ",
    "ሰላም", "ሰላማት", "selam", "selamat", "ከመይ ኣለኺ", "ከመይ ኣለኹም", "ከመይ ሓዲርኪ", "ከመይ ሓዲርኩም",  # Tigrinya
    "ከመይ ውዒልኪ", "ከመይ ውዒልኩም",
    "درود", "dorood", "dorud", "صبح بخیر", "روز بخیر", "عصر بخیر",  # Farsi/Dari (سلام above)
    "cześć", "dzień dobry", "dobry wieczór", "hej", "hejka", "siema", "witam", "witaj",  # Polish
    "salam", "marhaba", "ahlan", "ahlan wa sahlan",  # transliterations
}
# The Muslim greeting in Latin letters, folded as ``greeting_key`` folds it: "Assalamu
# alaikum", "as-salaam aleikum", "assalam o alaikum", "salam alaykum", "salamalekum", the
# Somali "asalaamu calaykum" (C is the Somali letter for ع), and the whole of it: "... wa
# rahmatullahi wa barakatuh".
_PEACE_BE_UPON_YOU = r"(?:as?)?salam(?:[uo])?(?:wa)?c?al[ae]?[iy]?kum(?:wa?rahmatu?lahi?(?:wabarakatuhu?)?)?"


def greeting_key(text: str) -> str:
    """``text`` folded for comparing greetings: ``normalise``d, then lower case, no accents
    or marks, no spaces or punctuation, a letter held long written once."""
    text = unicodedata.normalize("NFKD", normalise(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[\W_]+", "", text)
    return re.sub(r"(.)\1+", r"\1", text)


_GREETING = re.compile("(?:{})+".format("|".join(
    [_PEACE_BE_UPON_YOU] + sorted({re.escape(greeting_key(g)) for g in _GREETINGS}, key=len, reverse=True))))


# "Hei hei hei!" is a greeting; a long text made of greetings is something else.
_LONGEST_GREETING = 40


def is_greeting(text: str) -> bool:
    """Is ``text`` a greeting and nothing more ("hi", "Hei hei!", "السلام عليكم", "cześć")?"""
    key = greeting_key(text)
    return 0 < len(key) <= _LONGEST_GREETING and _GREETING.fullmatch(key) is not None
