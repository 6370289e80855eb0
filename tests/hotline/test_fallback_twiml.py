"""The static answers Twilio falls back on when Linja cannot answer (docs/twilio/): kind,
discreet, in Norwegian and English, one SMS segment, and TwiML Twilio can read."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from hotline.discretion import sensitive_words_in
from hotline.segments import segments
from hotline.voices import VOICES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "twilio"


def test_the_sms_fallback_is_one_discreet_segment_in_norwegian_and_english():
    root = ET.parse(DOCS / "fallback-sms.xml").getroot()
    assert root.tag == "Response" and [child.tag for child in root] == ["Message"]
    text = root.find("Message").text
    assert "igjen" in text and "again" in text
    assert segments(text) == 1
    assert sensitive_words_in(text, ()) == []


def test_the_voice_fallback_says_it_in_norwegian_and_english_with_their_voices_and_hangs_up():
    root = ET.parse(DOCS / "fallback-voice.xml").getroot()
    assert [child.tag for child in root] == ["Say", "Say", "Hangup"]
    spoken = [(say.get("voice"), say.get("language")) for say in root.iter("Say")]
    assert spoken == [VOICES["nb"], VOICES["en"]]
    assert all(sensitive_words_in(say.text, ()) == [] for say in root.iter("Say"))
