"""One woman, two dialogues at once: she is choosing a time by text when she calls. What
each dialogue holds is its own; a call that ends lets go of the call's hold only."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.phone import SimulatedPhone, WsgiTransport, call
from scheduling.models import Appointment, SlotHold
from tests.conftest import fresh, oslo
from tests.hotline.test_sms_flows import say
from tests.hotline.twilio_client import Phone

NUMBER = "+4791234567"
FIRST = oslo(2026, 11, 23, 10, 30)  # the first time offered: an hour's talk and a quarter's buffer
AFTER_IT = oslo(2026, 11, 23, 12, 0)  # the first of the later times: clear of it


@pytest.fixture
def texts(app, client):
    return Phone(client, app, NUMBER)


def calls(app):
    return call(SimulatedPhone(WsgiTransport(app), NUMBER, app.config["PUBLIC_BASE_URL"],
                               app.config["TWILIO_AUTH_TOKEN"]))


def holds(db_session):
    return [(h.owner.split(":")[0], h.start_at)
            for h in fresh(db_session).scalars(select(SlotHold).order_by(SlotHold.start_at))]


def choose_the_first_time_by_text(texts):
    texts.text("hi")
    texts.text("2")  # English
    texts.text("1")  # book
    texts.text("1")  # a talk
    assert texts.text("1") == say("confirm_slot", "en", when=FIRST)


def test_a_call_that_ends_leaves_the_time_she_is_confirming_by_text(app, texts, centre, db_session):
    choose_the_first_time_by_text(texts)
    line = calls(app)  # she knows the number; she goes straight to her menu
    line.press("1")  # book
    line.press("1")  # a talk
    line.press("9")  # later times
    line.press("1")  # the first of them, held for the call
    assert holds(db_session) == [("sms", FIRST), ("call", AFTER_IT)]

    line.hang_up()
    assert holds(db_session) == [("sms", FIRST)]
    assert texts.text("yes") == say("booked", "en", when=FIRST)
    [booked] = fresh(db_session).scalars(select(Appointment)).all()
    assert booked.start_at == FIRST
    assert holds(db_session) == []


def test_choosing_in_her_call_the_time_she_holds_by_text_is_not_taken_from_her(app, texts, centre, db_session):
    choose_the_first_time_by_text(texts)
    line = calls(app)
    line.press("1")
    line.press("1")
    heard = " ".join(h.text for h in line.press("1"))  # the same first time
    assert "taken" not in heard and holds(db_session) == [("call", FIRST)]

    line.hang_up()  # the call let go of it; nobody else took it meanwhile
    assert texts.text("yes") == say("booked", "en", when=FIRST)
