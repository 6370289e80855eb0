"""Trying to break the text's first look (hotline.webhooks._arrival) with bad luck: two
texts from one number at once, the same text delivered twice at once, a number Linja has
never seen texting twice at once. Each text gets its own answer, never "try again", and
each is recorded once."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from scheduling.models import Client, InboundMessage
from tests.conftest import fresh
from tests.hotline.twilio_client import Phone, messages

APOLOGY = "try again"


def at_once(app, number: str, texts: list[tuple[str, str]]) -> list[str]:
    """Each (body, MessageSid) posted from its own thread at the same moment."""
    barrier = threading.Barrier(len(texts), timeout=30)
    answers: dict[int, str] = {}

    def send(i: int, body: str, sid: str) -> None:
        phone = Phone(app.test_client(), app, number)
        params = phone.sms_params(body, sid)
        barrier.wait()
        response = phone.post("/hotline/sms", params)
        answers[i] = (response.get_data(as_text=True) if response.status_code == 200
                      else f"HTTP {response.status_code}")

    threads = [threading.Thread(target=send, args=(i, body, sid)) for i, (body, sid) in enumerate(texts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return [answers.get(i, "no answer") for i in range(len(texts))]


@pytest.mark.parametrize("round_", range(4))
def test_a_new_number_texting_twice_at_once_gets_two_answers_and_one_client(app, centre, db_session, round_):
    number = f"+479100{round_:04d}"
    answers = at_once(app, number, [("hi", f"SMnew{round_}a"), ("hello", f"SMnew{round_}b")])
    assert all("<Response>" in answer for answer in answers), answers
    assert not any(APOLOGY in " ".join(messages(answer)).lower() for answer in answers), answers
    session = fresh(db_session)
    assert session.scalar(select(func.count()).select_from(Client)) == 1
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 2


@pytest.mark.parametrize("known", [False, True])
def test_the_same_text_delivered_twice_at_once_is_answered_once_with_one_answer(app, client, centre, db_session,
                                                                                  known):
    number = "+4791234567"
    if known:
        Phone(client, app, number).text("hi")
        Phone(client, app, number).text("2")  # English: her main menu
    answers = at_once(app, number, [("1", "SMtwice"), ("1", "SMtwice")])
    assert answers[0] == answers[1], answers
    assert not any(APOLOGY in " ".join(messages(answer)).lower() for answer in answers), answers
    session = fresh(db_session)
    [recorded] = session.scalars(select(InboundMessage).where(InboundMessage.message_sid == "SMtwice")).all()
    assert recorded.reply_twiml == answers[0]


def words(answer: str) -> str:
    return "\n".join(messages(answer))


@pytest.mark.parametrize("round_", range(4))
def test_her_language_and_her_next_choice_at_once_are_answered_as_if_one_after_the_other(
        app, centre, db_session, round_):
    """At the language menu she texts "2" (English) and, at once, "1": whichever is handled
    second is answered from where the first left her, in the language she has then."""
    from tests.hotline.test_sms_flows import say

    number = f"+479200{round_:04d}"
    Phone(app.test_client(), app, number).text("hi")
    answers = [words(a) for a in at_once(app, number, [("2", f"SMlang{round_}"), ("1", f"SMnext{round_}")])]
    english_first = say("main_menu", "en") in answers[0]
    if english_first:  # then "1" books, in English: the services
        assert "What would you like to talk about?" in answers[1], answers
    else:  # "1" chose Norwegian first; "2" is then her appointment, in Norwegian
        assert answers[1] == say("main_menu", "nb"), answers
        assert "English" not in answers[0] and "Reply with" not in answers[0], answers
    session = fresh(db_session)
    from scheduling.clients import find_client
    assert find_client(session, number).language_code == ("en" if english_first else "nb")


@pytest.mark.parametrize("round_", range(8))
def test_two_texts_at_once_at_her_last_answer_of_the_hour_get_one_answer(app, centre, db_session, round_):
    """Her number's hourly limit holds when her texts come together: with one answer left,
    two texts at once get one answer between them (the other one, the notice or silence)."""
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 3
    number = f"+479300{round_:04d}"
    phone = Phone(app.test_client(), app, number)
    phone.text("hi")
    phone.text("2")  # English: her main menu; one answer left this hour
    answers = [words(a) for a in at_once(app, number, [("9", f"SMlast{round_}a"), ("9", f"SMlast{round_}b")])]
    assert sum("Reply with a number" in answer for answer in answers) == 1, answers


def calls_at_once(app, number: str, sids: list[str]) -> list[str]:
    barrier = threading.Barrier(len(sids), timeout=30)
    answers: dict[int, str] = {}

    def ring(i: int, sid: str) -> None:
        phone = Phone(app.test_client(), app, number)
        params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": number, "To": phone.to,
                  "CallStatus": "ringing", "Direction": "inbound"}
        barrier.wait()
        response = phone.post("/hotline/voice", params)
        answers[i] = (response.get_data(as_text=True) if response.status_code == 200
                      else f"HTTP {response.status_code}")

    threads = [threading.Thread(target=ring, args=(i, sid)) for i, sid in enumerate(sids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return [answers.get(i, "no answer") for i in range(len(sids))]


@pytest.mark.parametrize("known", [False, True])
@pytest.mark.parametrize("round_", range(3))
def test_twilio_asking_twice_at_once_about_a_new_call_gets_the_same_answer_twice(
        app, client, centre, db_session, make, known, round_):
    from scheduling.models import Call

    number = f"+479400{round_:04d}"
    if known:
        make.client(phone_e164=number, language_code="en")
        db_session.commit()
    sid = f"CA{round_:032d}"
    answers = calls_at_once(app, number, [sid, sid])
    assert all("<Gather" in answer for answer in answers), answers
    assert not any("went wrong" in answer.lower() or "try again" in answer.lower() for answer in answers), answers
    session = fresh(db_session)
    assert session.scalar(select(func.count()).select_from(Client)) == 1
    [call] = session.scalars(select(Call)).all()
    assert call.client_id is not None


@pytest.mark.parametrize("round_", range(3))
def test_a_caller_known_to_the_desk_with_no_dialogue_texting_twice_at_once_gets_two_answers(
        app, centre, make, db_session, round_):
    """Known (the desk booked for her, or she called) but never texted: her first two texts
    at once both create her dialogue's row; the one that comes second is answered from it."""
    number = f"+479500{round_:04d}"
    make.client(phone_e164=number, language_code="en")
    db_session.commit()
    answers = [words(a) for a in at_once(app, number, [("hi", f"SMdesk{round_}a"), ("4", f"SMdesk{round_}b")])]
    assert not any(APOLOGY in answer.lower() for answer in answers), answers
    assert fresh(db_session).scalar(select(func.count()).select_from(InboundMessage)) == 2
