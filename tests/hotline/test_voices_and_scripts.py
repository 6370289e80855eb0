"""What a call says, it says in a voice that can read it: every <Say> of a call, in every
language, uses one of the voices Linja was set up with for Twilio, and only the script
that voice reads (no Ge'ez or Arabic letters read by an English voice)."""
from __future__ import annotations

import unicodedata

import pytest

from hotline import voices
from hotline.phone import SimulatedPhone, call
from tests.conftest import ROOM_FOR_MANY
from tests.hotline.test_voice import CheckedTransport

# The script each voice reads, by its language code.
SCRIPT_OF = {"nb-NO": "LATIN", "en-GB": "LATIN", "pl-PL": "LATIN", "arb": "ARABIC", "ur-IN": "ARABIC"}
MENU_NUMBER = {"nb": "1", "en": "2", "ar": "3", "so": "4", "ur": "5", "ti": "6", "fa": "7", "pl": "8"}


@pytest.fixture
def app_config():
    return ROOM_FOR_MANY


def scripts(text: str) -> set[str]:
    """The scripts of the letters in ``text`` (digits, spaces and punctuation have none)."""
    return {unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()}


def test_every_voice_reads_a_script_we_know():
    assert {code for _, code in voices.VOICES.values()} | {voices.VOICES[n][1] for n in voices.FALLBACK_VOICES} \
        <= set(SCRIPT_OF)


@pytest.mark.parametrize("language", list(MENU_NUMBER))
def test_a_call_in_every_language_says_only_what_its_voices_can_read(app, centre, language):
    transport = CheckedTransport(app)
    line = call(SimulatedPhone(transport, "+4791234567", app.config["PUBLIC_BASE_URL"],
                               app.config["TWILIO_AUTH_TOKEN"]))
    line.press(MENU_NUMBER[language])
    for key in "1111":  # book: a talk, the first time, yes (or the call has ended: no voice yet)
        if line.ended:
            break
        line.press(key)
    said = [h for h in line.heard if h.kind == "say"]
    assert said
    for heard in said:
        assert (heard.voice, heard.language) in set(voices.VOICES.values()), heard
        assert scripts(heard.text) <= {SCRIPT_OF[heard.language]}, heard


@pytest.mark.parametrize("language", ["so", "ti", "fa"])
def test_every_piece_to_record_has_words_to_say(language):
    # Nobody is asked to record a punctuation mark (Tigrinya's "፡" between a time and its key).
    for key in voices.pieces_to_record(language, ["legal"]):
        if "#" in key:
            assert any(ch.isalpha() for ch in voices.script(key, language)), (key, voices.script(key, language))
