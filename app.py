"""The application factory: it wires configuration, the database, the clock and blueprints."""
from __future__ import annotations

from datetime import datetime

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from scheduling import crypto
from scheduling.availability import BookingRules
from scheduling.clock import SystemClock, TravelClock
from web import config as web_config
from web import db as web_db
from web import errors, jsonlog, security
from web.worker import make_worker, sender_from_config, text_renderer


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(web_config.INSTANCE), static_folder="static")
    app.config.update(web_config.from_env())
    if config:
        app.config.update(config)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # Phone numbers at rest are encrypted with these keys in this process (web and worker).
    crypto.configure(crypto.PhoneKeys.parse(app.config["PHONE_KEYS"], app.config["PHONE_HASH_KEY"]))
    security.init_app(app)  # headers on every response; secure session and remember-cookie flags
    errors.init_app(app)  # 404 for control characters in a path; an error page, never a bare 500

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    app.extensions["linja.clock"] = app.config.get("CLOCK") or _clock_from_config(app.config)
    app.extensions["linja.rules"] = BookingRules.from_config(app.config)
    app.extensions["linja.sender"] = app.config.get("SENDER") or sender_from_config(app)
    app.extensions["linja.render_text"] = text_renderer(app)
    web_db.init_app(app)
    if app.config.get("LOG_JSON", not app.config.get("TESTING")):
        jsonlog.configure_logging(app.config.get("LOG_LEVEL", "INFO"))
    jsonlog.init_app(app)

    from hotline.webhooks import bp as hotline_bp
    from staff import csrf
    from staff import init_app as init_staff
    from web.health import bp as health_bp

    app.register_blueprint(health_bp)
    init_staff(app)
    # Twilio's webhooks are authenticated by their signature, not by a CSRF token.
    csrf.exempt(hotline_bp)
    app.register_blueprint(hotline_bp)
    from hotline import simulator

    simulator.init_app(app, make_worker)  # the page's clock moves, then the worker looks at once
    csrf.exempt(simulator.bp)  # JSON only: a page elsewhere cannot post JSON here unasked

    from web import cli

    cli.init_app(app)
    return app


def _clock_from_config(config: dict):
    """The real clock in production; elsewhere one that can start at LINJA_CLOCK and be
    moved forward by the phone simulator."""
    if config["IS_PRODUCTION"]:
        return SystemClock()
    start = config.get("LINJA_CLOCK")
    return TravelClock(datetime.fromisoformat(start) if start else None)
