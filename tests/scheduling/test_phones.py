from __future__ import annotations

import pytest

from scheduling.phones import is_mobile, parse_phone


@pytest.mark.parametrize("raw", ["+47 912 34 567", "91234567", "0047 91234567", "912 34 567", "+4791234567"])
def test_norwegian_numbers_in_any_format_become_e164(raw):
    assert parse_phone(raw).e164 == "+4791234567"


def test_foreign_numbers_keep_their_country():
    assert parse_phone("+46 70 123 45 67").e164 == "+46701234567"
    assert parse_phone("0046701234567").e164 == "+46701234567"


@pytest.mark.parametrize("raw, error", [
    ("", "empty"), (None, "empty"), ("   ", "empty"),
    ("hello", "not_a_number"), ("+", "not_a_number"),
    ("123", "invalid"), ("+47 1234", "invalid"), ("٣٣٣", "invalid"),
])
def test_bad_input_gives_a_clear_error_and_no_exception(raw, error):
    parsed = parse_phone(raw)
    assert parsed.e164 is None and not parsed.is_valid
    assert parsed.error == error
    assert parsed.message and parsed.message.endswith(".")


def test_mobile_detection():
    assert is_mobile("+4791234567")
    assert not is_mobile("+4722123456")  # Oslo landline
    assert not is_mobile("not a number")
