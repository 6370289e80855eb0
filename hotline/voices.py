"""How the voice line speaks each language: a recording if staff uploaded one, else
Twilio's text-to-speech voice for the language, else pieces of recordings put together,
else an honest "not in your language yet" in Norwegian and English.

A prompt with values in it ("{when}, press {digit}.") is spoken from the translated
sentence; for a language without a voice it is played as recorded fragments (the fixed
words between the values, ``v_slot_option#0``, ``#1`` ...) with the values played from
recorded pieces (weekday, day, month, hour and minute; digits; service and language
names), in the order that language's sentence puts them.

A recording is tied to the English wording it was made for (``text_version``): once a
prompt's wording changes, its old recordings are not played (the voice speaks, or, without
one, the prompt is missing) until a new one is uploaded.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from hotline import prompts

# Twilio's text-to-speech voice per language, where Twilio has one (Amazon Polly and
# Google voices). Somali, Tigrinya and Dari have none: they need recordings. Polly's Liv
# (nb-NO), Amy (en-GB), Zeina (arb) and Ewa (pl-PL) are in Twilio's <Say> list; Urdu is
# Google's ur-IN Standard voice, which <Say> takes as "Google.ur-IN-Standard-A". A voice
# heard to fail on a test call is switched off with VOICES_OFF, and the language is then
# recorded like Somali (``voice``).
VOICES: dict[str, tuple[str, str]] = {
    "nb": ("Polly.Liv", "nb-NO"),
    "en": ("Polly.Amy", "en-GB"),
    "ar": ("Polly.Zeina", "arb"),
    "pl": ("Polly.Ewa", "pl-PL"),
    "ur": ("Google.ur-IN-Standard-A", "ur-IN"),
}

def voice(language: str | None) -> tuple[str, str] | None:
    """The voice and language code ``language`` is spoken with, or None: none at Twilio, or
    switched off by the centre (VOICES_OFF) and then recorded like Somali."""
    pair = VOICES.get(language or "")
    if pair is not None and language not in FALLBACK_VOICES and has_app_context() \
            and language in current_app.config.get("VOICES_OFF", ()):
        return None
    return pair


# The script each voice reads (Unicode's name for it, as unicodedata spells its letters).
SCRIPT = {"nb": "LATIN", "en": "LATIN", "pl": "LATIN", "ar": "ARABIC", "ur": "ARABIC"}


def can_read(language: str, text: str) -> bool:
    """Whether ``language``'s voice can read every letter of ``text``."""
    import unicodedata

    script = SCRIPT.get(language)
    return script is not None and all(unicodedata.name(ch, "?").startswith(script + " ")
                                      for ch in text if ch.isalpha())


# The order a date is said in, per language without a voice (its pieces are recorded).
DATE_ORDER = {
    "so": ("weekday", "day", "month", "hour", "minute"),
    "ti": ("weekday", "day", "month", "hour", "minute"),
    "fa": ("weekday", "day", "month", "hour", "minute"),
}
DEFAULT_DATE_ORDER = ("weekday", "day", "month", "hour", "minute")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

# The voices that speak for a language that has neither a voice nor recordings yet: its
# name in the language menu, and "coming soon" (Norwegian first, the centre's language).
FALLBACK_VOICES = ("nb", "en")
# Where the centre's name for a language is not CLDR's (Farsi and Dari are one option).
SPOKEN_NAMES = {"fa": {"nb": "Farsi / dari", "en": "Farsi / Dari"}}


def spoken_name(code: str, in_language: str) -> str:
    """The name of language ``code`` in ``in_language``, as that language's voice reads it
    ("Tigrinja" in Norwegian, "Tigrinya" in English): never in a script it cannot read."""
    from babel import Locale

    name = SPOKEN_NAMES.get(code, {}).get(in_language) or Locale(in_language).languages.get(code, code)
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class Say:
    text: str
    voice: str
    language: str


@dataclass(frozen=True)
class Play:
    key: str  # the recording's prompt key, e.g. "v_main_menu" or "day:24"


Part = Say | Play


class NotInHerLanguage(Exception):
    """Neither a voice nor the needed recordings exist for this prompt in her language."""

    def __init__(self, missing: list[str]):
        super().__init__(", ".join(missing))
        self.missing = missing


def date_pieces(at: datetime, language: str, tz: ZoneInfo) -> list[str]:
    local = at.astimezone(tz)
    minute = local.minute  # every minute a time can have (the desk books 10:10 too)
    pieces = {
        "weekday": f"weekday:{local.weekday()}", "day": f"day:{local.day}", "month": f"month:{local.month}",
        "hour": f"hour:{local.hour}", "minute": f"minute:{minute:02d}",
    }
    return [pieces[name] for name in DATE_ORDER.get(language, DEFAULT_DATE_ORDER)]


def fragments(key: str, language: str) -> list[str | tuple[str]]:
    """The translated sentence cut at its values: fixed text (str) and value names (1-tuples).
    Text without a letter between two values (a comma, Tigrinya's "፡") is no piece to record."""
    template = prompts.translate((prompts.VOICE_TEXTS | prompts.TEXTS)[key].msgid, language)
    parts: list[str | tuple[str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if _has_words(template[position:match.start()]):
            parts.append(template[position:match.start()])
        parts.append((match.group(1),))
        position = match.end()
    if _has_words(template[position:]):
        parts.append(template[position:])
    return parts


def _has_words(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def recording_keys(key: str, language: str, values: dict, tz: ZoneInfo) -> list[str]:
    """The recordings that say prompt ``key`` with ``values`` in a language without a voice."""
    if not _PLACEHOLDER.search(prompts.VOICE_TEXTS[key].msgid):
        return [key]
    keys: list[str] = []
    fixed = 0
    for part in fragments(key, language):
        if isinstance(part, str):
            keys.append(f"{key}#{fixed}")
            fixed += 1
            continue
        name = part[0]
        value = values[name]
        if name == "when":
            keys.extend(date_pieces(value, language, tz))
        elif name in ("start", "end"):  # a whole hour of her contact hours
            keys.append(f"hour:{value.hour}")
        elif name == "digit":
            keys.append(f"digit:{value}")
        elif name == "service":
            keys.append(f"service:{values['service_slug']}")
        elif name == "language":
            keys.append(f"language:{language}")
        else:
            raise KeyError(name)
    return keys


def parts_for(key: str, language: str, values: dict, *, tz: ZoneInfo, recorded: set[str]) -> list[Part]:
    """What to say or play for one prompt in ``language``; raises NotInHerLanguage."""
    if key in recorded:  # a whole recording of this prompt wins, when it has no values
        if not _PLACEHOLDER.search(prompts.VOICE_TEXTS[key].msgid):
            return [Play(key)]
    spoken_by = voice(language)
    if spoken_by is not None:
        name, code = spoken_by
        words = {name: value for name, value in values.items() if not name.endswith("_slug")}
        if "when" in words:
            words["when"] = prompts.spoken_when(words["when"], language, tz)
        for hour in ("start", "end"):
            if hour in words:
                words[hour] = prompts.spoken_clock(words[hour], language)
        return [Say(prompts.render(key, language, **words), name, code)]
    needed = recording_keys(key, language, values, tz)
    missing = [k for k in needed if k not in recorded]
    if missing:
        raise NotInHerLanguage(missing)
    return [Play(k) for k in needed]


def text_version(recording_key: str) -> str | None:
    """The version of the wording a recording of ``recording_key`` says (prompts.text_version).

    A piece of a prompt (``v_closed#1``) is tied to the whole prompt's msgid, not to an
    English fragment: the pieces are cut from the translated sentence, which may put its
    values in another order, so piece #1 need not match the English fragment #1; and any
    change to the sentence may move where it is cut. The pieces of dates, digits and names
    are no prompt's wording: None, and they stay current."""
    base, _sep, _index = recording_key.partition("#")
    return prompts.text_version(base) if base in prompts.VOICE_TEXTS else None


def is_current(recording_key: str, version: str | None) -> bool:
    """Was a recording made for the wording this key has now? A stale one is never played."""
    return version == text_version(recording_key)


def pieces_to_record(language: str, service_slugs: Iterable[str], prompt_keys: Iterable[str] | None = None) -> list[str]:
    """Every recording a language without a voice needs to say ``prompt_keys`` (all the
    voice prompts when None, as `flask prompts missing` lists them): each prompt whole, or
    the pieces between its values, then the pieces its values are said with (dates, digits,
    service names, the language's own name), only those some prompt has."""
    keys = list(prompt_keys) if prompt_keys is not None else list(prompts.VOICE_TEXTS)
    pieces = [piece for key in keys for piece in _prompt_pieces(key, language)]
    values = {name for key in keys for name in _PLACEHOLDER.findall(prompts.VOICE_TEXTS[key].msgid)}
    if "when" in values:
        pieces += [f"weekday:{d}" for d in range(7)] + [f"day:{d}" for d in range(1, 32)]
        # Every hour: the centre's hours, a counselor's evening or an early opening may need any.
        pieces += [f"month:{m}" for m in range(1, 13)] + [f"hour:{h}" for h in range(24)]
        pieces += [f"minute:{m:02d}" for m in range(60)]
    if values & {"start", "end"}:
        pieces += [f"hour:{h}" for h in range(24) if f"hour:{h}" not in pieces]
    if "digit" in values:
        pieces += [f"digit:{d}" for d in range(10)]
    if "service" in values:
        pieces += [f"service:{slug}" for slug in service_slugs]
    if "language" in values:
        pieces += [f"language:{language}"]
    return pieces


@lru_cache(maxsize=None)
def _prompt_pieces(key: str, language: str) -> tuple[str, ...]:
    """A voice prompt as recorded: whole, or in the pieces between its values."""
    if not _PLACEHOLDER.search(prompts.VOICE_TEXTS[key].msgid):
        return (key,)
    fixed = sum(1 for part in fragments(key, language) if isinstance(part, str))
    return tuple(f"{key}#{i}" for i in range(fixed))


def script(key: str, language: str) -> str:
    """What the person recording ``key`` should say (shown by `flask prompts missing` and the
    admin's recordings page): a prompt's words; a piece of a sentence; a date piece as the
    word itself in her language where CLDR has it ("Isniin" for ``weekday:0`` in Somali)."""
    base, _, index = key.partition("#")
    if index:
        fixed = [part for part in fragments(base, language) if isinstance(part, str)]
        return fixed[int(index)].strip(" ,.")
    if base in prompts.VOICE_TEXTS:
        return prompts.render(base, language) if not _PLACEHOLDER.search(prompts.VOICE_TEXTS[base].msgid) else base
    kind, _colon, value = key.partition(":")
    if kind in {"weekday", "month"}:
        from babel import UnknownLocaleError
        from babel.dates import get_day_names, get_month_names

        try:
            names = get_day_names("wide", locale=language) if kind == "weekday" else \
                get_month_names("wide", locale=language)
            return names[int(value)]
        except (UnknownLocaleError, ValueError, KeyError):
            return key
    if kind in {"day", "hour", "minute", "digit"}:
        return value
    return key


def in_sentence(key: str, language: str) -> str | None:
    """For a piece of a sentence (``v_slot_option#1``): the whole sentence it is cut from, in
    her language, the piece in [brackets] and each value as "…"; else None."""
    base, _, index = key.partition("#")
    if not index:
        return None
    shown, fixed = [], 0
    for part in fragments(base, language):
        if isinstance(part, str):
            shown.append(f"[{part.strip(' ,.')}]" if fixed == int(index) else part.strip())
            fixed += 1
        else:
            shown.append("…")
    return " ".join(shown)
