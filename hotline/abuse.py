"""Limits that keep the line from being turned against the centre, not against its callers:
a number that floods it gets few replies, a flood of unknown numbers cannot silence a woman
the centre already knows, numbers abroad get none, and no webhook body is bigger than Twilio's.

The replies are counted in ``inbound_messages`` (every text Twilio delivered, with the
answer given), so the limits hold across any number of web processes with no table of
their own. A text answered with silence is still recorded: a retry of it stays silent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, abort, current_app, request
from sqlalchemy import exists, func, literal, or_, select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from scheduling.clients import has_number
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Call,
    CallbackRequest,
    Client,
    InboundMessage,
    ReplyKind,
)
from scheduling import notifications, reference
from scheduling.notifications import is_in_countries
from scheduling.phones import parse_numbers, parse_phone

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def init_app(app: Flask) -> None:
    """Every session the app opens (web requests, the worker, CLI commands) carries the
    allowed countries and the centre's own numbers, which the outbox
    (scheduling.notifications) reads."""
    sessions = app.extensions["linja.sessions"]
    info = dict(sessions.kw.get("info") or {})
    info["allowed_countries"] = tuple(app.config["ALLOWED_COUNTRIES"])
    info["centre_numbers"] = centre_numbers(app.config)
    sessions.configure(info=info)


def centre_numbers(config) -> tuple[str, ...]:
    """TWILIO_FROM (unless it is a sender name, not a number) and CENTRE_NUMBERS, in E.164."""
    region = config["DEFAULT_PHONE_REGION"]
    numbers = list(parse_numbers(config.get("CENTRE_NUMBERS") or (), region))
    try:
        numbers += parse_numbers(config.get("TWILIO_FROM") or "", region)
    except ValueError:
        pass  # an alphanumeric sender ("Linja") is no number anyone can text from
    return tuple(dict.fromkeys(numbers))


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


def is_off_limits(session: Session, phone_e164: str) -> bool:
    """A number Linja never answers by text nor calls back (scheduling.notifications'
    ``is_off_limits``), or the very number this request came to (Twilio's ``To``): a
    text from the centre's own number would have Linja answer itself."""
    to = parse_phone(request.form.get("To"), current_app.config["DEFAULT_PHONE_REGION"])
    return notifications.is_off_limits(session, phone_e164) or phone_e164 == to.e164


# --- replies to texts ----------------------------------------------------------------------------
#
# Two limits: her own (REPLIES_PER_NUMBER_PER_HOUR ordinary answers) and the line's
# (REPLIES_PER_MINUTE texts sent, all numbers together). The line's limit is against
# unknown numbers: a caller with standing (a live appointment, or a dialogue she is in the
# middle of) is answered past it. Past either limit, STOP, START, DELETE and HELP still
# take effect, and one of them is confirmed per number an hour. Past her own limit she is
# told once when answers resume, then nothing until they do.

OWN = "own"
LINE = "line"


def has_reply():
    """SQL: the text was answered with a message (not with silence)."""
    return InboundMessage.reply_twiml.contains("<Message")


def is_ordinary_reply():
    """SQL: a text the dialogue itself answered, which her hourly limit counts (not a notice
    or a keyword's confirmation, which have caps of their own). Its words may be gone: a
    caller who erased herself leaves only the count (scheduling.clients.erase_client)."""
    return InboundMessage.reply_kind == ReplyKind.answered


def _replies_to(sender_hash: str, since: datetime):
    """SQL: her number's ordinary answers since: counted by the number's keyed hash, which
    every text keeps for an hour, so erasing herself (SLETT) does not start her count again."""
    return (select(func.count()).select_from(InboundMessage)
            .where(InboundMessage.sender_hash == sender_hash, InboundMessage.received_at > since,
                   is_ordinary_reply()).scalar_subquery())


def _replies_since(since: datetime):
    """SQL: every text the line sent since, whatever it was: the line's limit is about cost."""
    return (select(func.count()).select_from(InboundMessage)
            .where(InboundMessage.received_at > since, has_reply()).scalar_subquery())


def has_standing(session: Session, client: Client | None, now: datetime, idle: timedelta) -> bool:
    """A caller the line's limit must not silence: she has a booked appointment still to
    come, or she is in the middle of a dialogue (the line answered her less than ``idle``
    ago, SMS_IDLE_MINUTES, after which the dialogue itself starts her again)."""
    if client is None:
        return False
    live_appointment = exists().where(
        Appointment.client_id == client.id, Appointment.status == AppointmentStatus.booked,
        Appointment.start_at > now,
    )
    # Answered by the dialogue itself, not by a keyword's confirmation past a limit: a STOP
    # from an unknown number does not open a dialogue the flood could then go on through.
    open_dialogue = exists().where(
        InboundMessage.client_id == client.id, InboundMessage.received_at > now - idle, is_ordinary_reply(),
    )
    return bool(session.scalar(select(or_(live_appointment, open_dialogue))))


def reply_counts(sender_hash: str, now: datetime) -> tuple:
    """SQL: the two counts the limits compare (her number's answers this hour, the line's
    this minute), to read in one statement with whatever else a text reads first. A limit
    of 0 is not counted."""
    config = current_app.config
    return (_replies_to(sender_hash, now - HOUR) if config["REPLIES_PER_NUMBER_PER_HOUR"] > 0 else literal(0),
            _replies_since(now - MINUTE) if config["REPLIES_PER_MINUTE"] > 0 else literal(0))


def reply_limit_reached(session: Session, client: Client | None, sender_hash: str, now: datetime,
                        idle: timedelta, counts: tuple[int, int] | None = None) -> str | None:
    """Which limit this text is past: ``OWN`` (her number has had its answers this hour),
    ``LINE`` (the line has sent all it may this minute, and she has no standing), or None.
    A limit of 0 is no limit. ``counts``: ``reply_counts`` as already read in this
    transaction, else they are read here."""
    config = current_app.config
    own_limit, line_limit = config["REPLIES_PER_NUMBER_PER_HOUR"], config["REPLIES_PER_MINUTE"]
    own, line = counts if counts is not None else session.execute(select(*reply_counts(sender_hash, now))).one()
    if own_limit > 0 and own >= own_limit:
        # Her client id, never her number: the log must not tell who contacted the centre.
        log.warning("SMS reply limit reached: no reply to client %s", client.id if client else "(new)")
        return OWN
    if line_limit > 0 and line >= line_limit:
        if has_standing(session, client, now, idle):
            return None
        log.warning("SMS replies per minute reached: a text goes unanswered")
        return LINE
    return None


def may_confirm_keyword(session: Session, sender_hash: str, now: datetime) -> bool:
    """Past a limit, one keyword confirmation per number an hour. By the number's hash,
    not her client id: after DELETE there is no client left to count by."""
    return not session.scalar(select(exists().where(
        InboundMessage.sender_hash == sender_hash, InboundMessage.reply_kind == ReplyKind.keyword,
        InboundMessage.received_at > now - HOUR,
    )))


def resume_at(session: Session, sender_hash: str, now: datetime) -> datetime | None:
    """When her hourly limit next lets an answer through: the hour after the answer whose
    falling out of the window brings the count below the limit. None if she is not over."""
    limit = current_app.config["REPLIES_PER_NUMBER_PER_HOUR"]
    answered = session.scalars(
        select(InboundMessage.received_at)
        .where(InboundMessage.sender_hash == sender_hash, InboundMessage.received_at > now - HOUR,
               is_ordinary_reply())
        .order_by(InboundMessage.received_at)
    ).all()
    if limit <= 0 or len(answered) < limit:
        return None
    at = answered[len(answered) - limit] + HOUR
    # Said to the minute, so round up: "at 14:35" must not arrive before answers do.
    if at.second or at.microsecond:
        at = at.replace(second=0, microsecond=0) + MINUTE
    return at


def is_notice_due(session: Session, sender_hash: str) -> bool:
    """One notice per time over her limit: none yet since her last ordinary answer."""
    last_answer = session.scalar(
        select(func.max(InboundMessage.received_at))
        .where(InboundMessage.sender_hash == sender_hash, is_ordinary_reply())
    )
    notices = [InboundMessage.sender_hash == sender_hash, InboundMessage.reply_kind == ReplyKind.notice]
    if last_answer is not None:
        notices.append(InboundMessage.received_at >= last_answer)
    return not session.scalar(select(exists().where(*notices)))


# --- calls ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CallerAtTheDoor:
    """What a new call's first look found. ``refused``: what she hears instead of the line
    (None: answer as usual). When ``looked``, the rest was read in this transaction:
    whether the call has its row already (Twilio asking again), and who she is (None: a
    number the centre does not know yet)."""

    refused: VoiceResponse | None = None
    looked: bool = False
    call_exists: bool = False
    client_id: int | None = None  # her row is in the session's identity map


def refuse_flooding_call(session: Session, phone_e164: str | None, call_sid: str, now: datetime
                         ) -> CallerAtTheDoor:
    """A number that has called more than CALLS_PER_NUMBER_PER_HOUR times this hour hears
    "busy": ``<Reject>`` is not answered, so it costs the centre nothing, and she can
    call again later. Whether Twilio is asking again about a call already answered, who
    she is, her calls this hour and the reference data's version are read in one statement."""
    if not phone_e164 or not call_sid:
        return CallerAtTheDoor()  # a hidden number: nothing to count by
    one = select(literal(1).label("one")).subquery()
    calls_this_hour = (select(func.count()).select_from(Call)
                       .where(Call.client_id == Client.id, Call.started_at > now - HOUR).scalar_subquery())
    try:
        call_exists, client, calls, version = session.execute(
            select(exists().where(Call.call_sid == call_sid), Client, calls_this_hour, reference.version_column())
            .select_from(one).outerjoin(Client, has_number(phone_e164))
        ).one()
    except Exception:
        # A limit that cannot be checked does not keep her from getting through.
        log.exception("call limit not checked")
        session.rollback()
        return CallerAtTheDoor()
    reference.read_version(session, version)
    limit = current_app.config["CALLS_PER_NUMBER_PER_HOUR"]
    if call_exists or client is None or limit <= 0 or (calls or 0) < limit:  # 0: no limit
        # Twilio asking again about a call already answered is answered from its row.
        return CallerAtTheDoor(looked=True, call_exists=bool(call_exists), client_id=client.id if client else None)
    log.warning("call limit reached: a call from client %s is not answered", client.id)
    response = VoiceResponse()
    response.reject(reason="busy")
    return CallerAtTheDoor(refused=response)


def refuse_bridge(session: Session, request_id: int | None) -> VoiceResponse | None:
    """A receptionist's call-back is not put through to a number abroad, nor to one Linja
    never calls (a premium-rate number, the centre's own...): she hears why."""
    request_row = session.get(CallbackRequest, request_id) if request_id else None
    client = session.get(Client, request_row.client_id) if request_row and request_row.client_id else None
    if client is None or client.phone_e164 is None:
        return None
    if not is_allowed_number(client.phone_e164):
        log.warning("call-back %s not put through: the number is abroad", request_id)
        why = "Linja ringer ikke til nummer i utlandet. Ring personen fra en vanlig telefon om det trengs."
    elif notifications.is_off_limits(session, client.phone_e164):
        log.warning("call-back %s not put through: Linja does not call that kind of number", request_id)
        why = ("Linja ringer ikke dette nummeret: det er et spesialnummer, som et 820- eller 800-nummer, "
               "eller senterets eget.")
    else:
        return None
    response = VoiceResponse()
    response.say(why, voice="Polly.Liv", language="nb-NO")
    response.hangup()
    return response
