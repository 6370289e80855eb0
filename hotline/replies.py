"""Turns the dialogue's ``Reply`` values into the words of one text, in her language."""
from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

from hotline import texts
from hotline.conversation import Reply
from hotline.segments import is_gsm7

# Before she has chosen a language, the few texts she can get come in both of these.
NO_LANGUAGE = ("nb", "en")


def _numbered(lines: Iterable[str]) -> str:
    return "\n".join(f"{i} {line}" for i, line in enumerate(lines, start=1))


def render_reply(item: Reply, language: str, *, tz: ZoneInfo, address: str) -> str:
    if item.key == "language_menu":
        return _numbered(item.values["languages"])
    values = {"address": address}
    for name, value in item.values.items():
        if name == "when":
            values["when"] = texts.format_when(value, language, tz)
        elif name == "slots":
            values["slots"] = _numbered(texts.format_when(at, language, tz) for at in value)
        elif name == "services":
            values["services"] = _numbered(value)
        else:
            values[name] = value
    return texts.render(item.key, language, **values)


def render_replies(replies: list[Reply], language: str | None, *, tz: ZoneInfo, address: str) -> str:
    languages = (language,) if language else NO_LANGUAGE
    parts = []
    for item in replies:
        if item.key == "language_menu" or language:
            parts.append(render_reply(item, languages[0], tz=tz, address=address))
        else:
            parts.extend(render_reply(item, code, tz=tz, address=address) for code in languages)
    return "\n".join(parts)


def offers_per_text(language: str) -> int:
    """Five slots fit in a GSM-7 text, three where the language needs UCS-2."""
    return 5 if is_gsm7(texts.render("main_menu", language)) else 3
