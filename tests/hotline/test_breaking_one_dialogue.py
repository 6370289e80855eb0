"""Trying to break the one dialogue on the voice line: a call that began before the
deploy, a call whose saved state is damaged, a key press that arrives after Twilio said
the call ended. Each answer is TwiML she can follow, and nothing is lost or left held."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from hotline.phone import SimulatedPhone, WsgiTransport, call
from scheduling.models import Appointment, Call, SlotHold
from tests.conftest import fresh
from tests.hotline.test_voice import CheckedTransport, spoken

NUMBER = "+4791234567"
APOLOGY = "Sorry, something went wrong"


def calls(app):
    return call(SimulatedPhone(CheckedTransport(app), NUMBER, app.config["PUBLIC_BASE_URL"],
                               app.config["TWILIO_AUTH_TOKEN"]))


def set_call_data(db_session, sid: str, data) -> None:
    session = fresh(db_session)
    session.execute(update(Call).where(Call.call_sid == sid).values(data=data))
    session.commit()


# The steps the voice line posted keys to before one dialogue ran both lines.
OLD_STEPS = ["language", "main", "service", "slot", "confirm", "appointment", "cancel", "reminder-answer",
             "code", "code-new", "code-repeat"]


@pytest.mark.parametrize("step", OLD_STEPS)
def test_a_call_answered_before_the_deploy_keeps_going_on_its_old_steps(app, centre, db_session, step):
    line = calls(app)
    line.press("2")  # English: her main menu
    # As a call that began before the deploy left it: its own steps, its own keys.
    set_call_data(db_session, line.sid, {"step": "confirm", "service": centre["talk"].id, "tries": 1,
                                         "offer": {"start_at": "2026-11-23T10:30:00+01:00", "counselor_id": 1}})
    heard = line._fetch(f"/hotline/voice/{step}?tries=1", line.params(Digits="1"))  # 200 and TwiML, or raises
    assert APOLOGY not in line.said()
    assert heard[0].text == spoken("v_main_menu", "en")  # where she can go on from
    assert line.waiting_for == "keys"
    assert fresh(db_session).scalars(select(Appointment)).all() == []  # nothing half-made from old data
    line.press("1")  # book
    assert spoken("v_service_option", "en", service=centre["talk"].name_in("en"), digit=1) in line.said()


@pytest.mark.parametrize("data", [
    "garbage", [1, 2], {"turn": "x"}, {"tries": "x"}, {"dialogue": "x"}, {"dialogue": {"name": "main", "data": "x"}},
    {"dialogue": {"name": "confirm", "data": {}}, "turn": 3},
    {"dialogue": {"name": "slot", "data": {"offers": "x"}}, "turn": 3},
    {"dialogue": {"name": "appointment", "data": {"when": "not a time"}}, "turn": 3},
], ids=repr)
def test_a_call_whose_saved_state_is_damaged_gets_her_menu_not_an_apology(app, centre, db_session, data):
    line = calls(app)
    line.press("2")  # English
    set_call_data(db_session, line.sid, data)
    turn = data.get("turn", 0) if isinstance(data, dict) else 0
    line._fetch(f"/hotline/voice/input?turn={turn}", line.params(Digits="1"))
    assert APOLOGY not in line.said()
    assert line.waiting_for == "keys"  # the call goes on
    line.press("1")
    assert APOLOGY not in line.said()
    assert fresh(db_session).scalars(select(Appointment)).all() == []


def test_a_time_chosen_as_the_call_ended_is_not_left_held_for_the_ended_call(app, centre, db_session):
    line = calls(app)
    line.press("2")  # English
    line.press("1")  # book
    line.press("1")  # a talk: the free times
    action = line._waiting.get("action")
    # She pressed 1 and hung up: Twilio's status callback is handled before her key.
    line.phone.post("/hotline/voice/status", line.params(CallStatus="completed", CallDuration="30"))
    line._fetch(action, line.params(Digits="1"))
    assert fresh(db_session).scalars(select(SlotHold)).all() == []  # nobody is left to confirm it
    assert fresh(db_session).scalars(select(Appointment)).all() == []


def section(page: str, name: str) -> str:
    return page.split(f"## `{name}`")[1].split("\n## ")[0]


def test_the_readable_dialogue_says_what_a_call_says_where_she_is_asked_to_confirm():
    from hotline import dialogue_doc
    from hotline.prompts import VOICE_TEXTS

    page = dialogue_doc.describe()
    for name, key in (("confirm", "v_confirm"), ("move_confirm", "v_confirm_move")):
        heard = section(page, name).split("On a call she hears: ")[1].split("\n")[0]
        assert VOICE_TEXTS[key].msgid in heard, (name, heard)
    for name in ("slot", "move_slot"):
        heard = section(page, name).split("On a call she hears: ")[1].split("\n")[0]
        assert VOICE_TEXTS["v_slots_intro"].msgid in heard and VOICE_TEXTS["v_later"].msgid in heard, heard
    # Somali has no voice: its option is said in English, not "in Somali".
    assert "in Somali" not in section(page, "language")


def test_the_same_key_posted_twice_at_once_is_answered_once(app, centre, db_session, database_url):
    """Twilio retries a key press whose answer was slow while the first is still being
    answered: the two are answered one after the other, the second as the late retry it is
    (her menu again), so the one "yes" books once and the caller hears one outcome."""
    import threading

    line = calls(app)
    for key in "2111":  # English; book; a talk; the first time: asked to confirm
        line.press(key)
    action = line._waiting.get("action")
    params = line.params(Digits="1", FinishedOnKey="")
    barrier = threading.Barrier(2, timeout=30)
    answers: list[str] = []

    def press() -> None:
        barrier.wait()
        status, body = line.phone.post(action, params)
        answers.append(body if status == 200 else f"HTTP {status}")

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    [booked] = fresh(db_session).scalars(select(Appointment)).all()
    assert sum(spoken("v_booked_text", "en", when=booked.start_at) in answer for answer in answers) == 1
    assert not any(APOLOGY in answer or "taken" in answer for answer in answers), answers
    assert fresh(db_session).get(Call, line.sid).data["turn"] == 6  # the call, English, book, talk, time, yes


@pytest.mark.parametrize("state, data", [("confirm", {}), ("slot", {"offers": "x"}), ("appointment", {"when": 5}),
                                         ("nowhere", {}), ("cancel", ["not", "a", "dict"])])
def test_a_text_conversation_whose_saved_state_is_damaged_starts_her_again(app, client, centre, db_session,
                                                                            state, data):
    from scheduling.clients import find_client
    from scheduling.models import Conversation
    from tests.hotline.test_sms_flows import say
    from tests.hotline.twilio_client import Phone

    texts = Phone(client, app, NUMBER)
    texts.text("hi")
    texts.text("2")  # English
    session = fresh(db_session)
    her = find_client(session, NUMBER)
    session.execute(update(Conversation).where(Conversation.client_id == her.id).values(state=state, data=data))
    session.commit()
    assert texts.text("9") == say("main_menu", "en")  # "9 the menu again", from her main menu
    assert texts.text("1") == say("choose_service", "en", services=["Samtale", "Familie"])
