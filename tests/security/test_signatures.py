"""Only Twilio may talk to /hotline: every webhook, without a signature, with a wrong one, or
with one made for another URL or other parameters, is refused and changes nothing."""
from __future__ import annotations

import pytest

from scheduling.models import CallbackRequest, Conversation, OutboxMessage, OutboxStatus
from tests.conftest import NOW, oslo
from tests.hotline.twilio_client import sign
from tests.security.support import snapshot, webhook_paths

NUMBER = "+4791234567"
PROVIDER_SID = "SM" + "f" * 32


@pytest.fixture
def world(centre, make, db_session):
    """A caller mid-conversation, with an appointment, a call-back request and a text out:
    something for every webhook to change, were it let in."""
    caller = make.client(NUMBER, language_code="so")
    db_session.add(Conversation(client_id=caller.id, state="main", data={}, updated_at=NOW))
    appointment = make.appointment(centre["counselors"]["so"], centre["talk"], oslo(2026, 11, 24, 10, 0),
                                   client=caller)
    request = CallbackRequest(client_id=caller.id, language_code="so", requested_via="sms", requested_at=NOW)
    db_session.add(request)
    db_session.add(OutboxMessage(
        client_id=caller.id, appointment_id=appointment.id, kind="reminder", template="reminder",
        params={"when": appointment.start_at.isoformat()}, language_code="so", status=OutboxStatus.sent,
        due_at=NOW, attempts=1, created_at=NOW, updated_at=NOW, provider_sid=PROVIDER_SID,
    ))
    db_session.commit()
    return {"caller": caller, "request": request}


def params_for_everything(world) -> dict:
    """Parameters that would make any webhook act: erase her, book, fail a text, end a call."""
    return {
        "AccountSid": "AC" + "0" * 32, "From": NUMBER, "To": "+4722000000", "Body": "SLETT",
        "MessageSid": PROVIDER_SID, "SmsSid": PROVIDER_SID, "MessageStatus": "failed", "ErrorCode": "30003",
        "CallSid": "CA" + "1" * 32, "CallStatus": "completed", "Digits": "1", "DialCallStatus": "no-answer",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/RE" + "0" * 32,
        "RecordingDuration": "12", "AnsweredBy": "human",
    }


def test_every_webhook_route_is_found(app):
    paths = webhook_paths(app)
    assert {"/hotline/sms", "/hotline/sms/status", "/hotline/voice", "/hotline/voice/status",
            "/hotline/voice/input", "/hotline/voice/hidden", "/hotline/voice/bridge"} <= set(paths)


def test_every_webhook_refuses_what_twilio_did_not_sign_and_changes_nothing(app, client, world, db_session):
    token = app.config["TWILIO_AUTH_TOKEN"]
    params = params_for_everything(world)
    query = f"request={world['request'].id}&message=1&tries=0"
    before = snapshot(db_session)
    for path in webhook_paths(app):
        url = f"https://linja.test{path}?{query}"
        other_path = "/hotline/voice/main" if path == "/hotline/sms" else "/hotline/sms"
        refused = {
            "no signature": None,
            "empty": "",
            "not base64": "%%%",
            "garbage": "bm90IGEgc2lnbmF0dXJl",
            "another token": sign("another-token", url, params),
            "another path": sign(token, f"https://linja.test{other_path}?{query}", params),
            "another host": sign(token, f"https://evil.example{path}?{query}", params),
            "another query": sign(token, f"https://linja.test{path}?request=999", params),
            "other parameters": sign(token, url, {**params, "Body": "hei"}),
            "no parameters": sign(token, url, {}),
        }
        for why, signature in refused.items():
            headers = {} if signature is None else {"X-Twilio-Signature": signature}
            response = client.post(f"{path}?{query}", data=params, headers=headers)
            assert response.status_code == 403, (path, why, response.status_code)
    assert snapshot(db_session) == before


def test_the_same_request_signed_is_let_in_and_acts(app, client, world, db_session):
    # The check above could pass by refusing everything: signed, the same text erases her.
    params = {**params_for_everything(world), "MessageSid": "SM" + "2" * 32}
    before = snapshot(db_session)
    url = "https://linja.test/hotline/sms"
    response = client.post("/hotline/sms", data=params,
                           headers={"X-Twilio-Signature": sign(app.config["TWILIO_AUTH_TOKEN"], url, params)})
    assert response.status_code == 200
    assert snapshot(db_session)["clients"] != before["clients"]


def test_a_get_or_other_method_is_not_a_way_in(app, client):
    for path in webhook_paths(app):
        for method in ("get", "put", "delete"):
            assert getattr(client, method)(path).status_code in (403, 405), (method, path)


@pytest.mark.parametrize("field", ["MessageSid", "From", "AccountSid"])
def test_a_signed_request_with_a_nul_character_is_refused_and_changes_nothing(app, client, world, db_session, field):
    # Twilio never sends one in an id or a number, and PostgreSQL cannot store one:
    # refused, never a 500. (A NUL in her words is answered: tests/security/test_injection.py.)
    params = {**params_for_everything(world), "MessageSid": "SM" + "3" * 32}
    params[field] = params[field][:4] + "\x00" + params[field][4:]
    before = snapshot(db_session)
    url = "https://linja.test/hotline/sms"
    response = client.post("/hotline/sms", data=params,
                           headers={"X-Twilio-Signature": sign(app.config["TWILIO_AUTH_TOKEN"], url, params)})
    assert response.status_code == 400
    assert snapshot(db_session) == before
