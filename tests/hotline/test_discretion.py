"""Discretion: no caller text, in any language, carries a word that tells a stranger holding
her phone where she has been asking for help; no text about her appointment names its
service; the centre's sign-off is added only where it costs nothing and says nothing."""
from __future__ import annotations

import os
import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline import prompts
from hotline.conversation import Reply
from hotline.discretion import (
    DEFAULT_WORDS,
    is_discreet,
    normalise,
    sensitive_words_in,
    signed,
    words_from,
)
from hotline.replies import offers_per_text, render_outbound, render_reply, worst_whens
from hotline.segments import segments
from scheduling.demo import SERVICES

LANGUAGES = ["nb", "en", "ar", "so", "ur", "ti", "fa", "pl"]
OSLO = ZoneInfo("Europe/Oslo")
ADDRESS = "Storgata 10, 0184 Oslo"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# The centre's own words, when the tests run with its configuration.
CENTRE_WORDS = words_from(os.environ.get("SENSITIVE_WORDS", ""))
# The templates the outbox sends (scheduling.booking, scheduling.reminders).
OUTBOUND = ("booked", "moved", "cancelled", "reminder")
SERVICE_NAMES = sorted({name for _, _, names in SERVICES.values() for name in names.values()})
LANGUAGE_NAMES = ["Norsk", "English", "العربية", "Soomaali", "اردو", "ትግርኛ", "فارسی", "Polski"]


def worst_values(key: str, language: str, at) -> dict:
    """Every placeholder of ``key`` with the values it can meet in real use."""
    names = set(PLACEHOLDER.findall((prompts.TEXTS.get(key) or prompts.VOICE_TEXTS[key]).msgid)) - {"address"}
    values = {
        "when": at, "time": at, "slots": [at] * offers_per_text(language),
        "services": [names[language] for _, _, names in SERVICES.values()],
        "service": max((names[language] for _, _, names in SERVICES.values()), key=len),
        "language": max(LANGUAGE_NAMES, key=len), "digit": "9",
        "start": time(10), "end": time(23),
    }
    return {name: values.get(name, "9") for name in names}


def sms_texts(language):
    for key in prompts.TEXTS:
        for at in worst_whens(language):
            yield key, render_reply(Reply(key, worst_values(key, language, at)), language, tz=OSLO, address=ADDRESS)


def voice_texts(language):
    for key in prompts.VOICE_TEXTS:
        for at in worst_whens(language):
            values = worst_values(key, language, at)
            for name in ("when", "time"):
                if name in values:
                    values[name] = prompts.format_when(at, language, OSLO)
            for name in ("start", "end"):
                if name in values:
                    values[name] = prompts.spoken_clock(values[name], language)
            yield key, prompts.render(key, language, address=ADDRESS, **values)


def outbound_texts(language):
    """Each outbox text as the worker renders it, with the appointment's service (and more)
    in its stored values, as a careless change might put them there, and with a code word."""
    for template in OUTBOUND:
        for at in worst_whens(language):
            for service in SERVICE_NAMES:
                params = {"when": at.isoformat(), "service": service, "service_name": service,
                          "services": [service], "counselor": "Amina"}
                yield template, render_outbound(template, language, params, tz=OSLO, address=ADDRESS)
                private = {**params, "private": True, "sent_at": (at - timedelta(hours=20)).isoformat()}
                yield template + " (code word)", render_outbound(template, language, private, tz=OSLO,
                                                                 address=ADDRESS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_caller_text_in_any_language_has_a_sensitive_word(language):
    failures = [(kind, key, words, sensitive_words_in(words, CENTRE_WORDS))
                for kind, texts in (("sms", sms_texts), ("voice", voice_texts), ("outbound", outbound_texts))
                for key, words in texts(language)
                if not is_discreet(words, CENTRE_WORDS)]
    assert failures == [], failures


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_about_her_appointment_names_its_service(language):
    names = [normalise(name) for name in SERVICE_NAMES]
    for template, words in outbound_texts(language):
        assert not any(name in normalise(words) for name in names), (language, template, words)
    for key, text in prompts.TEXTS.items():
        if text.kind in ("confirmation", "reminder"):
            assert not {"service", "services"} & set(PLACEHOLDER.findall(text.msgid)), key


def test_every_language_has_its_own_words_and_they_are_found_in_their_own_texts():
    assert set(DEFAULT_WORDS) == set(LANGUAGES)
    for language, words in DEFAULT_WORDS.items():
        assert len(words) >= 10, language
        for word in words:
            assert word in sensitive_words_in(f"x {word.upper()} x"), word


@pytest.mark.parametrize("text, found", [
    ("Hjelp mot VOLD i nære relasjoner", ["vold"]),
    ("Volden må stoppe", ["vold"]),  # inflected
    ("ring krisesenteret", ["krise"]),  # a compound
    ("Domestic violence helpline", ["violen"]),
    ("THERAPIST on duty", ["therap"]),
    ("the epicenter of town", []),  # not at the start of a word
    ("Ośrodek pomocy", ["ośrod"]),
    ("Osrodek pomocy", ["ośrod"]),  # written without accents
    ("przyjdź do poradni", ["poradni"]),
    ("rozwodu", ["rozwód"]),
    ("العنف الأسري", ["عنف"]),  # with the article
    ("بالشرطة", ["شرطة"]),  # with a prefix
    ("أزمة", ["أزمة"]),
    ("ازمة", ["أزمة"]),  # without hamza
    ("مُحَامِي", ["محامي"]),  # with harakat
    ("پولیس", ["پولیس"]),
    ("پوليس", ["پولیس"]),  # Arabic yeh for Persian yeh
    ("روان\u200cدرمانی", ["روان درمانی"]),  # zero-width non-joiner
    ("رواندرمانی", ["روان درمانی"]),  # written as one word
    ("ንፖሊስ", ["ፖሊስ"]),  # Tigrinya prefix
    ("Xarunta", ["xarun"]),
    ("Linja", ["linja"]),
    ("telefonlinja", []),
    ("Booked: tir. 24. nov. 10:00. Address: Storgata 10, 0184 Oslo.", []),
])
def test_the_check_is_case_insensitive_word_aware_and_normalised(text, found):
    assert sensitive_words_in(text) == sorted(found)


def test_the_centres_own_words_count_too():
    centre = words_from(" Solsikken , ,Hjelpelinja Øst")
    assert centre == ("Solsikken", "Hjelpelinja Øst")
    assert sensitive_words_in("Hilsen SOLSIKKEN", centre) == ["Solsikken"]
    assert sensitive_words_in("hjelpelinja øst", centre) == ["Hjelpelinja Øst"]
    assert is_discreet("Hilsen Solsikken")
    assert words_from("") == () and words_from(None) == ()


def test_sensitive_words_come_from_the_environment():
    from web import config

    values = config.from_env({"SENSITIVE_WORDS": "Solsikken, Kvinnehuset"})
    assert values["SENSITIVE_WORDS"] == ("Solsikken", "Kvinnehuset")
    assert config.from_env({})["SENSITIVE_WORDS"] == () and config.from_env({})["SMS_SIGNATURE"] == ""


@pytest.mark.parametrize("signature", ["Krisesenteret", "Solsikken", "Hilsen Linja", "x" * 31])
def test_a_sign_off_must_be_discreet_and_short(signature):
    from web import config

    with pytest.raises(config.ConfigError):
        config.from_env({"SMS_SIGNATURE": signature, "SENSITIVE_WORDS": "Solsikken"})


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sign_off_closes_confirmations_only_where_it_costs_no_segment(language):
    at = worst_whens(language)[0]
    params = {"when": at.isoformat()}
    for template in ("booked", "moved", "cancelled"):
        text = render_outbound(template, language, params, tz=OSLO, address=ADDRESS)
        short = signed(text, template, "Hilsen Anna")
        assert short in (text, text + "\nHilsen Anna")
        assert segments(short) == segments(text)
        if language in ("nb", "en", "so"):  # GSM-7: a short sign-off fits the one segment
            assert short == text + "\nHilsen Anna", (language, template)
        assert signed(text, template, "Hilsen Anna " + "x" * 200) == text  # too long: left off
        assert signed(text, template, "Hilsen Anna", is_private=True) == text  # code word: no more than the time
    reminder = render_outbound("reminder", language, params, tz=OSLO, address=ADDRESS)
    assert signed(reminder, "reminder", "Hilsen Anna") == reminder
    assert signed(reminder, "booked", "") == reminder
