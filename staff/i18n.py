"""The staff pages' language: Norwegian, or English for those who chose it.

The pages are written in Norwegian (the msgids are Norwegian) and the ``staff`` gettext
domain translates them into English (translations/en/LC_MESSAGES/staff.po; `make
staff-catalog` brings it up to date). The catalogs are read from the .po files
themselves, so there is no compiled file to fall behind. Caller texts live elsewhere
(hotline.prompts).
"""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, Domain, get_locale
from flask_login import current_user

STAFF_LOCALES = {"nb": "Norsk", "en": "English"}
DEFAULT_LOCALE = "nb"
DOMAIN = "staff"
CATALOGS = Path(__file__).resolve().parent.parent / "translations"

babel = Babel()


class CatalogDomain(Domain):
    """The ``staff`` domain, read from its .po catalogs once per language and process."""

    def get_translations(self):
        locale = get_locale()
        if locale is None:
            return support.NullTranslations()
        key = str(locale)
        translations = self.cache.get(key)
        if translations is None:
            translations = self.cache[key] = load_catalog(key)
        return translations


def load_catalog(locale: str) -> support.Translations:
    path = CATALOGS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return support.Translations(domain=DOMAIN)  # Norwegian: the msgids themselves
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as pybabel compile does
    compiled.seek(0)
    return support.Translations(compiled, domain=DOMAIN)


def _locale() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.ui_locale
    return DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("TZ_NAME", "Europe/Oslo"))
    babel.init_app(app, locale_selector=_locale)
    babel.domain_instance = CatalogDomain(domain=DOMAIN)
