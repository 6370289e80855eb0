"""Every caller text, in every language: translated, discreet, and within its SMS budget."""
from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from hotline import keywords as kw
from hotline.conversation import Reply
from hotline.discretion import sensitive_words_in
from hotline.replies import offers_per_text, render_replies, render_reply, worst_whens
from hotline.segments import is_gsm7, segments
from hotline.prompts import TEXTS, TRANSLATIONS, VOICE_TEXTS, format_when
from scheduling.demo import SERVICES

LANGUAGES = ["nb", "en", "ar", "so", "ur", "ti", "fa", "pl"]
GSM7_LANGUAGES = ["nb", "en", "so"]
OSLO = ZoneInfo("Europe/Oslo")
ADDRESS = "Storgata 10, 0184 Oslo"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def realistic(key: str, language: str, longest=None) -> Reply:
    """The reply with the longest values it can meet in real use."""
    longest = longest or worst_whens(language)[0]
    values = {
        "when": longest,
        "time": longest,
        "slots": [longest] * offers_per_text(language),
        "services": [names[language] for _, _, names in SERVICES.values()],
        "start": time(10),  # her contact hours: two-digit hours, as long as they come
        "end": time(23),
    }
    names = set(PLACEHOLDER.findall(TEXTS[key].msgid)) - {"address"}
    return Reply(key, {name: values[name] for name in names})


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_is_translated_and_awaits_native_review(language):
    catalog = load(language)
    entries = {m.id: m for m in catalog if m.id}
    for key, text in {**TEXTS, **VOICE_TEXTS}.items():
        entry = entries.get(text.msgid)
        assert entry is not None, f"{language}: {key} is missing from the catalog"
        assert entry.string and not entry.fuzzy, f"{language}: {key} is not translated"
        assert sorted(PLACEHOLDER.findall(entry.string)) == sorted(PLACEHOLDER.findall(text.msgid)), (language, key)
        assert entry.string.count("\n") == text.msgid.count("\n"), (language, key)
    assert set(entries) == {t.msgid for t in [*TEXTS.values(), *VOICE_TEXTS.values()]}, f"{language}: stale entries"
    if language != "en":
        assert "Awaiting review by a native speaker" in (catalog.header_comment or "")


def test_the_catalog_template_matches_the_code():
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    assert template == {t.msgid for t in [*TEXTS.values(), *VOICE_TEXTS.values()]}, "run make catalogs"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_no_caller_sees_english_where_her_language_has_the_text(language):
    for key in TEXTS:
        english = render_reply(realistic(key, "en"), "en", tz=OSLO, address=ADDRESS)
        assert render_reply(realistic(key, language), language, tz=OSLO, address=ADDRESS) != english, key


def test_segment_budget_of_every_text_in_every_language(capsys):
    rows = []
    for language in LANGUAGES:
        for key, text in TEXTS.items():
            # The longest dates of the year, and the longest that need UCS-2 (Polish "śr.").
            words = max((render_reply(realistic(key, language, at), language, tz=OSLO, address=ADDRESS)
                         for at in worst_whens(language)), key=segments)
            rows.append((segments(words), language, key, "GSM-7" if is_gsm7(words) else "UCS-2", len(words)))
            assert segments(words) <= 2, (language, key, words)
            if language in GSM7_LANGUAGES and text.kind in ("confirmation", "reminder"):
                assert is_gsm7(words) and segments(words) == 1, (language, key, words)
        assert is_gsm7(render_reply(Reply("main_menu"), language, tz=OSLO, address="")) == (language in GSM7_LANGUAGES)
    with capsys.disabled():
        print("\nWorst SMS texts (segments, language, text, encoding, characters):")
        for row in sorted(rows, reverse=True)[:12]:
            print("  {:>1}  {:<3} {:<22} {:<6} {:>4}".format(*row))


@pytest.mark.parametrize("language", LANGUAGES)
def test_answers_that_combine_texts_keep_the_budget(language):
    after = offers_per_text(language, after_taken=True)
    for longest in worst_whens(language):
        combined = [
            [Reply("slot_taken"), Reply("offer_slots", {"slots": [longest] * after})],
            [Reply("slot_taken"), Reply("no_slots")],
            [Reply("timed_out"), Reply("main_menu")],
            [Reply("started"), Reply("main_menu")],
            [Reply("not_understood"), realistic("offer_slots", language, longest)],
            [Reply("empty_message"), realistic("choose_service", language, longest)],
            [Reply("not_understood"), realistic("confirm_cancel", language, longest)],
            [Reply("empty_message"), Reply("code_ask")],
        ]
        for replies in combined:
            assert segments(render_replies(replies, language, tz=OSLO, address=ADDRESS)) <= 2, replies
    assert offers_per_text(language) >= 3 and after >= 2


def test_before_a_language_is_chosen_texts_come_in_norwegian_and_english():
    words = render_replies([Reply("stopped")], None, tz=OSLO, address="")
    assert "START" in words and len(words.split("\n")) == 2 and segments(words) == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_is_indiscreet(language):
    for key in TEXTS:
        # choose_service carries the demo service names: they must be discreet too.
        words = render_reply(realistic(key, language), language, tz=OSLO, address=ADDRESS)
        assert sensitive_words_in(words) == [], (language, key, words)


@pytest.mark.parametrize("language", LANGUAGES)
def test_help_names_keywords_that_work(language):
    help_text = render_reply(Reply("help"), language, tz=OSLO, address="")
    stopped = render_reply(Reply("stopped"), language, tz=OSLO, address="")
    words = kw.LOCAL_KEYWORDS[language]
    for purpose, keyword_set in [("stop", kw.STOP), ("start", kw.START), ("delete", kw.DELETE), ("help", kw.HELP)]:
        assert kw.normalise(words[purpose]) in keyword_set, (language, purpose)
    for purpose in ("stop", "start", "delete"):
        assert words[purpose] in help_text, (language, purpose, help_text)
    assert "START" in stopped  # the one word that also lifts Twilio's own block


def test_dates_are_in_her_language_and_oslo_time():
    at = datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 in Oslo
    assert format_when(at, "nb", OSLO) == "tir. 24. nov. 10:00"
    assert format_when(at, "so", OSLO) == "Talaado, 24 Noofeembar 10:00"
    assert "نوفمبر" in format_when(at, "ar", OSLO) and format_when(at, "ar", OSLO).endswith("10:00")
    summer = datetime(2026, 6, 2, 8, 0, tzinfo=ZoneInfo("UTC"))
    assert format_when(summer, "pl", OSLO).endswith("10:00")


@pytest.mark.parametrize("typed, expected", [
    ("3", 3), (" 3. ", 3), ("٣", 3), ("۳", 3), ("#2", 2), ("(1)", 1), ("nr 4", 4), ("１", 1), ("፫", 3),
    ("three", None), ("3 4", None), ("", None), ("1000", None),
])
def test_numbers_in_any_script_and_with_punctuation(typed, expected):
    assert kw.number(kw.normalise(typed)) == expected


@pytest.mark.parametrize("typed", ["yes", "Ja", "HAA", "haa!", "نعم", "ہاں", "ኣወ", "بله", "tak", "ok", "١"])
def test_yes_in_her_words(typed):
    assert kw.normalise(typed) in kw.YES


@pytest.mark.parametrize("typed", ["no", "nei", "Maya", "لا", "نہیں", "ኣይፋል", "نه", "nie", "2"])
def test_no_in_her_words(typed):
    assert kw.normalise(typed) in kw.NO


@pytest.mark.parametrize("typed, words", [
    ("مساعده", "HELP"), ("مساعدة", "HELP"), ("كمك", "HELP"), ("إحذف", "DELETE"), ("usuń", "DELETE"),
    ("optout", "STOP"), ("Stop!", "STOP"),
])
def test_keywords_written_with_other_letter_forms(typed, words):
    assert kw.normalise(typed) in getattr(kw, words)


def test_everyday_words_neither_opt_out_nor_erase():
    assert kw.normalise("لغو") not in kw.STOP  # Farsi "cancel": cancelling is a digit in a menu
    assert kw.normalise("cancel my time") not in kw.STOP  # only the lone word is Twilio's opt-out
    assert kw.normalise("پاک") not in kw.DELETE  # "clean", an everyday word
    assert kw.normalise("delete?!") in kw.DELETE
