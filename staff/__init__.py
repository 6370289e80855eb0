"""The staff web: counselors' days, the desk's board and queues, and the admin pages.

Every page module adds its routes to the one ``staff`` blueprint and its own entry to the
menu (staff.nav); every route checks the role on the server (staff.auth.role_required).
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from staff import i18n, nav, once
from staff.auth import load_user, send_to_sign_in
from staff.labels import language_name
from staff.views import bp, favicon, front_door
from staff import counselor  # noqa: F401,E402  (each module's routes join the blueprint)
from staff import callbacks  # noqa: F401,E402
from staff import desk  # noqa: F401,E402
from staff import desk_appointment  # noqa: F401,E402
from staff import admin  # noqa: F401,E402
from staff import abuse  # noqa: F401,E402

login_manager = LoginManager()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=app.config.get("STAFF_IDLE_MINUTES", 30))
    login_manager.login_view = "staff.login"
    login_manager.unauthorized_handler(send_to_sign_in)
    login_manager.user_loader(load_user)
    login_manager.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    nav.init_app(app)
    # Staff pages name a language in the page's language: {{ language.code|language_name }}.
    app.add_template_filter(language_name, "language_name")
    once.init_app(app)
    app.register_blueprint(bp)
    app.add_url_rule("/", "front_door", front_door)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
