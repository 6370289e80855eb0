"""Phone numbers: parsed with ``phonenumbers`` and kept in E.164, never raising on bad input."""
from __future__ import annotations

from collections.abc import Iterable
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


# Numbers Linja never texts, calls or calls back: they cost the centre (premium rate,
# shared cost), belong to a company rather than a person (toll-free, UAN) or reach no
# one who could answer (pager, voicemail only). A FIXED_LINE_OR_MOBILE number (every
# Danish one) is a person's; a FIXED_LINE one may be called, though not texted.
OFF_LIMITS_TYPES = frozenset({
    PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.TOLL_FREE,
    PhoneNumberType.UAN, PhoneNumberType.PAGER, PhoneNumberType.VOICEMAIL,
})


def is_off_limits_type(e164: str) -> bool:
    """Is this a kind of number Linja never texts or calls (``OFF_LIMITS_TYPES``)?"""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except NumberParseException:
        return True
    return kind in OFF_LIMITS_TYPES


def parse_numbers(values: str | Iterable[str], default_region: str = "NO") -> tuple[str, ...]:
    """Numbers written any way ("+47 22 00 00 00, 22000001"), comma-separated or as a list,
    in E.164. Raises ValueError naming one that is not a phone number. A Twilio number need
    not be one ``phonenumbers`` knows as valid, so only its form is checked."""
    items = values.split(",") if isinstance(values, str) else values
    numbers = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            number = phonenumbers.parse(text, default_region)
        except NumberParseException:
            raise ValueError(f"not a phone number: {item.strip()!r}") from None
        if not phonenumbers.is_possible_number(number):
            raise ValueError(f"not a phone number: {item.strip()!r}")
        numbers.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return tuple(dict.fromkeys(numbers))
