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
                      "PUBLIC_BASE_URL": "http://127.0.0.1"})
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
    page.wait_for_selector(".flash.info")
    page.fill("#reason", "Hun ringte")
    page.click("button.danger")
    page.wait_for_selector("text=Timen er avlyst.")

    assert len(visited) >= 15 and any("/staff/book?" in url for url in visited)
    leaks = [url for url in visited + [url for _, url in requested] if holds_a_number(url)]
    assert leaks == []
    page.close()
