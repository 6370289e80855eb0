"""Limits that keep the line from being turned against the centre: a number that floods it
gets few replies, numbers abroad get none, and no webhook body is bigger than Twilio's.

The replies are counted in ``inbound_messages`` (every text Twilio delivered, with the
answer given), so the limits hold across any number of web processes with no table of
their own. A text answered with silence is still recorded: a retry of it stays silent.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import Flask, abort, current_app, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from scheduling.clients import find_client
from scheduling.models import Call, CallbackRequest, Client, InboundMessage
from scheduling.notifications import is_in_countries

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def init_app(app: Flask) -> None:
    """Every session the app opens (web requests, the worker, CLI commands) carries the
    allowed countries, which the outbox (scheduling.notifications) reads."""
    sessions = app.extensions["linja.sessions"]
    info = dict(sessions.kw.get("info") or {})
    info["allowed_countries"] = tuple(app.config["ALLOWED_COUNTRIES"])
    sessions.configure(info=info)


# --- body size -----------------------------------------------------------------------------------

def refuse_oversized_body() -> None:
    """413 for a body larger than Twilio ever sends, before any of it is read. A body that
    names no length (chunked) is read up to the limit and no further; one that fills it
    is refused too (Werkzeug would otherwise parse the first ``limit`` bytes as if they
    were all there was)."""
    limit = current_app.config["WEBHOOK_MAX_BYTES"]
    request.max_content_length = limit
    if request.content_length is None:
        if len(request.get_data(cache=True)) >= limit:
            abort(413)
    elif request.content_length > limit:
        abort(413)


# --- countries -----------------------------------------------------------------------------------

def is_allowed_number(phone_e164: str) -> bool:
    return is_in_countries(phone_e164, current_app.config["ALLOWED_COUNTRIES"])


# --- replies to texts ----------------------------------------------------------------------------

def has_reply():
    """SQL: the text was answered with a message (not with silence)."""
    return InboundMessage.reply_twiml.contains("<Message")


def replies_to(session: Session, client_id: int, since: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(InboundMessage)
        .where(InboundMessage.client_id == client_id, InboundMessage.received_at > since, has_reply())
    ) or 0


def replies_since(session: Session, since: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(InboundMessage)
        .where(InboundMessage.received_at > since, has_reply())
    ) or 0


def is_over_reply_limit(session: Session, client: Client | None, now: datetime) -> bool:
    """Has this caller had all the replies she may have this hour, or the line all it may
    send this minute? (Only a caller already known can be over her own limit.)"""
    config = current_app.config
    if client is not None and replies_to(session, client.id, now - HOUR) >= config["REPLIES_PER_NUMBER_PER_HOUR"]:
        # Her client id, never her number: the log must not tell who contacted the centre.
        log.warning("SMS reply limit reached: no reply to client %s", client.id)
        return True
    if replies_since(session, now - MINUTE) >= config["REPLIES_PER_MINUTE"]:
        log.warning("SMS replies per minute reached: a text goes unanswered")
        return True
    return False


# --- calls ---------------------------------------------------------------------------------------

def refuse_flooding_call(session: Session, phone_e164: str | None, call_sid: str, now: datetime
                         ) -> VoiceResponse | None:
    """A number that has called more than CALLS_PER_NUMBER_PER_HOUR times this hour hears
    "busy": ``<Reject>`` is not answered, so it costs the centre nothing, and she can
    call again later. None: answer the call as usual."""
    if not phone_e164 or not call_sid:
        return None  # a hidden number: nothing to count by
    try:
        if session.get(Call, call_sid) is not None:
            return None  # Twilio asking again about a call already answered
        client = find_client(session, phone_e164)
        if client is None:
            return None
        calls = session.scalar(
            select(func.count()).select_from(Call).where(Call.client_id == client.id, Call.started_at > now - HOUR)
        ) or 0
    except Exception:
        # A limit that cannot be checked does not keep her from getting through.
        log.exception("call limit not checked")
        session.rollback()
        return None
    if calls < current_app.config["CALLS_PER_NUMBER_PER_HOUR"]:
        return None
    log.warning("call limit reached: a call from client %s is not answered", client.id)
    response = VoiceResponse()
    response.reject(reason="busy")
    return response


def refuse_bridge_abroad(session: Session, request_id: int | None) -> VoiceResponse | None:
    """A receptionist's call-back is not put through to a number abroad."""
    request_row = session.get(CallbackRequest, request_id) if request_id else None
    client = session.get(Client, request_row.client_id) if request_row and request_row.client_id else None
    if client is None or client.phone_e164 is None or is_allowed_number(client.phone_e164):
        return None
    log.warning("call-back %s not put through: the number is abroad", request_id)
    response = VoiceResponse()
    response.say("Linja ringer ikke til nummer i utlandet. Ring personen fra en vanlig telefon om det trengs.",
                 voice="Polly.Liv", language="nb-NO")
    response.hangup()
    return response
