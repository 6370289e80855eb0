"""The application factory: it wires configuration, the database, the clock and blueprints."""
from __future__ import annotations

from datetime import datetime

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as linja_config
import webdb
from scheduling.availability import BookingRules
from scheduling.clock import FixedClock, SystemClock


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(linja_config.INSTANCE), static_folder="static")
    app.config.update(linja_config.from_env())
    if config:
        app.config.update(config)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_BASE_URL"].startswith("https://")

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    app.extensions["linja.clock"] = app.config.get("CLOCK") or _clock_from_config(app.config)
    app.extensions["linja.rules"] = BookingRules.from_config(app.config)
    webdb.init_app(app)

    from health import bp as health_bp
    from hotline.webhooks import bp as hotline_bp
    from staff import csrf
    from staff import init_app as init_staff

    app.register_blueprint(health_bp)
    init_staff(app)
    # Twilio's webhooks are authenticated by their signature, not by a CSRF token.
    csrf.exempt(hotline_bp)
    app.register_blueprint(hotline_bp)

    import cli

    cli.init_app(app)
    return app


def _clock_from_config(config: dict):
    start = config.get("LINJA_CLOCK")
    if start and not config["IS_PRODUCTION"]:
        return FixedClock(datetime.fromisoformat(start))
    return SystemClock()
