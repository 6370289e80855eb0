"""In a real browser: a counselor who follows a link to the board lands on Linja's page
saying it is the reception's, in her language, and its button takes her to her day; a
stranger at Linja's address is led to sign in; the tab shows Linja's icon."""
from __future__ import annotations

import pytest

from app import create_app
from scheduling.clock import FixedClock
from tests.conftest import NOW
from tests.staff.support import PASSWORD, PASSWORD_HASH

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def base_url(database_url, sessions, make, db_session, live_server):
    make.counselor(name="Amina", email="amina@linja.test", password_hash=PASSWORD_HASH)
    make.counselor(name="Anna", email="anna@linja.test", password_hash=PASSWORD_HASH, ui_locale="en")
    db_session.commit()
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": FixedClock(NOW),
                      "PUBLIC_BASE_URL": "http://127.0.0.1"})
    yield live_server(app)
    app.extensions["linja.engine"].dispose()


def sign_in(page, base_url, email):
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/staff/login" not in url)


def test_a_counselor_on_the_boards_address_finds_her_way_to_her_day(browser, base_url, screenshot):
    page = browser.new_page(viewport=PHONE)
    page.goto(base_url + "/")
    assert page.url == base_url + "/staff/login"  # the front door leads to sign-in
    sign_in(page, base_url, "amina@linja.test")

    response = page.goto(base_url + "/staff/board")
    assert response.status == 403
    assert page.title() == "Denne siden er for resepsjonen · Linja"
    assert page.locator(".bar .brand").inner_text() == "Linja"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "error-403")
    page.click("text=Gå til Min dag")
    page.wait_for_url("**/staff/day")

    icon = page.locator("link[rel=icon]").get_attribute("href")
    answer = page.request.get(base_url + icon)
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    page.close()


def test_an_english_counselor_reads_not_found_in_english(browser, base_url, screenshot):
    page = browser.new_page(viewport=PHONE)
    page.goto(base_url + "/staff/login")
    sign_in(page, base_url, "anna@linja.test")
    response = page.goto(base_url + "/staff/old-bookmark")
    assert response.status == 404
    assert page.inner_text("h1") == "Page not found"
    screenshot(page, "error-404-en")
    page.click("text=Go to My day")
    page.wait_for_url("**/staff/day")
    page.close()


def test_a_stranger_at_a_lost_address_is_offered_sign_in(browser, base_url):
    page = browser.new_page(viewport=PHONE)
    response = page.goto(base_url + "/staff/no-such-page")
    assert response.status == 404 and page.inner_text("h1") == "Fant ikke siden"
    page.click("text=Logg inn")
    page.wait_for_url("**/staff/login")
    page.close()
