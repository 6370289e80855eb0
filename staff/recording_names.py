"""What a voice recording is, in the staff member's page language: the admin's recordings
pages and the audit trail name a recording by it, never by its prompt key."""
from __future__ import annotations

import re

from babel.dates import get_day_names, get_month_names
from flask_babel import get_locale
from flask_babel import gettext as _

from hotline import voices
from scheduling.models import Service
from staff.labels import language_name

# How long a prompt's wording may be where it names the recording (a title, a list).
DESCRIPTION_LENGTH = 60
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def describe(key: str, services: dict[str, Service]) -> str:
    """What a recording is, in the admin's page language: a prompt by its own wording
    ("For å bestille time, trykk 1. …"), a piece of a date or a name by what it holds
    ("ukedag: mandag"). Never the prompt's key."""
    base, _hash, index = key.partition("#")
    if base in voices.prompts.VOICE_TEXTS:
        wording = _wording(base)
        if index.isdigit():
            return _("del %(number)d av «%(prompt)s»", number=int(index) + 1, prompt=wording)
        return wording
    kind, _sep, value = key.partition(":")
    if kind == "weekday":
        try:
            return _("ukedag: %(name)s", name=get_day_names("wide", locale=get_locale())[int(value)])
        except (ValueError, KeyError):
            return _("en ukedag")
    if kind == "month":
        try:
            return _("måned: %(name)s", name=get_month_names("wide", locale=get_locale())[int(value)])
        except (ValueError, KeyError):
            return _("en måned")
    if kind == "service":
        service = services.get(value)
        return _("navnet på tjenesten: %(name)s", name=service.name_in("nb") if service else _("(fjernet)"))
    if kind == "language":
        return _("navnet på språket: %(name)s", name=language_name(value))
    labels = {"day": _("dag i måneden: %(value)s", value=value), "hour": _("klokketime: %(value)s", value=value),
              "minute": _("minutter: %(value)s", value=value), "digit": _("tallet %(value)s (tast)", value=value)}
    return labels.get(kind, _("et opptak"))


def _wording(prompt_key: str) -> str:
    """The prompt as the phone line says it in the admin's page language, shortened, with
    "…" where a time, a name or a number goes."""
    language = get_locale().language if get_locale() else "nb"
    text = _PLACEHOLDER.sub("…", voices.prompts.translate(voices.prompts.VOICE_TEXTS[prompt_key].msgid, language))
    if len(text) <= DESCRIPTION_LENGTH:
        return text
    return text[:DESCRIPTION_LENGTH].rsplit(" ", 1)[0].rstrip(",.;:") + " …"
