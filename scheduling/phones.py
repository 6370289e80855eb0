"""Phone numbers: parsed with ``phonenumbers`` and kept in E.164, never raising on bad input."""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

ERROR_MESSAGES = {
    "empty": "Please enter a phone number.",
    "not_a_number": "That does not look like a phone number.",
    "invalid": "That number does not exist. Check the digits and the country code.",
}


@dataclass(frozen=True)
class ParsedPhone:
    e164: str | None
    error: str | None = None  # one of ERROR_MESSAGES' keys

    @property
    def is_valid(self) -> bool:
        return self.e164 is not None

    @property
    def message(self) -> str | None:
        return ERROR_MESSAGES.get(self.error) if self.error else None


def parse_phone(raw: str | None, default_region: str = "NO") -> ParsedPhone:
    """Any way a person writes a number ("+47 912 34 567", "0047 91234567", "91234567")."""
    text = (raw or "").strip()
    if not text:
        return ParsedPhone(None, "empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        return ParsedPhone(None, "not_a_number")
    if not phonenumbers.is_valid_number(number):
        return ParsedPhone(None, "invalid")
    return ParsedPhone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def is_mobile(e164: str) -> bool:
    """Can this number receive a text? (Mobile, or a number type that may be one.)"""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except NumberParseException:
        return False
    return kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
