"""Every text on the staff pages has its English translation, with the same placeholders."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = ROOT / "translations" / "en" / "LC_MESSAGES" / "staff.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def staff_texts() -> set[str | tuple[str, str]]:
    """Every text the staff pages mark for translation: a string, or (singular, plural)."""
    with open(ROOT / "babel-staff.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    return {message for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=keywords)}


def english():
    with ENGLISH.open("rb") as po:
        return read_po(po, locale="en", domain="staff")


def test_every_staff_text_has_an_english_translation():
    catalog = english()
    texts = staff_texts()
    assert len(texts) > 300, "the extractor found the staff pages' texts"
    missing = []
    for text in texts:
        key = text[0] if isinstance(text, tuple) else text
        entry = catalog.get(key)
        forms = entry.string if entry else ""
        if not all(forms if isinstance(forms, tuple) else (forms,)) or entry.fuzzy:
            missing.append(key)
    assert sorted(missing) == [], "translate these in translations/en/LC_MESSAGES/staff.po (make staff-catalog)"


def test_translations_keep_their_placeholders():
    for entry in english():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) <= wanted | set(PLACEHOLDER.findall(ids[-1])), entry.id
            assert wanted <= set(PLACEHOLDER.findall(string)) or isinstance(entry.id, tuple), entry.id


def test_english_pages_really_are_english(app):
    from flask_babel import force_locale, gettext, ngettext

    with app.test_request_context(), force_locale("en"):
        assert gettext("Logg ut") == "Sign out"
        assert ngettext("%(num)d time", "%(num)d timer", 3) == "3 appointments"
