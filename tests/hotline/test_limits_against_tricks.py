"""Tricks that must not get answers past the reply limits: erasing herself to start her
count again, a keyword from many unknown numbers during a flood, a limit set to 0."""
from __future__ import annotations

from sqlalchemy import func, select

from scheduling.models import Client, InboundMessage, ReplyKind
from tests.conftest import fresh
from tests.hotline.twilio_client import Phone

LINE_LIMIT = 5


def _flood(app, client, clock, numbers, first=0, body="hei"):
    out = []
    for n in range(first, first + numbers):
        out.append(Phone(client, app, f"+479300{n:04d}").text(body))
    return out


def test_erasing_herself_does_not_start_her_own_limit_again(app, client, centre, clock, db_session):
    """REPLIES_PER_NUMBER_PER_HOUR=3; one number alternates 3 texts and SLETT, all in one minute."""
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 3
    phone = Phone(client, app, "+4791234567")
    answered = 0
    for _ in range(10):
        for _ in range(3):
            if phone.text("hei"):
                answered += 1
        phone.text("SLETT")  # past her limit: takes effect, erases her client and its inbound rows
    # Expected: at most 3 ordinary answers (+1 notice, +1 keyword confirmation) this hour.
    assert answered <= 4, f"one number got {answered} answers in one hour with a limit of 3"


def test_help_from_many_unknown_numbers_past_the_line_limit_gets_no_answers(app, client, centre, clock, db_session):
    """Line over its limit; 40 numbers never seen before each text HELP (or STOP)."""
    app.config["REPLIES_PER_MINUTE"] = LINE_LIMIT
    _flood(app, client, clock, LINE_LIMIT)  # the line is now at its limit for this minute
    answers = _flood(app, client, clock, 40, first=1000, body="HELP")
    got = sum(1 for a in answers if a)
    fresh(db_session)
    clients = db_session.scalar(select(func.count()).select_from(Client))
    # Expected: the line sends at most REPLIES_PER_MINUTE texts a minute "against floods from unknown numbers".
    assert got == 0, f"{got} of 40 unknown numbers got a reply past the line limit ({clients} client rows created)"


def test_a_limit_of_zero_is_no_limit(app, client, centre, clock, db_session):
    """A newcomer sets REPLIES_PER_NUMBER_PER_HOUR=0 (SMS_PER_SECOND documents 0 as 'no limit')."""
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 0
    phone = Phone(client, app, "+4791234567")
    answers = [phone.text("hei") for _ in range(4)]
    fresh(db_session)
    kinds = db_session.scalars(select(InboundMessage.reply_kind)).all()
    assert all(a and "prøv igjen" not in a.lower() and "try again" not in a.lower() for a in answers), (answers, kinds)
    assert set(kinds) == {ReplyKind.answered}
