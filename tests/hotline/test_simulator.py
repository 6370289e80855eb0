"""The phone simulator's API and the `flask phone` command."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app import create_app
from scheduling.clock import TravelClock
from tests.hotline.test_sms_flows import say
from tests.conftest import NOW


@pytest.fixture
def sim(database_url, sessions):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
                      "CLOCK": TravelClock(NOW), "SMS_PER_SECOND": 0})
    yield app
    app.extensions["linja.engine"].dispose()


def text(client, number, body):
    response = client.post("/simulator/api/sms", json={"from": number, "body": body})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["replies"]


def test_texting_from_the_simulator_goes_through_the_signed_webhook(sim, centre):
    client = sim.test_client()
    assert client.get("/simulator/").status_code == 200
    [menu] = text(client, "+47 912 34 567", "hi")
    assert menu.startswith("1 Norsk")
    assert text(client, "91234567", "4") == [say("main_menu", "so")]
    thread = client.get("/simulator/api/thread?number=%2B4791234567").get_json()
    assert [(m["direction"], m["text"][:7]) for m in thread["messages"]] == [
        ("sent", "hi"), ("received", "1 Norsk"), ("sent", "4"), ("received", say("main_menu", "so")[:7])]


def test_a_reminder_arrives_on_the_simulated_phone_after_time_travel(sim, centre):
    client = sim.test_client()
    for body in ["hi", "4", "1", "1", "1", "1"]:
        replies = text(client, "+4791234567", body)
    assert replies[0].startswith(say("booked", "so", when=NOW).split(":")[0])
    # Booked for 10:30 today; the 2 h reminder falls due at 08:30. One hour later:
    moved = client.post("/simulator/api/clock", json={"minutes": 60})
    assert moved.status_code == 200
    assert sim.extensions["linja.clock"].now() >= NOW + timedelta(hours=1)
    thread = client.get("/simulator/api/thread?number=%2B4791234567").get_json()["messages"]
    assert thread[-1]["direction"] == "received" and thread[-1]["text"].startswith("Xusuusin")


def test_the_simulator_refuses_bad_input_kindly(sim):
    client = sim.test_client()
    refused = client.post("/simulator/api/sms", json={"from": "hello", "body": "hi"})
    assert refused.status_code == 400 and "phone number" in refused.get_json()["error"]
    assert client.post("/simulator/api/sms", data={"from": "+4791234567"}).status_code == 415
    assert client.post("/simulator/api/clock", json={"minutes": -5}).status_code == 400
    assert client.post("/simulator/api/clock", json={"minutes": "a day"}).status_code == 400


def test_no_simulator_in_production_or_with_twilio_configured(database_url, sessions):
    for config in ({"IS_PRODUCTION": True, "TWILIO_AUTH_TOKEN": "t"}, {"TWILIO_ACCOUNT_SID": "AC123"}):
        app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", **config})
        assert app.test_client().get("/simulator/").status_code == 404
        app.extensions["linja.engine"].dispose()


def test_the_phone_command_texts_linja(runner, centre):
    result = runner.invoke(args=["phone", "sms", "+4791234567", "hi"])
    assert result.exit_code == 0 and result.output.startswith("1 Norsk")
    result = runner.invoke(args=["phone", "sms", "+4791234567", "3"])
    assert result.output.strip() == say("main_menu", "ar")
    assert runner.invoke(args=["phone", "sms", "nonsense", "hi"]).exit_code != 0


def test_calling_from_the_simulator_reads_the_voice_line_and_presses_keys(sim, centre):
    client = sim.test_client()
    started = client.post("/simulator/api/call", json={"from": "+4791234567"}).get_json()
    assert started["waiting_for"] == "keys" and not started["ended"]
    assert any(item["text"] == "For English, press 2." and item["language"] == "en-GB" for item in started["heard"])
    menu = client.post(f"/simulator/api/call/{started['id']}/press", json={"digits": "2"}).get_json()
    assert menu["heard"][0]["text"].startswith("To book a time, press 1.")
    assert client.post(f"/simulator/api/call/{started['id']}/press", json={"digits": "x"}).status_code == 400
    assert client.post(f"/simulator/api/call/{started['id']}/message").status_code == 409  # not recording
    silent = client.post(f"/simulator/api/call/{started['id']}/silence").get_json()
    assert silent["heard"][0]["text"] == "I did not hear a key."
    client.post(f"/simulator/api/call/{started['id']}/hangup")
    assert client.post("/simulator/api/call/nonsense/press", json={"digits": "1"}).status_code == 404


def test_the_phone_command_calls_linja_with_a_keypad_in_the_terminal(runner, centre):
    result = runner.invoke(args=["phone", "call", "+4791234567"], input="2\n3\nq\n")
    assert result.exit_code == 0, result.output
    assert "[en-GB] For English, press 2." in result.output
    assert "To book a time, press 1." in result.output
    assert "Call ended." in result.output



def test_a_call_from_a_hidden_number_goes_on_without_an_error_on_the_page(sim, centre):
    client = sim.test_client()

    def the_page_looks_at_the_thread():  # as it does every two seconds, during a call too
        thread = client.get("/simulator/api/thread?number=anonymous")
        assert thread.status_code == 200, thread.get_data(as_text=True)
        assert thread.get_json()["messages"] == []  # nothing is texted to a hidden number

    started = client.post("/simulator/api/call", json={"from": "anonymous"}).get_json()
    assert started["waiting_for"] == "keys" and not started["ended"]
    assert started["heard"][0]["text"].startswith("Nummeret ditt er skjult")
    the_page_looks_at_the_thread()
    recording = client.post(f"/simulator/api/call/{started['id']}/press", json={"digits": "6"}).get_json()
    assert recording["waiting_for"] == "message"
    the_page_looks_at_the_thread()
    client.post(f"/simulator/api/call/{started['id']}/message")
    the_page_looks_at_the_thread()
    # Texting from a hidden number is refused with a reason the page can show.
    refused = client.post("/simulator/api/sms", json={"from": "Anonymous", "body": "hi"})
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith("A hidden number cannot text")


def test_a_studio_session_in_the_simulator_gives_a_take_that_waits_for_approval(sim, centre, make, db_session):
    from sqlalchemy import select

    from hotline import studio as studio_line
    from scheduling.models import StaffRole, StudioTake, TakeStatus
    from tests.conftest import fresh
    from tests.hotline.test_studio import wav
    from web.worker import make_worker

    staff = make.counselor(languages=["ti", "nb"], role=StaffRole.recorder, name="Tolk")
    pin = studio_line.new_pin(db_session, staff, sim.config["SECRET_KEY"])
    db_session.commit()
    client = sim.test_client()
    started = client.post("/simulator/api/call", json={"from": "+4795550001", "line": "studio"}).get_json()
    assert started["line"] == "studio" and started["waiting_for"] == "keys"
    assert "PIN" in " ".join(item["text"] for item in started["heard"])
    call_id = started["id"]
    assert started["keys"] == {"digits": None, "finish": "#"}  # the page gathers the PIN until #
    at_record = client.post(f"/simulator/api/call/{call_id}/press", json={"digits": pin}).get_json()
    assert at_record["waiting_for"] == "message" and at_record["heard"][-1]["kind"] == "record"

    # What is not a WAV or MP3, or too large, or not posted as audio, is refused with a reason.
    refused = client.post(f"/simulator/api/call/{call_id}/take", data=b"<html>", content_type="audio/wav")
    assert refused.status_code == 400 and "WAV or MP3" in refused.get_json()["error"]
    assert client.post(f"/simulator/api/call/{call_id}/take", data={"audio": wav()}).status_code == 415
    too_large = client.post(f"/simulator/api/call/{call_id}/take", data=b"RIFF" + b"\0" * (5 * 1024 * 1024),
                            content_type="audio/wav")
    assert too_large.status_code == 413

    audio = wav(1.5)
    played = client.post(f"/simulator/api/call/{call_id}/take", data=audio, content_type="audio/wav").get_json()
    assert played["heard"][0]["text"] == "Du sa:"
    take_url = played["heard"][1]["audio"]
    assert played["heard"][1]["kind"] == "play" and take_url.startswith("/simulator/api/take/RE")
    assert played["keys"] == {"digits": 1, "finish": ""}
    back = client.get(take_url)
    assert back.status_code == 200 and back.mimetype == "audio/wav" and back.data == audio
    sid = take_url.rsplit("/", 1)[-1]
    assert studio_line.SID.fullmatch(sid)
    kept = client.post(f"/simulator/api/call/{call_id}/press", json={"digits": "1"}).get_json()
    assert kept["waiting_for"] == "message"  # the next piece
    client.post(f"/simulator/api/call/{call_id}/hangup")

    # No Twilio here: the worker takes the kept take from the simulator's memory.
    assert getattr(sim.extensions["linja.sender"], "client", None) is None
    make_worker(sim).tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    assert (take.recording_sid, take.status, take.audio, take.content_type, take.language_code) == (
        sid, TakeStatus.waiting, audio, "audio/wav", "ti")
    assert take.prompt_key == "v_language_option#0"
    assert sim.extensions["linja.simulator.takes"].sids() == []
    assert client.get(take_url).data == audio  # still heard on the page, from the take itself
