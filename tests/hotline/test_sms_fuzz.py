"""Whatever a caller sends, in whatever state she is, the answer is well-formed TwiML."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hotline.conversation import Reply
from hotline.replies import render_replies
from hotline.segments import segments
from scheduling.clients import find_client
from scheduling.models import Appointment, Client, Conversation
from tests.conftest import fresh
from tests.hotline.test_sms_flows import MENU_NUMBER
from tests.hotline.twilio_client import Phone

NUMBER = "+4791234567"

# How to reach each state of the dialogue from a first text.
RECIPES = {
    "new": [],
    "language": ["hi"],
    "main": ["hi", "4"],
    "service": ["hi", "4", "1"],
    "slot": ["hi", "4", "1", "1"],
    "confirm": ["hi", "4", "1", "1", "1"],
    "appointment": ["hi", "4", "1", "1", "1", "1", "2"],
    "cancel": ["hi", "4", "1", "1", "1", "1", "2", "1"],
    "move_slot": ["hi", "4", "1", "1", "1", "1", "2", "2"],
    "move_confirm": ["hi", "4", "1", "1", "1", "1", "2", "2", "3"],
    "reminder": ["hi", "4", "1", "1", "1", "1"],
    "opted_out": ["hi", "4", "STOP"],
    "code_new": ["hi", "4", "6"],
    "code_repeat": ["hi", "4", "6", "1234"],
    "code": ["hi", "4", "6", "1234", "1234", "6"],  # changing it asks for the old one
}

bodies = st.one_of(
    st.text(max_size=1600),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.sampled_from([
        "", " ", "1", "٣", "۹", "9", "0", "00", "-1", "1e9", "99999999999999999999", "haa", "نعم", "ኣወ",
        "STOP", "START", "HELP", "SLETT", "MENY", "\x00", "\u202e1", "🙈🙉", "<Response/>", "&amp;",
        "'; DROP TABLE clients; --", "\r\n\t", "a" * 1600, "مرحبا " * 200,
    ]),
)


# The apology Linja sends when something broke inside: a fuzz run must never see it.
APOLOGIES = {render_replies([Reply("try_again")], language, tz=ZoneInfo("Europe/Oslo"), address="")
             for language in [None, *MENU_NUMBER]}


def well_formed(xml: str) -> None:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    for message in root:
        assert message.text not in APOLOGIES, "the webhook failed inside"
        assert segments(message.text or "") <= 2


@pytest.mark.parametrize("state", list(RECIPES))
def test_any_body_in_any_state_gets_well_formed_twiml(app, client, centre, db_session, state):
    # Every example must reach the dialogue, not the silence a flooding number gets.
    app.config.update(REPLIES_PER_NUMBER_PER_HOUR=100_000, REPLIES_PER_MINUTE=100_000)
    phone = Phone(client, app, NUMBER)
    for body in RECIPES[state]:
        phone.text(body)
    fresh(db_session)
    snapshot = None
    caller = find_client(db_session, NUMBER)
    if caller is not None:
        row = db_session.get(Conversation, caller.id)
        if state == "reminder":
            appointment = db_session.scalars(select(Appointment)).one()
            row.state = "reminder"
            row.data = {"appointment": appointment.id, "when": appointment.start_at.isoformat(),
                        "service": appointment.service_id}
            db_session.commit()
        snapshot = (caller.language_code, caller.is_opted_out, row.state, dict(row.data))

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=bodies, media=st.sampled_from(["0", "1", "", "x"]))
    def check(body, media):
        if snapshot is not None:
            _restore(db_session, snapshot)
        response = phone.post("/hotline/sms", phone.sms_params(body, NumMedia=media))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/xml"
        well_formed(response.get_data(as_text=True))

    check()


def _restore(db_session, snapshot) -> None:
    language, opted_out, state, data = snapshot
    fresh(db_session)
    caller = find_client(db_session, NUMBER)
    if caller is None:  # a random body said DELETE
        from tests.conftest import NOW

        caller = Client(phone_e164=NUMBER, created_at=NOW, is_opted_out=False)
        db_session.add(caller)
        db_session.flush()
    caller.language_code, caller.is_opted_out = language, opted_out
    row = db_session.get(Conversation, caller.id)
    if row is None:
        from tests.conftest import NOW

        row = Conversation(client_id=caller.id, state=state, data=data, updated_at=NOW)
        db_session.add(row)
    row.state, row.data = state, dict(data)
    db_session.commit()
