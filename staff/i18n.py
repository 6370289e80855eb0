"""The staff pages' language: Norwegian, or English for those who chose it.

The pages are written in Norwegian (the msgids are Norwegian) and the ``staff`` gettext
domain translates them into English. Caller texts live elsewhere (hotline.prompts).
"""
from __future__ import annotations

from flask import Flask
from flask_babel import Babel
from flask_login import current_user

STAFF_LOCALES = {"nb": "Norsk", "en": "English"}
DEFAULT_LOCALE = "nb"

babel = Babel()


def _locale() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.ui_locale
    return DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("TZ_NAME", "Europe/Oslo"))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    app.config.setdefault("BABEL_DOMAIN", "staff")
    babel.init_app(app, locale_selector=_locale)
