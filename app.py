"""The application factory: it wires configuration, the database, the clock and blueprints."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from scheduling import crypto
from scheduling.availability import BookingRules
from scheduling.clock import SystemClock, TravelClock
from web import config as web_config
from web import db as web_db
from web import jsonlog, security


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(web_config.INSTANCE), static_folder="static")
    app.config.update(web_config.from_env())
    if config:
        app.config.update(config)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # Phone numbers at rest are encrypted with these keys in this process (web and worker).
    crypto.configure(crypto.PhoneKeys.parse(app.config["PHONE_KEYS"], app.config["PHONE_HASH_KEY"]))
    security.init_app(app)  # headers on every response; secure session and remember-cookie flags

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    app.extensions["linja.clock"] = app.config.get("CLOCK") or _clock_from_config(app.config)
    app.extensions["linja.rules"] = BookingRules.from_config(app.config)
    app.extensions["linja.sender"] = app.config.get("SENDER") or _sender_from_config(app)
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

    simulator.init_app(app)
    csrf.exempt(simulator.bp)  # JSON only: a page elsewhere cannot post JSON here unasked

    from web import cli

    cli.init_app(app)
    return app


def _sender_from_config(app: Flask):
    from hotline.messaging import ConsoleSender, TwilioSender

    config = app.config
    if config["TWILIO_ACCOUNT_SID"] and config["TWILIO_AUTH_TOKEN"] != web_config.LOCAL_AUTH_TOKEN:
        return TwilioSender(
            account_sid=config["TWILIO_ACCOUNT_SID"], auth_token=config["TWILIO_AUTH_TOKEN"],
            from_number=config["TWILIO_FROM"], messaging_service_sid=config["TWILIO_MESSAGING_SERVICE_SID"],
            api_base=config["TWILIO_API_BASE"], concurrency=config["SENDING_CONCURRENCY"],
        )
    return ConsoleSender(clock_now=app.extensions["linja.clock"].now)


def make_worker(app: Flask):
    """The worker as the Procfile's `worker` and `make run` start it."""
    from hotline.discretion import signed
    from hotline.replies import render_outbound
    from scheduling.sending import OutboxSender, Pace, SendingRules
    from scheduling.worker import Worker

    config = app.config
    rules = app.extensions["linja.rules"]
    sessions = app.extensions["linja.sessions"]
    clock = app.extensions["linja.clock"]

    def render(template: str, language: str | None, params: dict) -> str:
        text = render_outbound(template, language, params, tz=rules.tz, address=config["CENTRE_ADDRESS"])
        return signed(text, template, config["SMS_SIGNATURE"], is_private=bool(params.get("private")))

    sending = SendingRules(
        per_second=config["SMS_PER_SECOND"],
        lease=timedelta(seconds=config["OUTBOX_LEASE_SECONDS"]),
        max_attempts=config["OUTBOX_MAX_ATTEMPTS"],
        concurrency=config["SENDING_CONCURRENCY"],
        status_callback=config["PUBLIC_BASE_URL"] + "/hotline/sms/status",
        reminder_call_url=config["PUBLIC_BASE_URL"] + "/hotline/voice/reminder",
        call_status_callback=config["PUBLIC_BASE_URL"] + "/hotline/voice/status",
    )
    outbox = OutboxSender(sessions, app.extensions["linja.sender"], render, sending, clock.now,
                          pace=Pace(sessions, sending.per_second), centre_rules=rules)
    return Worker(sessions, clock.now, outbox, retention=timedelta(days=config["RETENTION_DAYS"]))


def _clock_from_config(config: dict):
    """The real clock in production; elsewhere one that can start at LINJA_CLOCK and be
    moved forward by the phone simulator."""
    if config["IS_PRODUCTION"]:
        return SystemClock()
    start = config.get("LINJA_CLOCK")
    return TravelClock(datetime.fromisoformat(start) if start else None)
