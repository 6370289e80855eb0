"""A receptionist in a real browser: she signs in, finds a caller by a number typed as
"90 00 00 00", moves her appointment to another counselor who speaks Somali, and the
caller's text waits in the outbox, in Somali. She books for a new number, and her
browser's history holds no phone number."""
from __future__ import annotations

import re
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app import create_app
from hotline.replies import render_outbound
from scheduling.clock import FixedClock
from scheduling.models import Appointment, BookedVia, OutboxMessage, StaffRole
from tests.conftest import NOW, fresh, oslo
from tests.staff.support import PASSWORD, PASSWORD_HASH

PHONE = {"width": 390, "height": 844}
ADDRESS = "Storgata 10, 0184 Oslo"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def desk(make, db_session, centre):
    make.counselor(role=StaffRole.receptionist, name="Ingrid", email="ingrid@linja.test", password_hash=PASSWORD_HASH)
    amina = centre["counselors"]["so"]
    amina.name = "Amina"
    centre["counselors"]["ar"].name = "Layla"
    centre["counselors"]["ti"].name = "Selam"
    hodan = make.counselor(name="Hodan", languages=["so", "nb"], services=[centre["talk"], centre["family"]])
    caller = make.client(phone_e164="+4790000000", language_code="so")
    appointment = make.appointment(amina, centre["talk"], oslo(2026, 11, 23, 13, 0), client=caller,
                                   language_code="so", booked_via=BookedVia.sms)
    other = make.client(phone_e164="+4791234567", language_code="ar")
    make.appointment(centre["counselors"]["ar"], centre["family"], oslo(2026, 11, 23, 10, 0), client=other,
                     language_code="ar", booked_via=BookedVia.voice)
    make.appointment(hodan, centre["talk"], oslo(2026, 11, 23, 11, 0), language_code="ti",
                     is_interpreter_needed=True)
    make.absence(centre["counselors"]["ti"], oslo(2026, 11, 23, 12, 0), oslo(2026, 11, 23, 16, 0))
    db_session.commit()
    return {"appointment": appointment.id, "hodan": hodan.id, "talk": centre["talk"].id}


@pytest.fixture
def base_url(database_url, sessions, desk, live_server):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": FixedClock(NOW),
                      "PUBLIC_BASE_URL": "http://127.0.0.1", "CENTRE_ADDRESS": ADDRESS})
    yield live_server(app)
    app.extensions["linja.engine"].dispose()


def sign_in(page, base_url):
    page.goto(base_url + "/staff/login")
    page.fill("#email", "ingrid@linja.test")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/board")


def search(page, typed: str) -> None:
    page.fill("#phone", typed)
    page.click("form[role=search] button[type=submit]")


def choose_times(page, typed: str, service_id: int) -> None:
    """Step 1 of a booking: her number, Somali, the service; then the free times."""
    if typed:
        page.fill("#phone", typed)
    page.select_option("#language", "so")
    page.select_option("#service", str(service_id))
    page.click("button[type=submit]:has-text('Vis ledige tider')")
    page.wait_for_selector("input[name=slot]")


def test_a_receptionist_moves_a_callers_appointment_to_another_somali_speaker(
        browser, base_url, desk, db_session, screenshot):
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, base_url)
    assert page.locator(".board-column h2").all_inner_texts() == ["Amina", "Hodan", "Layla", "Selam"]
    amina = page.locator(".board-column").first
    assert "13:00–14:00" in amina.inner_text() and "…00" in amina.inner_text()
    assert "+4790000000" not in page.content()
    screenshot(page, "staff-board")

    # By keyboard: the search box, her number as she read it out, Enter.
    page.focus("#board-phone")
    page.keyboard.type("90 00 00 00")
    page.keyboard.press("Enter")
    page.wait_for_selector("#caller-heading")
    assert page.inner_text("#caller-heading") == "Innringer +47 90 00 00 00"
    assert "somali" in page.inner_text(".caller .facts")
    page.click(f".appointments a[href='/staff/appointments/{desk['appointment']}']")

    page.wait_for_selector("#move-heading")
    hodan = page.locator(".move-option", has_text="Hodan")
    assert "snakker hennes språk" in hodan.inner_text()
    assert page.locator(".move-option", has_text="Layla").count() == 0
    screenshot(page, "staff-appointment")
    chosen = hodan.locator("button.slot-button").first
    when = chosen.inner_text().split("–")[0]
    chosen.click()

    # Nothing moves before she has seen the text the caller will get, and confirmed.
    page.wait_for_selector("#confirm-heading")
    assert when in page.inner_text("#new-time") and "Hodan" in page.inner_text("#new-time")
    previewed = page.inner_text("#her-text")
    in_norwegian = page.inner_text("#staff-text")
    screenshot(page, "staff-move-confirm")
    assert fresh(db_session).get(Appointment, desk["appointment"]).counselor_id != desk["hodan"]
    page.click("#confirm")

    page.wait_for_selector(".flash.info")
    flashes = " ".join(page.locator(".flash.info").all_inner_texts())
    assert "Timen er flyttet" in flashes and "Hodan" in flashes and "på somali" in flashes
    assert when in page.inner_text(".appointment-facts")

    session = fresh(db_session)
    moved = session.get(Appointment, desk["appointment"])
    assert moved.counselor_id == desk["hodan"]
    [text] = session.scalars(select(OutboxMessage).where(OutboxMessage.appointment_id == moved.id,
                                                         OutboxMessage.template == "moved")).all()
    assert text.language_code == "so"
    oslo_tz = ZoneInfo("Europe/Oslo")
    in_somali = render_outbound("moved", "so", text.params, tz=oslo_tz, address="Storgata 10")
    assert in_somali != render_outbound("moved", "nb", text.params, tz=oslo_tz, address="Storgata 10")
    # What the page showed is what the worker sends, in Somali, with a Norwegian rendering for her.
    assert previewed == render_outbound("moved", "so", text.params, tz=oslo_tz, address=ADDRESS)
    assert in_norwegian == render_outbound("moved", "nb", text.params, tz=oslo_tz, address=ADDRESS)
    page.close()


def test_the_board_and_an_appointment_on_a_phone(browser, base_url, desk, screenshot):
    page = browser.new_page(viewport=PHONE)
    sign_in(page, base_url)
    board = page.locator(".board")
    # The columns scroll sideways inside the board, not the whole page.
    assert board.evaluate("element => element.scrollWidth > element.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "staff-board-phone")
    page.goto(f"{base_url}/staff/appointments/{desk['appointment']}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "staff-appointment-phone")
    page.goto(f"{base_url}/staff/search")
    search(page, "90 00 00 00")
    page.wait_for_selector("#caller-heading")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "staff-search-phone")
    page.goto(f"{base_url}/staff/book")
    choose_times(page, "90 11 22 33", desk["talk"])
    assert page.locator("input[name=slot]").count() == 10
    screenshot(page, "staff-book-phone")
    page.close()


# Her number however it could be written into an address: the national digits survive
# once escapes are undone and separators dropped ("+47 482 00 001", "%2B4748200001"...).
NEW_NUMBER, KNOWN_NUMBER = "48200001", "90000000"
SEPARATORS = re.compile(r"[\s+\-.()]")


def holds_a_number(url: str) -> bool:
    for _ in range(3):
        url = unquote_plus(url)
    squeezed = SEPARATORS.sub("", url)
    return NEW_NUMBER in squeezed or KNOWN_NUMBER in squeezed


def test_the_receptionists_history_holds_no_phone_number(browser, base_url, desk, db_session):
    page = browser.new_page(viewport=DESKTOP)
    visited, requested = [], []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    page.on("request", lambda request: requested.append((request.method, request.url)))
    sign_in(page, base_url)

    # A caller Linja knows, found from the board: her page, then a new booking for her.
    page.focus("#board-phone")
    page.keyboard.type("+47 900 00 000")
    page.keyboard.press("Enter")
    page.wait_for_selector("#caller-heading")
    page.click("text=Bestill ny time for henne")
    choose_times(page, "", desk["talk"])
    page.click("text=Vis senere tider")
    page.wait_for_selector("input[name=slot]")
    page.locator("input[name=slot]").first.check()
    page.click("button[type=submit]:has-text('Bestill den valgte tiden')")
    page.click("#book-second")  # she has a time already: yes, a second one
    page.wait_for_selector(".flash.info")

    # A number no caller has yet, typed as she read it out: booked for her.
    page.goto(base_url + "/staff/search")
    search(page, "482 00 001")
    page.wait_for_selector("text=Ingen innringer har nummeret")
    page.click("text=Bestill time for henne")
    assert page.input_value("#phone") == "+4748200001"
    choose_times(page, "", desk["talk"])
    page.locator("input[name=slot]").first.check()
    page.click("button[type=submit]:has-text('Bestill den valgte tiden')")
    page.wait_for_selector(".flash.info")
    assert "Timen er bestilt" in page.inner_text("main")

    # Reloading the booked appointment asks again for the page, not for a second booking.
    posts = sum(1 for method, _ in requested if method == "POST")
    page.reload()
    assert sum(1 for method, _ in requested if method == "POST") == posts
    page.go_back()
    page.wait_for_selector("input[name=slot]")

    # Her appointment, moved and then cancelled, from her page.
    page.goto(base_url + "/staff/search")
    search(page, "0047 482 00 001")
    page.wait_for_selector("#caller-heading")
    page.locator(".appointments a").first.click()
    page.wait_for_selector("#move-heading")
    page.locator("button.slot-button").first.click()
    page.click("#confirm")
    page.wait_for_selector(".flash.info")
    page.fill("#reason", "Hun ringte")
    page.click("button.danger")
    page.click("#confirm")
    page.wait_for_selector("text=Timen er avlyst.")

    assert len(visited) >= 15 and any("/staff/book?" in url for url in visited)
    leaks = [url for url in visited + [url for _, url in requested] if holds_a_number(url)]
    assert leaks == []
    page.close()


def appointments_of_number(db_session, phone_e164: str) -> list[Appointment]:
    from scheduling.clients import find_client

    session = fresh(db_session)
    client = find_client(session, phone_e164)
    return [] if client is None else session.scalars(
        select(Appointment).where(Appointment.client_id == client.id)).all()


def test_back_and_book_again_books_once(browser, base_url, desk, db_session, screenshot):
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, base_url)
    page.goto(base_url + "/staff/book")
    choose_times(page, "482 00 001", desk["talk"])
    page.locator("input[name=slot]").first.check()
    page.click("button[type=submit]:has-text('Bestill den valgte tiden')")
    page.wait_for_selector("text=Timen er bestilt")
    booked_page = page.url

    # The browser's own Back button, then the button again, on another time.
    page.go_back()
    page.wait_for_selector("input[name=slot]")
    page.locator("input[name=slot]").nth(1).check()
    page.click("button[type=submit]:has-text('Bestill den valgte tiden')")
    page.wait_for_selector("#once-heading")
    assert page.inner_text("#once-heading") == "Dette skjemaet er allerede sendt"
    assert "ingenting er gjort på nytt" in page.inner_text("main")
    screenshot(page, "staff-form-already-sent")
    assert len(appointments_of_number(db_session, "+4748200001")) == 1
    page.click("#once-done")
    page.wait_for_selector("#move-heading")
    assert page.url == booked_page
    page.close()


def test_a_second_appointment_is_asked_for_before_it_is_booked(browser, base_url, desk, db_session, screenshot):
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, base_url)
    page.goto(base_url + "/staff/book")
    choose_times(page, "90 00 00 00", desk["talk"])
    times = page.url
    page.locator("input[name=slot]").first.check()
    page.click("button[type=submit]:has-text('Bestill den valgte tiden')")
    page.wait_for_selector("#second-heading")
    assert "man. 23. nov. 13:00" in page.inner_text(".existing")
    screenshot(page, "staff-book-second")
    assert len(appointments_of_number(db_session, "+4790000000")) == 1
    page.click("#keep-one")
    page.wait_for_selector("#move-heading")
    assert page.url.endswith(f"/staff/appointments/{desk['appointment']}")
    assert len(appointments_of_number(db_session, "+4790000000")) == 1

    page.goto(times)
    page.locator("input[name=slot]").first.check()
    page.click("button[type=submit]:has-text('Bestill den valgte tiden')")
    page.wait_for_selector("#second-heading")
    page.click("#book-second")
    page.wait_for_selector("text=Timen er bestilt")
    assert len(appointments_of_number(db_session, "+4790000000")) == 2
    page.close()


def test_a_move_confirmed_and_sent_again_moves_once(browser, base_url, desk, db_session, screenshot):
    page = browser.new_page(viewport=PHONE)
    sign_in(page, base_url)
    page.goto(f"{base_url}/staff/appointments/{desk['appointment']}")
    page.locator(".move-option", has_text="Hodan").locator("button.slot-button").first.click()
    page.wait_for_selector("#confirm-heading")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "staff-move-confirm-phone")
    page.click("#confirm")
    page.wait_for_selector("text=Timen er flyttet")
    version = fresh(db_session).get(Appointment, desk["appointment"]).version

    # Back to the confirmation she sent: it says so, and Bekreft is not there to press again.
    page.go_back()
    page.wait_for_selector("#once-heading")
    assert page.inner_text("#once-heading") == "Dette skjemaet er allerede sendt"
    session = fresh(db_session)
    assert session.get(Appointment, desk["appointment"]).version == version
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "moved")).all()) == 1
    page.close()


def test_cancelling_for_a_caller_who_said_stop_says_she_gets_no_text(browser, base_url, desk, db_session,
                                                                     screenshot):
    from scheduling.models import Client

    session = fresh(db_session)
    session.get(Appointment, desk["appointment"]).client.is_opted_out = True
    session.commit()
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, base_url)
    page.goto(f"{base_url}/staff/appointments/{desk['appointment']}")
    page.fill("#reason", "Hun ringte")
    page.click("button.danger")
    page.wait_for_selector("#confirm-heading")
    assert "STOPP" in page.inner_text("#no-text") and page.locator("#her-text").count() == 0
    assert "man. 23. nov. 13:00" in page.inner_text("#cancelled-time")
    screenshot(page, "staff-cancel-confirm-stop")
    assert fresh(db_session).get(Appointment, desk["appointment"]).status.value == "booked"
    page.click("#confirm")
    page.wait_for_selector("text=Timen er avlyst.")
    assert fresh(db_session).get(Appointment, desk["appointment"]).status.value == "cancelled"
    assert session.scalars(select(Client)).all()  # the caller is still known
    page.close()


def test_back_after_cancelling_says_it_was_sent(browser, base_url, desk, db_session, screenshot):
    """The confirmation has an address of its own: Back after cancelling loads it, and it
    says the cancellation was sent, rather than the browser's "Confirm Form Resubmission"."""
    page = browser.new_page(viewport=PHONE)
    sign_in(page, base_url)
    appointment = f"{base_url}/staff/appointments/{desk['appointment']}"
    page.goto(appointment)
    page.fill("#reason", "Hun ringte og sa at hun ikke kan komme, barnehagen er stengt hele uka")
    page.click("button.danger")
    page.wait_for_selector("#confirm-heading")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.reload()  # a reload shows the same confirmation
    page.wait_for_selector("#confirm-heading")
    page.click("#confirm")
    page.wait_for_selector("text=Timen er avlyst.")

    page.go_back()
    page.wait_for_selector("#once-heading")
    assert page.inner_text("#once-heading") == "Dette skjemaet er allerede sendt"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("#once-done")
    page.wait_for_url(appointment)
    assert len(fresh(db_session).scalars(select(OutboxMessage).where(OutboxMessage.template == "cancelled")).all()) == 1
    page.close()


def test_back_after_booking_a_second_time_says_it_was_sent(browser, base_url, desk, db_session):
    """The question "a second time?" has an address of its own: Back after answering yes
    loads it, and it says the booking was sent, rather than "Confirm Form Resubmission"."""
    page = browser.new_page(viewport=PHONE)
    sign_in(page, base_url)
    page.goto(base_url + "/staff/book")
    choose_times(page, "90 00 00 00", desk["talk"])
    page.locator("input[name=slot]").first.check()
    page.click("button[type=submit]:has-text('Bestill den valgte tiden')")
    page.wait_for_selector("#second-heading")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("#book-second")
    page.wait_for_selector("text=Timen er bestilt")
    booked_page = page.url

    page.go_back()
    page.wait_for_selector("#once-heading")
    assert page.inner_text("#once-heading") == "Dette skjemaet er allerede sendt"
    page.click("#once-done")
    page.wait_for_selector("#move-heading")
    assert page.url == booked_page
    assert len(appointments_of_number(db_session, "+4790000000")) == 2
    page.close()
