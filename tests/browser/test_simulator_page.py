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
    page.click(".key[data-key='3']")  # Arabic
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
