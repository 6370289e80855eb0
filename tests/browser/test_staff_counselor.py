"""A counselor signs in in the browser, sees her day and her week, and marks who came."""
from __future__ import annotations

import pytest

from app import create_app
from scheduling.clock import FixedClock
from scheduling.models import AppointmentStatus, BookedVia
from tests.conftest import oslo
from tests.staff.support import PASSWORD, PASSWORD_HASH

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(database_url, sessions, make, db_session, live_server):
    talk = make.service(names={"nb": "Samtale", "en": "Talk"})
    family = make.service(minutes=45, names={"nb": "Familiespørsmål", "en": "Family questions"})
    money = make.service(minutes=30, names={"nb": "Økonomisk rådgivning", "en": "Money advice"})
    amina = make.counselor(name="Amina Farah", email="amina@linja.test", languages=["nb", "so", "ar"],
                           services=[talk, family, money], password_hash=PASSWORD_HASH)
    leila = make.counselor(name="Leila", email="leila@linja.test", services=[talk])
    returning = make.client(language_code="so")
    make.appointment(amina, talk, oslo(2026, 11, 9, 10, 0), client_id=returning.id, status=AppointmentStatus.attended)
    day = [
        make.appointment(amina, talk, oslo(2026, 11, 23, 9, 0), client_id=returning.id, language_code="so",
                         booked_via=BookedVia.sms),
        make.appointment(amina, family, oslo(2026, 11, 23, 10, 30), client_id=make.client(language_code="ti").id,
                         language_code="ti", is_interpreter_needed=True, booked_via=BookedVia.voice),
        make.appointment(amina, money, oslo(2026, 11, 23, 12, 0), status=AppointmentStatus.cancelled,
                         language_code="ar"),
        make.appointment(amina, talk, oslo(2026, 11, 23, 13, 0), client_id=make.client(language_code="ar").id,
                         language_code="ar", booked_via=BookedVia.staff),
        make.appointment(amina, money, oslo(2026, 11, 23, 14, 30), client_id=None, language_code="pl"),
    ]
    for n, (weekday, hour, code) in enumerate([(1, 9, "fa"), (1, 13, "so"), (2, 10, "ur"), (3, 11, "ar"),
                                               (3, 14, "so"), (5, 11, "nb")]):
        make.appointment(amina, [talk, family, money][n % 3], oslo(2026, 11, 23 + weekday, hour, 0),
                         client_id=make.client(language_code=code).id, language_code=code,
                         is_interpreter_needed=code == "ur", booked_via=list(BookedVia)[n % 3])
    make.appointment(leila, talk, oslo(2026, 11, 23, 11, 0))
    db_session.commit()
    # 11:00 on Monday: the first two have begun and can be marked.
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": FixedClock(oslo(2026, 11, 23, 11, 0))})
    yield {"url": live_server(app), "first": day[0]}
    app.extensions["linja.engine"].dispose()


def signed_in_page(browser, site, viewport):
    page = browser.new_page(viewport=viewport)
    page.goto(site["url"] + "/staff/login")
    page.fill("#email", "amina@linja.test")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/day")
    return page


def test_a_counselor_sees_her_day_and_marks_who_came(browser, site, screenshot):
    page = signed_in_page(browser, site, DESKTOP)
    assert page.inner_text("h1").startswith("mandag 23. november 2026")
    cards = page.locator("ol.appointments > li")
    assert cards.count() == 5
    assert "somali" in cards.nth(0).inner_text() and "Har vært her før" in cards.nth(0).inner_text()
    assert "Trengs" in cards.nth(1).inner_text()
    assert "11:00" not in page.inner_text("main")  # Leila's
    assert page.locator("a[aria-current=page]").inner_text() == "Min dag"
    screenshot(page, "staff-counselor-day")

    # By keyboard: the first card's "Møtte" button, then Enter.
    first = page.locator(f"#appointment-{site['first'].id}")
    first.locator("button[value=attended]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash.info")
    assert "er merket: Møtt." in page.inner_text(".flash.info")
    assert "Møtt" in page.locator(f"#appointment-{site['first'].id} .status").inner_text()
    page.close()


def test_her_day_on_a_phone(browser, site, screenshot):
    page = signed_in_page(browser, site, PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "nothing sticks out sideways on a phone"
    screenshot(page, "staff-counselor-day-phone")
    page.close()


def test_her_week_on_a_desktop_and_a_phone(browser, site, screenshot):
    page = signed_in_page(browser, site, DESKTOP)
    page.click("nav[aria-label=Meny] >> text=Min uke")
    page.wait_for_url("**/staff/week")
    assert page.locator("section.week-day").count() == 6  # Monday to Friday, and the booked Saturday
    assert page.locator("a[aria-current=date]").inner_text().lower().startswith("mandag")
    screenshot(page, "staff-counselor-week")
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "staff-counselor-week-phone")
    page.close()


def test_the_printout(browser, site, screenshot):
    page = signed_in_page(browser, site, DESKTOP)
    page.click("text=Skriv ut")
    page.wait_for_url("**print=1")
    assert page.locator("button").count() == 0
    page.emulate_media(media="print")
    assert page.locator(".print-hint").is_hidden()
    screenshot(page, "staff-counselor-day-print")
    page.close()


def test_she_makes_a_calendar_link(browser, site, screenshot):
    page = signed_in_page(browser, site, PHONE)
    page.click("nav[aria-label=Meny] >> text=Kalenderlenke")
    page.click("button:has-text('Lag kalenderlenke')")
    link = page.input_value("#feed-url")
    assert link.startswith("http://127.0.0.1:5000/staff/calendar/") and link.endswith(".ics")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "staff-counselor-calendar-phone")
    page.close()
