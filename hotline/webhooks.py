"""Twilio's webhooks: thin views that parse the request, run the dialogue, commit, answer TwiML."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from flask import Blueprint, Response, abort, current_app, request, url_for
from sqlalchemy import literal, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from hotline import abuse
from hotline import keywords as kw
from hotline.conversation import Context, Inbound, Reply, State, advance, kept
from hotline.desk import DatabaseDesk
from hotline.ivr import Line, after_dial, bridge, call_ended, incoming, reminder_call
from hotline.prompts import render
from hotline.replies import offers_per_text, render_replies
from hotline import voices
from hotline.signature import twilio_signed
from hotline.studio import Studio
from scheduling import reference
from scheduling.clients import create_client, find_client, has_number
from scheduling.crypto import phone_hash
from scheduling.db import is_connection_lost
from scheduling.models import Call, Client, Conversation, InboundMessage, PromptRecording, ReplyKind
from scheduling.phones import parse_phone
from scheduling.sending import record_call_outcome, record_provider_status

log = logging.getLogger(__name__)
bp = Blueprint("hotline", __name__, url_prefix="/hotline")
bp.record_once(lambda state: abuse.init_app(state.app))
# Refused before anything is read: no webhook body is bigger than Twilio's (hotline.abuse).
bp.before_request(abuse.refuse_oversized_body)


@bp.before_request
def refuse_nul_characters():
    """Twilio never puts a NUL character in an id, a number or an address, and no
    database stores one in text: such a request is refused (400) before it reaches
    anything that would store it. (Her own words, Body, are only read, never stored.)"""
    values = [*request.args.items(multi=True), *(request.form.items(multi=True) if request.method == "POST" else ())]
    if any("\x00" in key or ("\x00" in value and key != "Body") for key, value in values):
        log.warning("refused a webhook with a NUL character in its fields")
        abort(400)

MAX_SID_LENGTH = 64
T = TypeVar("T")


def db() -> Session:
    """This request's session (web.db opens it on first use and closes it at teardown).
    Views commit it once, at the end, when all went well."""
    return current_app.extensions["linja.db"]()


def twiml(xml: str) -> Response:
    return Response(xml, mimetype="text/xml")


def messaging_twiml(body: str | None) -> str:
    response = MessagingResponse()
    if body:
        response.message(body)
    return str(response)


@bp.post("/sms")
@twilio_signed
def sms():
    now = current_app.extensions["linja.clock"].now()
    sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "").strip()[:MAX_SID_LENGTH]
    phone = parse_phone(request.form.get("From"), current_app.config["DEFAULT_PHONE_REGION"])
    if not phone.is_valid:
        # No number to answer to (a short code, a malformed sender): say nothing.
        return twiml(messaging_twiml(None))
    if not abuse.is_allowed_number(phone.e164):
        # Abroad: never answered, so the line cannot be made to text premium numbers.
        log.info("SMS from outside the allowed countries: no reply")
        return twiml(messaging_twiml(None))

    session = db()
    try:
        # Her MessageSid finds a commit that went through before its connection was cut,
        # so even a lost commit is safe to try again; without one, only what was not.
        xml = run_committed(session, lambda: _handle_text(session, sid, phone.e164, now), is_idempotent=bool(sid))
    except IntegrityError:
        # The same MessageSid arrived twice at once; the other request answered it.
        session.rollback()
        try:
            answered = session.get(InboundMessage, sid) if sid else None
        except Exception:
            session.rollback()
            answered = None
        if answered is not None:
            return twiml(answered.reply_twiml)
        # Another of her texts wrote first what this one was writing too (her first two
        # texts at once both creating her, or both her dialogue's row): nothing of this one
        # was committed, and a second try finds what the other wrote.
        log.info("SMS webhook met another text's write; trying once more")
        try:
            xml = run_committed(session, lambda: _handle_text(session, sid, phone.e164, now),
                                is_idempotent=bool(sid))
        except Exception:
            log.exception("SMS webhook failed")
            session.rollback()
            return twiml(_apology(session, phone.e164))
    except Exception:
        # Whatever went wrong is ours to fix; she gets a kind word, not an error page,
        # and since nothing was committed she can simply try again.
        log.exception("SMS webhook failed")
        session.rollback()
        return twiml(_apology(session, phone.e164))
    return twiml(xml)


@dataclass
class Arrival:
    """What a text reads before anything else, in one round trip when she is in a dialogue."""

    answered: str | None  # the answer already given to this MessageSid (Twilio's retry)
    client: Client | None
    conversation: Conversation | None  # locked for this transaction, when read here
    counts: tuple[int, int] | None  # abuse.reply_counts, when read here


def _arrival(session: Session, sid: str, phone_e164: str, sender_hash: str, now: datetime) -> Arrival:
    """Her MessageSid, her, her dialogue, the limits' counts and the reference data's
    version in one statement. Her dialogue's row and hers are locked (FOR NO KEY UPDATE on PostgreSQL;
    SQLite's writes are one at a time anyway): two texts from her at once are handled one
    after the other, not both from the same state. For a caller with no dialogue yet (her
    first text) a second statement reads the same without it."""
    answered = (select(InboundMessage.reply_twiml).where(InboundMessage.message_sid == sid).scalar_subquery()
                if sid else literal(None))
    row = session.execute(
        select(Client, Conversation, answered, *abuse.reply_counts(sender_hash, now), reference.version_column())
        .join(Conversation, Conversation.client_id == Client.id)
        .where(has_number(phone_e164))
        # Her row too: what the text before this one wrote to her (her language, STOP, her
        # code word) is read after it, not from before it; NO KEY, so that a row referring
        # to her (a booking's, a text's) is not kept waiting.
        .with_for_update(of=(Conversation, Client), key_share=True)
    ).first()
    if row is None:
        # Her first text (or the first since her dialogue was cleared): the same, with her
        # perhaps not known at all; nothing to lock yet.
        one = select(literal(1).label("one")).subquery()
        row = session.execute(
            select(Client, literal(None), answered, *abuse.reply_counts(sender_hash, now), reference.version_column())
            .select_from(one).outerjoin(Client, has_number(phone_e164))
        ).one()
    client, conversation, reply, own, line, version = row
    reference.read_version(session, version)
    own_limit = current_app.config["REPLIES_PER_NUMBER_PER_HOUR"]
    if conversation is not None and own_limit > 0 and 2 * own >= own_limit and session.get_bind().dialect.name \
            == "postgresql":
        # Her count was read as the statement began, before her dialogue's lock was hers:
        # another of her texts answered while this one waited is not in it. Far from her
        # limit that cannot matter; from half of it on she is counted again, after the lock.
        own, line = session.execute(select(*abuse.reply_counts(sender_hash, now))).one()
    return Arrival(reply, client, conversation, (own, line))


def _handle_text(session: Session, sid: str, phone_e164: str, now: datetime) -> str:
    """Her text's answer, recorded under its MessageSid (the view commits)."""
    # Once per text: her number is hashed to find her. Her limits are counted by the same
    # keyed hash, kept an hour after she erased herself (scheduling.worker).
    sender_hash = phone_hash(phone_e164)
    arrival = _arrival(session, sid, phone_e164, sender_hash, now)
    if arrival.answered is not None:
        return arrival.answered
    if abuse.is_off_limits(session, phone_e164):
        # A number Linja never texts (premium rate, a pager, the centre's own...): her
        # text is kept, and answered with silence.
        log.info("SMS from a number Linja does not text: no reply")
        xml, client_id, kind, sender_hash = messaging_twiml(None), None, ReplyKind.off_limits, None
    else:
        xml, client_id, kind = _answer(session, phone_e164, arrival, sender_hash, now)
    if not sid and kind in (ReplyKind.keyword, ReplyKind.notice):
        # Their caps count recorded texts: without a MessageSid nothing is recorded.
        xml = messaging_twiml(None)
    if sid:
        session.add(InboundMessage(message_sid=sid, client_id=client_id, received_at=now, reply_twiml=xml,
                                   reply_kind=kind, sender_hash=sender_hash))
    return xml


def run_committed(session: Session, work: Callable[[], T], *, is_idempotent: bool = False) -> T:
    """``work()``, then commit. When the database connection is lost before the commit,
    nothing changed: roll back and do it all once more on a fresh connection (the pool
    throws the dead one away). A commit lost on the way may have gone through, so it is
    tried again only when ``work`` is idempotent. Whatever else fails is raised, with the
    session left for the caller to roll back."""
    committing = False

    def attempt() -> T:
        nonlocal committing
        committing = False
        result = work()
        committing = True
        session.commit()
        return result

    try:
        return attempt()
    except Exception as error:
        if not is_connection_lost(error) or (committing and not is_idempotent):
            raise
        log.warning("a webhook lost its database connection (%s); trying once more", type(error).__name__)
        session.rollback()
        session.close()
    return attempt()


def _apology(session: Session, phone_e164: str) -> str:
    """"Please try again", in her language when she can still be found."""
    try:
        client = find_client(session, phone_e164)
        language = client.language_code if client is not None else None
    except Exception:
        session.rollback()
        language = None
    rules = current_app.extensions["linja.rules"]
    text = render_replies([Reply("try_again")], language, tz=rules.tz, address="")
    return messaging_twiml(text)


def _answer(session: Session, phone_e164: str, arrival: Arrival, sender_hash: str, now: datetime
            ) -> tuple[str, int | None, ReplyKind]:
    """What this text gets, within the limits (hotline.abuse): TwiML, her client id, and why."""
    idle = timedelta(minutes=current_app.config["SMS_IDLE_MINUTES"])
    client = arrival.client
    limit = abuse.reply_limit_reached(session, client, sender_hash, now, idle, arrival.counts)
    if limit is None:
        xml, client_id = _converse(session, phone_e164, client, now, arrival.conversation)
        return xml, client_id, ReplyKind.answered
    silenced = ReplyKind.over_own_limit if limit == abuse.OWN else ReplyKind.over_line_limit
    if _takes_effect_past_limits(client, request.form.get("Body", ""), limit):
        # STOP, START, DELETE and HELP take effect whatever the limits (as Twilio's own
        # block lifts on START, or YES after STOP, texts must come back on here too);
        # their confirmations have a cap of their own, so they cannot be used to flood.
        xml, client_id = _converse(session, phone_e164, client, now, arrival.conversation)
        if "<Message" in xml and abuse.may_confirm_keyword(session, sender_hash, now):
            return xml, client_id, ReplyKind.keyword
        return messaging_twiml(None), client_id, silenced
    client_id = client.id if client is not None else None
    if limit == abuse.OWN and client is not None and not client.is_opted_out \
            and abuse.is_notice_due(session, sender_hash):
        rules = current_app.extensions["linja.rules"]
        text = render_replies([Reply("over_limit", {"time": abuse.resume_at(session, sender_hash, now)})],
                              client.language_code, tz=rules.tz, address="")
        return messaging_twiml(text), client_id, ReplyKind.notice
    return messaging_twiml(None), client_id, silenced


def _takes_effect_past_limits(client: Client | None, body: str, limit: str) -> bool:
    words = kw.normalise(body)
    if words in kw.STOP | kw.DELETE | kw.START:
        return True
    if words in kw.HELP:
        # HELP changes nothing: past the line's limit (a flood of many numbers) only a
        # caller the centre knows is helped, so HELP cannot become a flood's way in.
        return limit == abuse.OWN or client is not None
    return words in kw.YES and client is not None and client.is_opted_out


def _converse(session: Session, phone_e164: str, client: Client | None, now: datetime,
              row: Conversation | None = None) -> tuple[str, int | None]:
    """``row``: her dialogue, if _arrival read (and locked) it."""
    config = current_app.config
    rules = current_app.extensions["linja.rules"]
    # None: _handle_text looked for her in this transaction and found no one.
    is_new = client is None
    client = client or create_client(session, phone_e164, now)
    client_id = client.id
    if row is None and not is_new:
        # Two texts from her at once are handled one after the other, not both from the same state.
        row = session.get(Conversation, client.id, with_for_update=True)
        if row is not None:
            # Written by another of her texts since _arrival read her: read her again, as
            # that text left her (her language, STOP, her code word).
            session.refresh(client)
    state = kept(row.state, row.data, client.language_code, row.updated_at) if row else \
        State(language=client.language_code)
    was_opted_out = client.is_opted_out
    desk = DatabaseDesk(session, client, now, rules)
    ctx = Context(
        now=now, desk=desk, is_opted_out=was_opted_out,
        idle_timeout=timedelta(minutes=config["SMS_IDLE_MINUTES"]),
        offer_counts=lambda code: (
            offers_per_text(code, config["TZ_NAME"]), offers_per_text(code, config["TZ_NAME"], after_taken=True)
        ),
    )
    body = request.form.get("Body", "")
    has_media = _int(request.form.get("NumMedia")) > 0
    step = advance(state, Inbound(body, has_media), ctx)

    erased = client not in session
    if erased:
        client_id = None
    else:
        if row is None:
            row = Conversation(client_id=client.id, state=step.state.name, data=step.state.data, updated_at=now)
            session.add(row)
        row.state, row.data, row.updated_at = step.state.name, step.state.data, now
    text = render_replies(step.replies, step.state.language, tz=rules.tz, address=config["CENTRE_ADDRESS"])
    if was_opted_out and not step.replies:
        text = None
    session.flush()
    return messaging_twiml(text), client_id


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


@bp.post("/sms/status")
@twilio_signed
def sms_status():
    """Twilio's delivery reports for the texts Linja sent."""
    sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "")[:MAX_SID_LENGTH]
    status = request.form.get("MessageStatus") or request.form.get("SmsStatus") or ""
    session = db()
    try:
        # Recording a status twice records the same thing: safe to try again.
        run_committed(session, lambda: record_provider_status(
            session, sid, status, request.form.get("ErrorCode"), current_app.extensions["linja.clock"].now()),
            is_idempotent=True)
    except Exception:
        # Nobody listens to this answer; Twilio only needs one that is not an error.
        log.exception("SMS status callback failed")
        session.rollback()
        return twiml(messaging_twiml(None))
    return Response(status=204)


# --- the voice line ------------------------------------------------------------------------------

# The steps her keys are posted to: the dialogue's menus, and a hidden number's own menu.
VOICE_STEPS = {"input", "hidden"}
# The steps of the voice line before one dialogue ran both lines: a call answered before
# the deploy still posts her keys to them, and must not hear Twilio's application error.
OLD_VOICE_STEPS = {"language", "main", "service", "slot", "confirm", "appointment", "cancel", "reminder-answer",
                   "code", "code-new", "code-repeat"}


def _line(door: abuse.CallerAtTheDoor | None = None) -> Line:
    rules = current_app.extensions["linja.rules"]
    return Line(
        session=db(), now=current_app.extensions["linja.clock"].now(), rules=rules,
        url=lambda step, **query: url_for("hotline.voice_step", step=step, **query),
        recording_url=lambda token: url_for("hotline.recording", token=token),
        call_sid=(request.form.get("CallSid") or "")[:64], caller=request.form.get("From") or "",
        centre_number=request.form.get("To") or "", door=door,
    )


def voice_twiml(response) -> Response:
    return Response(str(response), mimetype="text/xml")


def _voice(handler, door: abuse.CallerAtTheDoor | None = None) -> Response:
    """Run a voice step; whatever breaks, she hears a kind goodbye, never an error."""
    session = db()
    try:
        def step() -> VoiceResponse:
            line = _line(door)  # afresh for each try: it remembers what it read
            if not line.call_sid:
                response = VoiceResponse()
                response.hangup()
                return response
            return handler(line)
        return voice_twiml(run_committed(session, step))
    except Exception:
        log.exception("voice webhook failed")
        session.rollback()
        return voice_twiml(voice_apology(session))


def voice_apology(session: Session) -> VoiceResponse:
    """"Please try again" and goodbye: in her language when it is known and can be
    spoken, else in Norwegian and English."""
    language = None
    call_sid = (request.form.get("CallSid") or "")[:64]
    phone = parse_phone(request.form.get("From"), current_app.config["DEFAULT_PHONE_REGION"])
    for look_up in (lambda: session.get(Call, call_sid) if call_sid else None,
                    lambda: find_client(session, phone.e164) if phone.is_valid else None):
        try:
            found = look_up()
        except Exception:
            session.rollback()
            continue
        language = found.language_code if found is not None else None
        if language:
            break
    response = VoiceResponse()
    for code in ([language] if voices.voice(language) is not None else list(voices.FALLBACK_VOICES)):
        name, spoken = voices.voice(code)
        response.say(render("try_again", code), voice=name, language=spoken)
    response.hangup()
    return response


@bp.post("/voice")
@twilio_signed
def voice():
    """Twilio's incoming-call webhook."""
    phone = parse_phone(request.form.get("From"), current_app.config["DEFAULT_PHONE_REGION"])
    door = abuse.refuse_flooding_call(db(), phone.e164, (request.form.get("CallSid") or "")[:64],
                                      current_app.extensions["linja.clock"].now())
    if door.refused is not None:
        return voice_twiml(door.refused)
    return _voice(incoming, door)


@bp.post("/voice/<step>")
@twilio_signed
def voice_step(step: str):
    if step == "status":
        def ended(line: Line) -> VoiceResponse:
            status = request.form.get("CallStatus") or ""
            call_ended(line, status)
            record_call_outcome(line.session, line.call_sid, status, request.form.get("AnsweredBy"), line.now)
            return VoiceResponse()
        return _voice(ended)
    if step == "bridge":
        return _voice(lambda line: abuse.refuse_bridge(line.session, _int(request.args.get("request")) or None)
                      or bridge(line, _int(request.args.get("request")) or None))
    if step == "reminder":
        return _voice(lambda line: reminder_call(line, _int(request.args.get("message")) or None,
                                                 request.form.get("AnsweredBy") or ""))
    if step == "after-dial":
        return _voice(lambda line: after_dial(line, request.form.get("DialCallStatus") or ""))
    if step == "recorded":
        return _voice(lambda line: line.save_voicemail(request.form.get("RecordingUrl") or "",
                                                      request.form.get("RecordingDuration")))
    if step == "hidden":
        return _voice(lambda line: line.hidden_answer(request.form.get("Digits") or ""))
    if step in OLD_VOICE_STEPS:
        return _voice(lambda line: line.resume())
    if step == "input":
        # Her keys for the menu of this turn (a late retry of an earlier one changes nothing).
        return _voice(lambda line: line.press(request.form.get("Digits") or "", _int(request.args.get("turn"))))
    abort(404)


# --- the studio line: staff record the prompts (hotline.studio) ---------------------------------


def _studio(handler: Callable[[Studio], VoiceResponse | None]) -> Response:
    """Run a studio step; whatever breaks, she hears a short apology, never an error."""
    session = db()
    config = current_app.config
    try:
        def step() -> VoiceResponse:
            studio = Studio(session=session, now=current_app.extensions["linja.clock"].now(),
                            secret_key=config["SECRET_KEY"], account_sid=config["TWILIO_ACCOUNT_SID"] or "",
                            url=lambda name, **query: url_for("hotline.studio_step", step=name, **query),
                            call_sid=(request.form.get("CallSid") or "")[:64], caller=request.form.get("From") or "")
            if not studio.call_sid:
                response = VoiceResponse()
                response.hangup()
                return response
            return handler(studio) or VoiceResponse()
        return voice_twiml(run_committed(session, step))
    except Exception:
        log.exception("studio webhook failed")
        session.rollback()
        response = VoiceResponse()
        Studio.say(response, "Beklager, noe gikk galt. Ring igjen.")
        response.hangup()
        return voice_twiml(response)


@bp.post("/studio")
@twilio_signed
def studio():
    """The studio number's incoming-call webhook."""
    return _studio(lambda studio: studio.answer())


@bp.post("/studio/<step>")
@twilio_signed
def studio_step(step: str):
    form, key = request.form, (request.args.get("key") or "")[:80]
    steps = {
        "pin": lambda studio: studio.pin(form.get("Digits") or ""),
        "language": lambda studio: studio.language(form.get("Digits") or ""),
        "recorded": lambda studio: studio.recorded(key, form.get("RecordingSid") or "", form.get("RecordingUrl") or "",
                                                   form.get("RecordingDuration") or ""),
        "choice": lambda studio: studio.choice(key, form.get("Digits") or ""),
        "take-ready": lambda studio: studio.take_ready(key, form.get("RecordingSid") or "",
                                                       form.get("RecordingStatus") or ""),
    }
    if step not in steps:
        abort(404)
    return _studio(steps[step])


@bp.get("/recordings/<token>")
def recording(token: str):
    """A prompt recording for Twilio's <Play>; the unguessable token is its only key."""
    session = db()
    try:
        row = run_committed(session, lambda: session.scalars(
            select(PromptRecording).where(PromptRecording.token == token[:64])).first(), is_idempotent=True)
    except Exception:
        # Not an error page: Twilio may ask again, and nothing is cached meanwhile.
        log.exception("prompt recording not read")
        session.rollback()
        return Response(status=503, headers={"Retry-After": "5", "Cache-Control": "no-store"})
    if row is None:
        abort(404)
    return Response(row.audio, mimetype=row.content_type, headers={"Cache-Control": "public, max-age=86400"})


@bp.errorhandler(SQLAlchemyError)
def database_error(error: SQLAlchemyError) -> Response:
    """A database error the views did not catch themselves: Twilio still gets TwiML, and
    she is asked, kindly, to try again."""
    log.error("webhook failed on the database", exc_info=error)
    db().rollback()
    if request.path.startswith("/hotline/voice"):
        return voice_twiml(voice_apology(db()))
    phone = parse_phone(request.form.get("From"), current_app.config["DEFAULT_PHONE_REGION"])
    return twiml(_apology(db(), phone.e164) if phone.is_valid else messaging_twiml(None))
