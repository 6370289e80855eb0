"""The worker's wiring: the outbound sender chosen by configuration, and the worker that
sends the outbox with it, as `flask worker`, `flask send-due`, `make run` and the phone
simulator run it."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

from flask import Flask

from scheduling import waitlist
from hotline.ivr import heard_on_a_call
from hotline.studio import delete_at_twilio, fetch_takes, settle_abandoned, settle_unreachable, take_simulated
from web.config import LOCAL_AUTH_TOKEN


def _in_context(app: Flask, function, *args):
    """``function`` with the app's configuration at hand (the worker ticks outside requests)."""
    with app.app_context():
        return function(*args)


def sender_from_config(app: Flask):
    """Twilio's REST API when Linja has Twilio credentials; otherwise the console sender,
    whose texts the phone simulator shows."""
    from hotline.messaging import ConsoleSender, TwilioSender

    config = app.config
    if config["TWILIO_ACCOUNT_SID"] and config["TWILIO_AUTH_TOKEN"] != LOCAL_AUTH_TOKEN:
        return TwilioSender(
            account_sid=config["TWILIO_ACCOUNT_SID"], auth_token=config["TWILIO_AUTH_TOKEN"],
            from_number=config["TWILIO_FROM"], messaging_service_sid=config["TWILIO_MESSAGING_SERVICE_SID"],
            api_base=config["TWILIO_API_BASE"], concurrency=config["SENDING_CONCURRENCY"],
            timeout=config["TWILIO_TIMEOUT_SECONDS"],
        )
    return ConsoleSender(clock_now=app.extensions["linja.clock"].now)


def text_renderer(app: Flask):
    """(template, language, params) -> the words of an outbox text, exactly as the worker
    sends them; the desk's confirmation pages show her text with the same function."""
    from hotline.discretion import signed
    from hotline.replies import render_outbound

    config = app.config
    rules = app.extensions["linja.rules"]

    def render(template: str, language: str | None, params: dict) -> str:
        text = render_outbound(template, language, params, tz=rules.tz, address=config["CENTRE_ADDRESS"])
        return signed(text, template, config["SMS_SIGNATURE"], is_private=bool(params.get("private")))

    return render


# A tick spends at most this long fetching studio takes, and as long deleting them, at Twilio.
TAKES_BUDGET_SECONDS = 20.0


def _twilio_job(job, twilio, api_base: str, stopping: threading.Event, budget: float):
    """``job`` (hotline.studio's fetch_takes or delete_at_twilio) as a worker job: it stops
    taking the next take when the worker is stopping or its time on this tick is up."""
    def run(session, now):
        deadline = time.monotonic() + budget
        return job(session, twilio, api_base, now,
                   until=lambda: stopping.is_set() or time.monotonic() > deadline)
    return run


def make_worker(app: Flask):
    """The worker as the Procfile's `worker` and `make run` start it."""
    from scheduling.sending import OutboxSender, Pace, SendingRules
    from scheduling.worker import Worker

    config = app.config
    rules = app.extensions["linja.rules"]
    sessions = app.extensions["linja.sessions"]
    clock = app.extensions["linja.clock"]
    render = app.extensions["linja.render_text"]

    sending = SendingRules(
        per_second=config["SMS_PER_SECOND"],
        lease=timedelta(seconds=config["OUTBOX_LEASE_SECONDS"]),
        send_timeout=timedelta(seconds=config["TWILIO_TIMEOUT_SECONDS"]),
        max_attempts=config["OUTBOX_MAX_ATTEMPTS"],
        concurrency=config["SENDING_CONCURRENCY"],
        status_callback=config["PUBLIC_BASE_URL"] + "/hotline/sms/status",
        reminder_call_url=config["PUBLIC_BASE_URL"] + "/hotline/voice/reminder",
        call_status_callback=config["PUBLIC_BASE_URL"] + "/hotline/voice/status",
        heard_on_a_call=lambda session, language: _in_context(app, heard_on_a_call, session, language),
    )
    # One event stops the worker: no more claims, and a wait for the sending rate ends at once.
    stopping = threading.Event()
    outbox = OutboxSender(sessions, app.extensions["linja.sender"], render, sending, clock.now,
                          pace=Pace(sessions, sending.per_second, sleep=stopping.wait), centre_rules=rules,
                          stopping=stopping)
    twilio = getattr(app.extensions["linja.sender"], "client", None)
    api_base = config["TWILIO_API_BASE"]
    jobs = tuple(_twilio_job(job, twilio, api_base, stopping, TAKES_BUDGET_SECONDS)
                 for job in (fetch_takes, delete_at_twilio)) if twilio is not None else ()
    # The phone simulator's studio takes are in this process, not at Twilio: taken first, so
    # fetch_takes never asks Twilio for one of them (`make run` serves the simulator and runs
    # this worker in one process).
    simulated = app.extensions.get("linja.simulator.takes")
    if simulated is not None:
        jobs = (lambda session, now: take_simulated(session, simulated, now), *jobs)
    if twilio is None:  # nothing can be fetched from Twilio: what the simulator lost is settled
        jobs = (*jobs, settle_unreachable)
    jobs = (settle_abandoned, *jobs)
    return Worker(sessions, clock.now, outbox, retention=timedelta(days=config["RETENTION_DAYS"]), jobs=jobs,
                  before_sending=(waitlist.job(rules),))
