"""Turns the dialogue's ``Reply`` values into the words of one text, in her language."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from hotline import prompts
from hotline.conversation import Reply
from hotline.segments import is_gsm7, segments

# No single answer may cost more than this many SMS segments.
SEGMENT_BUDGET = 2
# Replies that only soften what follows; dropped first when an answer would run over budget.
COURTESY = ("not_understood", "empty_message")
MAX_OFFERS = 5

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
            values["when"] = prompts.format_when(value, language, tz)
        elif name == "time":
            values["time"] = prompts.format_time(value, language, tz)
        elif name in ("start", "end"):  # a time of day (her contact hours)
            values[name] = prompts.format_clock(value, language)
        elif name == "slots":
            values["slots"] = _numbered(prompts.format_when(at, language, tz) for at in value)
        elif name == "services":
            values["services"] = _numbered(value)
        else:
            values[name] = value
    return prompts.render(item.key, language, **values)


def render_replies(replies: list[Reply], language: str | None, *, tz: ZoneInfo, address: str) -> str:
    """One text from a list of replies; courtesy lines go if it would run over budget."""
    replies = list(replies)
    text = _join(replies, language, tz=tz, address=address)
    while segments(text) > SEGMENT_BUDGET and any(r.key in COURTESY for r in replies[:-1]):
        replies.remove(next(r for r in replies if r.key in COURTESY))
        text = _join(replies, language, tz=tz, address=address)
    return text


def _join(replies: list[Reply], language: str | None, *, tz: ZoneInfo, address: str) -> str:
    languages = (language,) if language else NO_LANGUAGE
    parts = []
    for item in replies:
        if item.key == "language_menu" or language:
            parts.append(render_reply(item, languages[0], tz=tz, address=address))
        else:
            parts.extend(render_reply(item, code, tz=tz, address=address) for code in languages)
    return "\n".join(parts)


# For a caller with a code word, the text to send instead: the time, and nothing more.
PRIVATE = {"booked": "booked_private", "moved": "moved_private", "reminder": "reminder_private"}


def render_outbound(template: str, language: str | None, params: dict, *, tz: ZoneInfo, address: str) -> str:
    """The words of an outbox text; its stored values are plain JSON (instants as ISO text).

    The worker adds ``private`` (she has a code word) and ``sent_at`` when it sends: a
    private reminder then says only "today/tomorrow at 10:00" (or the date, further off).
    """
    values = {name: datetime.fromisoformat(value) if name in ("when", "sent_at", "time") else value
              for name, value in params.items() if name not in ("private", "entry")}
    sent_at = values.pop("sent_at", None)
    if params.get("private"):
        template = PRIVATE.get(template, template)
        if template == "reminder_private" and sent_at is not None and "when" in values:
            days = (values["when"].astimezone(tz).date() - sent_at.astimezone(tz).date()).days
            if days in (0, 1):
                template = "reminder_today" if days == 0 else "reminder_tomorrow"
                values = {"time": values["when"]}
    return render_replies([Reply(template, values)], language, tz=tz, address=address)


@lru_cache(maxsize=None)
def worst_whens(language: str, tz_name: str = "Europe/Oslo") -> tuple[datetime, ...]:
    """The dates of a year that make a text longest in ``language``: the longest one, and
    the longest of those that need UCS-2 (in Polish "śr." does, "niedz." does not)."""
    tz = ZoneInfo(tz_name)
    days = (date(2026, 1, 1) + timedelta(days=n) for n in range(365))
    instants = [datetime.combine(day, time(10, 30), tzinfo=tz) for day in days]

    def room(at: datetime) -> int:
        return len(prompts.format_when(at, language, tz).encode("utf-16-le"))

    worst = [max(instants, key=room)]
    wide = [at for at in instants if not is_gsm7(prompts.format_when(at, language, tz))]
    if wide:
        worst.append(max(wide, key=room))
    return tuple(worst)


@lru_cache(maxsize=None)
def offers_per_text(language: str, tz_name: str = "Europe/Oslo", *, after_taken: bool = False) -> int:
    """How many slots fit one answer with the longest dates of the year: five in GSM-7
    languages, fewer where UCS-2 is needed, and perhaps one fewer after "that time was
    just taken"."""
    tz = ZoneInfo(tz_name)
    before = [Reply("slot_taken")] if after_taken else []
    for count in range(MAX_OFFERS, 0, -1):
        if all(
            segments(_join([*before, Reply("offer_slots", {"slots": [at] * count})], language, tz=tz, address=""))
            <= SEGMENT_BUDGET
            for at in worst_whens(language, tz_name)
        ):
            return count
    return 1
