"""The staff web: sign-in and the day's appointments (grown further by later issues)."""
from __future__ import annotations

from flask import Flask
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from staff.auth import load_user
from staff import callbacks  # noqa: F401  (its routes join the staff blueprint)
from staff.views import bp

login_manager = LoginManager()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    login_manager.login_view = "staff.login"
    login_manager.login_message = "Logg inn for å se denne siden."
    login_manager.user_loader(load_user)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(bp)
