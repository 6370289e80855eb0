"""The dialogue table as a page a translator or a product person can read.

``docs/dialogue.md`` is written from ``hotline.conversation.TABLE`` (the table both lines
run) by ``flask dialogue-table``; a test fails when the page and the table differ.
"""
from __future__ import annotations

from pathlib import Path

from hotline import conversation as dialogue
from hotline import ivr, prompts

PAGE = Path(__file__).resolve().parent.parent / "docs" / "dialogue.md"
LINE_NAMES = {dialogue.SMS: "SMS", dialogue.VOICE: "voice"}


LANGUAGE_LIST = "each language named in its own words, with its number"


def _texted(key: str) -> str:
    if key == "language_menu":
        return LANGUAGE_LIST
    text = prompts.TEXTS.get(key)
    return _one_line(text.msgid) if text else "(not texted)"


# What a call says for the replies the voice line composes (ivr.VOICE_OF's functions):
# the prompts it says, in order; a prompt with {digit} is said once for each item.
SPOKEN_PARTS = {
    "choose_service": ("v_service_option",),
    "offer_slots": ("v_slots_intro", "v_slot_option", "v_later"),
    "confirm_slot": ("v_confirm",),
    (dialogue.MOVE_CONFIRM, "confirm_slot"): ("v_confirm_move",),
}


def _spoken(key: str, state: str = "") -> str:
    if key == "language_menu":
        return LANGUAGE_LIST + ", in its own voice (\"Aby wybrać język Polski, proszę nacisnąć 8.\"); one " \
                               "with neither a voice nor recordings yet, by the Norwegian and English voices " \
                               "with its Norwegian and English names (\"For Tigrinja, trykk 6. For Tigrinya, " \
                               "press 6.\")"
    voice = ivr.VOICE_OF.get(key)
    if isinstance(voice, str):
        return _one_line(prompts.VOICE_TEXTS[voice].msgid)
    if voice is None:
        return "(not said on a call)"
    parts = SPOKEN_PARTS.get((state, key)) or SPOKEN_PARTS.get(key)
    if parts is None:
        return "(read out item by item, each with its key)"
    return " ".join(_one_line(prompts.VOICE_TEXTS[part].msgid)
                    + (" (for each, in turn)" if "{digit}" in prompts.VOICE_TEXTS[part].msgid else "")
                    for part in parts)


def _one_line(text: str) -> str:
    return text.replace("\n", " / ").replace("|", "\\|")


def _lines(lines: frozenset[str]) -> str:
    return " and ".join(LINE_NAMES[line] for line in sorted(lines))


def describe() -> str:
    page = [
        "# The dialogue, state by state",
        "",
        "Generated from `hotline/conversation.py` (`TABLE`) by `flask dialogue-table`; a test fails",
        "when this page and the table differ. Both lines run this one table: a digit she texts and",
        "a key she presses are the same answer, in every state. \"Lines\" says where a choice is",
        "offered. Her words are shown in English; every language says the same with the same digits.",
        "",
        "## In every state",
        "",
        "| She sends | What happens |",
        "|---|---|",
        *(f"| {key} | {does} |" for key, does in dialogue.GLOBAL),
    ]
    for name, row in dialogue.TABLE.items():
        page += [
            "",
            f"## `{name}`" + ("" if row.lines == dialogue.BOTH else f" ({_lines(row.lines)} only)"),
            "",
            f"By SMS she reads: {_texted(row.asks)}",
            "",
            f"On a call she hears: {_spoken(row.asks, name)}",
            "",
            "| She sends | What happens | Then | Lines |",
            "|---|---|---|---|",
        ]
        for choice in (*row.choices, *([row.otherwise] if row.otherwise else [])):
            words = sorted(w for w in choice.words if not w.isdigit())
            also = f" (or {', '.join(words[:4])}...)" if words else ""
            then = ", ".join(f"`{state}`" for state in choice.leads_to)
            page.append(f"| {choice.key}{also} | {choice.does} | {then} | {_lines(choice.lines & row.lines)} |")
    return "\n".join(page) + "\n"


def write(path: Path = PAGE) -> Path:
    path.write_text(describe(), encoding="utf-8")
    return path
