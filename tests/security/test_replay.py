"""A webhook Twilio sends twice (a retry, or someone replaying a captured request) does
nothing new: no second booking, no second text, the same answer."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from hotline.phone import SimulatedPhone, WsgiTransport, call
from scheduling.models import Appointment, AppointmentStatus, OutboxMessage
from tests.conftest import fresh
from tests.hotline.twilio_client import Phone
from tests.security.support import snapshot

NUMBER = "+4791234567"


def count(db_session, model) -> int:
    return fresh(db_session).scalar(select(func.count()).select_from(model))


def test_a_replayed_text_books_nothing_new_and_gets_the_same_answer(app, client, centre, db_session):
    phone = Phone(client, app, NUMBER)
    sids = [f"SM{n:032d}" for n in range(1, 7)]
    answers = [phone.text(body, sid=sid) for body, sid in zip(["hei", "4", "1", "1", "1", "1"], sids)]
    [booked] = fresh(db_session).scalars(select(Appointment)).all()
    assert booked.status == AppointmentStatus.booked
    before = snapshot(db_session)

    # Every text again, in order, then the confirmation once more on its own.
    again = [phone.text(body, sid=sid) for body, sid in zip(["hei", "4", "1", "1", "1", "1"], sids)]
    assert again == answers
    assert phone.text("1", sid=sids[-1]) == answers[-1]
    assert snapshot(db_session) == before


@dataclass
class Recorder:
    """Posts into the app and keeps every request, to send it again later."""

    app: object
    sent: list[tuple[str, dict, dict]] = field(default_factory=list)

    def post(self, path, params, headers):
        self.sent.append((path, dict(params), dict(headers)))
        return WsgiTransport(self.app).post(path, params, headers)


def test_a_replayed_voice_step_books_nothing_new_and_texts_nothing_new(app, centre, db_session):
    recorder = Recorder(app)
    phone = SimulatedPhone(recorder, NUMBER, app.config["PUBLIC_BASE_URL"], app.config["TWILIO_AUTH_TOKEN"])
    line = call(phone)
    for key in ("2", "1", "1", "1", "1"):  # English, book, first service, first time, yes
        line.press(key)
    assert count(db_session, Appointment) == 1
    texts = count(db_session, OutboxMessage)  # the confirmation, and a reminder
    assert texts >= 1
    before = snapshot(db_session)

    for path, params, headers in recorder.sent:  # the whole call, replayed
        status, _ = WsgiTransport(app).post(path, params, headers)
        assert status == 200
    confirm = recorder.sent[-1]  # her "yes"
    for _ in range(3):
        WsgiTransport(app).post(*confirm)

    assert count(db_session, Appointment) == 1
    assert count(db_session, OutboxMessage) == texts
    after = snapshot(db_session)
    # Only the call's own bookkeeping (when it was last touched) may move.
    assert {name: rows for name, rows in after.items() if name != "calls"} == \
        {name: rows for name, rows in before.items() if name != "calls"}


def test_a_replayed_delivery_report_changes_nothing_new(app, client, centre, make, db_session):
    from scheduling.models import OutboxStatus
    from tests.conftest import NOW

    caller = make.client(NUMBER)
    db_session.add(OutboxMessage(client_id=caller.id, kind="reminder", template="reminder", params={},
                                 language_code="nb", status=OutboxStatus.sent, due_at=NOW, attempts=1,
                                 created_at=NOW, updated_at=NOW, provider_sid="SM" + "a" * 32))
    db_session.commit()
    phone = Phone(client, app, NUMBER)
    report = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    assert phone.post("/hotline/sms/status", report).status_code == 204
    before = snapshot(db_session)
    assert phone.post("/hotline/sms/status", report).status_code == 204
    # A stale report replayed after it does not undo it either.
    assert phone.post("/hotline/sms/status", {**report, "MessageStatus": "sent"}).status_code == 204
    assert snapshot(db_session) == before
