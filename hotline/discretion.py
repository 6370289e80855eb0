"""Words a locked screen must not show, per language: a text with one of them could tell
someone holding her phone where she has been asking for help.

Every caller text is checked against all languages' words (a text before she has chosen a
language is in two; a word in another language is just as telling), plus the centre's own
words from ``SENSITIVE_WORDS`` (its name, above all). A word matches at the start of a
word, so its inflections and compounds count ("vold" finds "volden", "voldtekt"; "center"
does not find "epicenter"); in Arabic script after the article and the one-letter
prefixes ("العنف", "بالشرطة"); in Ethiopic anywhere in a word ("ንፖሊስ"). Texts and words are
compared case-folded, without accents or hamza, with Arabic, Persian and Urdu letter forms
unified: "Ośrodek" finds "osrodek", "پولیس" is found however its yeh is written.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from hotline.segments import segments

# Kept short and literal: each is a word a stranger would read as "she is getting help".
# Words that also mean plain "advice" (rådgivning, استشارة, la-talin, ምኽሪ, مشاوره, porada)
# are left out: the centre's own service names use them, and "advice" reveals little.
DEFAULT_WORDS: dict[str, tuple[str, ...]] = {
    "nb": ("vold", "familievold", "partnervold", "overgrep", "mishandl", "krise", "traume", "terapi",
           "terapeut", "psykolog", "psykiater", "psykisk helse", "rådgiver", "advokat", "politi",
           "skilsmisse", "asyl", "senter", "beskyttelse"),
    "en": ("violen", "abuse", "abusive", "assault", "rape", "crisis", "crises", "shelter", "refuge",
           "safe house", "counsel", "therap", "psycholog", "psychiatr", "mental health", "trauma",
           "lawyer", "solicitor", "attorney", "police", "divorce", "asylum", "centre", "center"),
    "ar": ("عنف", "إساءة", "اعتداء", "تحرش", "اغتصاب", "أزمة", "ملجأ", "دار إيواء", "علاج نفسي",
           "معالج نفسي", "طبيب نفسي", "أخصائي نفسي", "أخصائية نفسية", "صحة نفسية", "إرشاد نفسي",
           "إرشاد أسري", "محامي", "شرطة", "طلاق", "لجوء", "مركز"),
    "so": ("rabshad", "xadgudub", "tacaddi", "kufsi", "dhibaato", "magangal", "maskax", "daaweyn",
           "qareen", "garyaqaan", "booliis", "boolis", "furriin", "furiin", "xarun"),
    "ur": ("تشدد", "زیادتی", "بدسلوکی", "بحران", "پناہ", "تھراپی", "نفسیات", "ذہنی صحت", "کونسلنگ",
           "کاؤنسلنگ", "مشاورت", "وکیل", "پولیس", "طلاق", "مرکز"),
    "ti": ("ዓመጽ", "ግፍዒ", "ቅልውላው", "መዕቆቢ", "ዑቕባ", "ስነ ኣእምሮ", "ጥዕና ኣእምሮ", "ጠበቓ", "ፖሊስ",
           "ፍትሕ", "ቤት ፍርዲ", "ማእከል"),
    "fa": ("خشونت", "سوء استفاده", "آزار", "تجاوز", "بحران", "پناه", "روان درمانی", "روانشناس",
           "روانپزشک", "سلامت روان", "وکیل", "پلیس", "دادگاه", "طلاق", "مرکز"),
    "pl": ("przemoc", "znęcan", "gwałt", "kryzys", "schronisk", "terap", "psycholog", "psychiatr",
           "poradni", "prawnik", "adwokat", "policj", "rozwód", "azyl", "ośrod"),
}
# In every language: the line's own name. The centre adds its name in SENSITIVE_WORDS.
EVERY_LANGUAGE = ("linja",)

# Letter forms that mean the same letter: Persian and Urdu yeh, kaf and heh, teh marbuta,
# alef wasla. Hamza, harakat and Latin accents go with the combining marks.
_FOLD = str.maketrans({
    "ى": "ي", "ی": "ي", "ې": "ي", "ے": "ي", "ک": "ك", "ة": "ه", "ہ": "ه", "ھ": "ه", "ۀ": "ه", "ە": "ه",
    "ٱ": "ا", "ـ": None, "\u200c": " ", "\u200d": None, "-": " ", "\u00ad": None,
})
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_ETHIOPIC = re.compile(r"[\u1200-\u139f\u2d80-\u2ddf\uab00-\uab2f]")
# The article and one-letter prefixes Arabic writes onto a word (after normalising).
_ARABIC_PREFIXES = r"(?:[وف]?(?:ال|بال|كال|لل|[بلك])?)"


def normalise(text: str) -> str:
    """Case-folded, accents and hamza dropped, letter forms unified, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD)
    return " ".join(unicodedata.normalize("NFC", bare).casefold().split())


def words_from(setting: str | Iterable[str] | None) -> tuple[str, ...]:
    """The centre's own words: ``SENSITIVE_WORDS`` as comma-separated text, or a list."""
    if not setting:
        return ()
    items = setting.split(",") if isinstance(setting, str) else setting
    return tuple(word.strip() for word in items if word and word.strip())


def _pattern(word: str) -> str:
    body = r"\s?".join(re.escape(part) for part in normalise(word).split())
    if _ETHIOPIC.search(word):
        return body
    if _ARABIC_SCRIPT.search(word):
        return r"(?<!\w)" + _ARABIC_PREFIXES + body
    return r"(?<!\w)" + body


@lru_cache(maxsize=32)
def _matchers(extra: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    words = dict.fromkeys([*(w for ws in DEFAULT_WORDS.values() for w in ws), *EVERY_LANGUAGE, *extra])
    return tuple((word, re.compile(_pattern(word))) for word in words if normalise(word))


def sensitive_words_in(text: str, extra: Iterable[str] = ()) -> list[str]:
    """The sensitive words (as listed) that ``text`` contains; [] for a discreet text."""
    seen = normalise(text)
    return sorted({word for word, pattern in _matchers(tuple(extra)) if pattern.search(seen)})


def is_discreet(text: str, extra: Iterable[str] = ()) -> bool:
    return not sensitive_words_in(text, extra)


# The outbound texts a centre's sign-off may close: answers to a change she or the desk made.
SIGNED = ("booked", "moved", "cancelled")


def signed(text: str, template: str, signature: str, *, is_private: bool = False) -> str:
    """``text`` with the centre's short sign-off (``SMS_SIGNATURE``) on a line of its own,
    when it is a confirmation and the sign-off costs no extra segment; else ``text``.

    A caller with a code word gets no sign-off: her texts say no more than the time."""
    if not signature or is_private or template not in SIGNED:
        return text
    with_signature = f"{text}\n{signature}"
    return with_signature if segments(with_signature) <= segments(text) else text
