"""A caller books through the simulator page, in Somali and in Arabic, and sees her confirmation."""
from __future__ import annotations

import pytest

from app import create_app
from scheduling.clock import TravelClock
from tests.conftest import NOW
from tests.hotline.test_sms_flows import MENU_NUMBER, say


@pytest.fixture
def page_url(database_url, sessions, centre, live_server):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": TravelClock(NOW),
                      "SMS_PER_SECOND": 0})
    yield live_server(app) + "/simulator/"
    app.extensions["linja.engine"].dispose()


def send(page, text):
    count = page.locator("#thread li").count()
    page.fill("#body", text)
    page.click("#send")
    # Her text and Linja's answer both appear in the thread.
    page.wait_for_function(f"document.querySelectorAll('#thread li').length >= {count + 2}")
    return page.locator("#thread li.received p").last.inner_text()


def press(page, digit):
    count = page.locator("#thread li").count()
    page.click(f".key[data-key='{digit}']")
    page.click("#send")
    page.wait_for_function(f"document.querySelectorAll('#thread li').length >= {count + 2}")
    return page.locator("#thread li.received p").last.inner_text()


@pytest.mark.parametrize("language, number, yes", [("so", "+4791111111", "haa"), ("ar", "+4792222222", "نعم")])
def test_booking_through_the_simulator_page(browser, page_url, screenshot, language, number, yes):
    page = browser.new_page(viewport={"width": 900, "height": 900})
    page.goto(page_url)
    page.fill("#number", number)
    page.dispatch_event("#number", "change")
    assert send(page, "hi").startswith("1 Norsk")
    assert press(page, str(MENU_NUMBER[language])) == say("main_menu", language)
    press(page, "1")  # book
    press(page, "1")  # the first service
    confirm = press(page, "1")  # the first time offered
    assert confirm.endswith(say("confirm_slot", language, when=NOW)[-8:])
    confirmation = send(page, yes)
    booked_prefix = say("booked", language, when=NOW).split(":")[0]
    assert confirmation.startswith(booked_prefix)
    last = page.locator("#thread li.received p").last
    direction = last.evaluate("element => getComputedStyle(element).direction")
    assert direction == ("rtl" if language == "ar" else "ltr")
    screenshot(page, f"simulator-{language}")
    page.close()


def test_calling_through_the_simulator_page(browser, page_url, screenshot):
    page = browser.new_page(viewport={"width": 900, "height": 900})
    page.goto(page_url)
    page.fill("#number", "+4793333333")
    page.click("#call")
    page.wait_for_selector("#line li")
    assert "For English, press 2." in page.inner_text("#line")
    assert page.inner_text("#call") == "Hang up"
    # The language menu says its Arabic option in Arabic already: wait for what key 3 brings.
    before = page.locator("#line li").count()
    page.click(".key[data-key='3']")  # Arabic
    page.wait_for_function(f"document.querySelectorAll('#line li').length > {before}")
    page.wait_for_selector("#line p[lang='arb']")  # the main menu, in Polly's Arabic voice
    arabic = page.locator("#line p[lang='arb']").last
    assert arabic.evaluate("element => getComputedStyle(element).direction") == "rtl"
    # Each thing she hears says where it comes from: here Twilio's Arabic voice.
    assert page.locator("#line li.heard-say .heard-source").last.inner_text() == "voice · Polly.Zeina (arb)"
    screenshot(page, "simulator-call")
    page.click("#call")  # hang up
    page.close()


def test_calling_with_a_hidden_number_shows_the_call_and_no_error(browser, page_url, screenshot):
    page = browser.new_page(viewport={"width": 900, "height": 900})
    page.goto(page_url)
    page.fill("#number", "anonymous")  # as Twilio sends a hidden number
    page.dispatch_event("#number", "change")
    page.click("#call")
    page.wait_for_selector("#line li")
    assert "Nummeret ditt er skjult" in page.inner_text("#line")
    page.click(".key[data-key='6']")  # leave a message
    page.wait_for_selector("#message:not([hidden])")

    # The page looks at the number's thread every two seconds: the call goes on, no error.
    with page.expect_response(lambda response: "/simulator/api/thread" in response.url) as looked:
        pass
    assert looked.value.status == 200
    page.wait_for_timeout(300)  # the page has read the answer
    assert page.inner_text("#status") == ""
    assert page.inner_text("#call") == "Hang up"
    screenshot(page, "simulator-call-hidden-number")

    page.click("#message")
    page.wait_for_selector("#line li.heard-hangup")
    # A hidden number cannot text: the page says why, and it stays said.
    page.fill("#body", "hi")
    page.click("#send")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Not sent: A hidden number')")
    with page.expect_response(lambda response: "/simulator/api/thread" in response.url):
        pass
    page.wait_for_timeout(300)
    assert page.inner_text("#status").startswith("Not sent: A hidden number cannot text")
    screenshot(page, "simulator-text-hidden-number")
    page.close()


# The page's microphone, in a browser without one: a 440 Hz tone, as getUserMedia would give it.
FAKE_MICROPHONE = """
navigator.mediaDevices.getUserMedia = async () => {
  const context = new AudioContext();
  const tone = context.createOscillator();
  const out = context.createMediaStreamDestination();
  tone.frequency.value = 440;
  tone.connect(out);
  tone.start();
  return out.stream;
};
"""


@pytest.fixture
def studio_page(database_url, sessions, centre, make, db_session, live_server):
    from hotline import studio as studio_line
    from scheduling.models import StaffRole

    staff = make.counselor(languages=["ti", "nb"], role=StaffRole.recorder, name="Tolk")
    pin = studio_line.new_pin(db_session, staff, "x")
    db_session.commit()
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": TravelClock(NOW),
                      "SMS_PER_SECOND": 0})
    yield app, live_server(app) + "/simulator/", pin
    app.extensions["linja.engine"].dispose()


def test_a_studio_session_through_the_simulator_page_with_a_file_and_the_microphone(
        browser, studio_page, screenshot, db_session):
    import array
    import io
    import wave

    from sqlalchemy import select

    from scheduling.models import StudioTake, TakeStatus
    from tests.conftest import fresh
    from tests.hotline.test_studio import wav
    from web.worker import make_worker

    app, url, pin = studio_page
    page = browser.new_page(viewport={"width": 900, "height": 1000})
    page.add_init_script(FAKE_MICROPHONE)
    page.goto(url)
    page.fill("#number", "+4795550001")
    page.click("#studio-call")
    page.wait_for_selector("#line li")
    assert "PIN" in page.inner_text("#line")
    for digit in pin + "#":  # gathered on the page until #, as Twilio does
        page.click(f".key[data-key='{digit}']")
    page.wait_for_selector("#take:not([hidden])")
    assert page.is_hidden("#message") and page.is_hidden("#studio-call")
    screenshot(page, "simulator-studio-record")

    # A WAV file chosen on the page: heard back, and playable in the page.
    audio = wav(1.0)
    page.set_input_files("#take-file", files=[{"name": "take.wav", "mimeType": "audio/wav", "buffer": audio}])
    page.click("#take-send")
    page.wait_for_selector("#line li.heard-play audio")
    player = page.locator("#line li.heard-play audio").last
    page.wait_for_function("document.querySelector('#line li.heard-play audio').readyState >= 1")
    assert abs(player.evaluate("element => element.duration") - 1.0) < 0.05
    assert page.is_hidden("#take")  # she chooses now: 1 keep, 2 again, 3 skip
    screenshot(page, "simulator-studio-take")
    page.click(".key[data-key='1']")
    page.wait_for_selector("#take:not([hidden])")

    # The microphone: its samples made into a WAV on the page.
    page.click("#take-mic")
    page.wait_for_function("document.getElementById('take-mic').classList.contains('on')")
    page.wait_for_timeout(1200)
    page.click("#take-mic")
    page.wait_for_function("document.querySelectorAll('#line li.heard-play audio').length >= 2")
    screenshot(page, "simulator-studio-microphone")
    page.click(".key[data-key='1']")
    page.wait_for_selector("#take:not([hidden])")
    page.click("#call")  # hang up
    page.wait_for_selector("#studio-call:not([hidden])")
    assert page.inner_text("#status") == ""
    page.close()

    make_worker(app).tick()
    takes = fresh(db_session).scalars(select(StudioTake).order_by(StudioTake.id)).all()
    assert [t.status for t in takes] == [TakeStatus.waiting, TakeStatus.waiting]
    assert takes[0].audio == audio
    with wave.open(io.BytesIO(takes[1].audio)) as said:
        assert (said.getnchannels(), said.getsampwidth(), said.getframerate()) == (1, 2, 16000)
        assert 0.8 < said.getnframes() / 16000 < 2.5
        samples = said.readframes(said.getnframes())
    assert max(abs(value) for value in array.array("h", samples)) > 1000  # a tone, not silence
