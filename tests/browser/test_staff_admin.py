"""An admin, in a real browser, marks a counselor absent: the times she had are no longer
offered on the SMS line. Then she uploads a voice recording and listens to it."""
from __future__ import annotations

from datetime import datetime

import pytest

from app import create_app
from scheduling.clock import TravelClock
from scheduling.clients import find_client
from scheduling.models import Conversation, StaffRole
from tests.conftest import NOW, fresh, oslo
from tests.hotline.test_sms_flows import MENU_NUMBER
from tests.hotline.twilio_client import Phone
from tests.staff.support import PASSWORD, PASSWORD_HASH

ADMIN = "hanne@linja.test"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64


@pytest.fixture
def linja(database_url, sessions, centre, make, db_session, live_server):
    make.counselor(name="Hanne", email=ADMIN, role=StaffRole.admin, password_hash=PASSWORD_HASH)
    somali = centre["counselors"]["so"]
    somali.name = "Hodan Ali"
    # Already booked on the day she will be away: the admin must be told.
    make.appointment(somali, centre["talk"], oslo(2026, 11, 23, 14, 0), language_code="so",
                     client_id=make.client(language_code="so").id)
    db_session.commit()
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": TravelClock(NOW),
                      "SMS_PER_SECOND": 0, "PUBLIC_BASE_URL": "https://linja.test"})
    yield app, live_server(app)
    app.extensions["linja.engine"].dispose()


def offered(phone, db_session) -> list[datetime]:
    """Text the line for the Somali times of the first service; the instants offered."""
    phone.text("0")  # the language menu, whatever she was doing
    phone.text(str(MENU_NUMBER["so"]))
    phone.text("1")  # book
    assert phone.text("1")  # the first service: a list of times
    client = find_client(fresh(db_session), phone.number)
    offers = db_session.get(Conversation, client.id).data["offers"]
    return [datetime.fromisoformat(o["start"]) for o in offers]


def sign_in(page, base):
    page.goto(base + "/staff/login")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Logg inn')")
    page.wait_for_url("**/staff/**")


@pytest.mark.parametrize("width", [1000, 390])
def test_an_absence_added_in_the_browser_takes_her_times_off_the_sms_line(browser, linja, db_session, screenshot,
                                                                         width):
    app, base = linja
    phone = Phone(app.test_client(), app, "+4791234567")
    before = offered(phone, db_session)
    monday = [at for at in before if at < oslo(2026, 11, 24, 0, 0)]
    assert monday, before  # today's times in Somali, before the absence

    page = browser.new_page(viewport={"width": width, "height": 900}, locale="nb-NO")
    sign_in(page, base)
    page.click("nav a:has-text('Oppsett')")
    page.click("main a:has-text('Ansatte')")
    page.locator("tr", has_text="Hodan Ali").get_by_role("link", name="Arbeidstid og fravær").click()
    page.fill("#first_day", "2026-11-23")
    page.fill("#last_day", "2026-11-23")
    page.fill("#reason", "Kurs")
    page.click("button:has-text('Lagre fravær')")
    page.wait_for_selector(".flash")
    assert "1 time er allerede booket" in page.inner_text(".flash")
    warning = page.inner_text(".absence .warning")
    assert "resepsjonen må flytte" in warning and "14:00" in warning
    screenshot(page, "staff-admin-absence" if width > 500 else "staff-admin-absence-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing runs off a phone screen
    page.close()

    after = offered(phone, db_session)
    assert after and not set(monday) & set(after)
    assert all(at >= oslo(2026, 11, 24, 0, 0) for at in after)


@pytest.mark.parametrize("width", [1000, 390])
def test_a_recording_uploaded_in_the_browser_can_be_heard(browser, linja, screenshot, tmp_path, width):
    app, base = linja
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="nb-NO")
    sign_in(page, base)
    page.goto(base + "/staff/admin/recordings")
    page.click("tr:has-text('somali') a:has-text('Se opptakene')")
    page.locator("li", has_text="For å bestille time, trykk 1. For å høre").get_by_role("link", name="Last opp").click()
    recording = tmp_path / "menu.mp3"
    recording.write_bytes(MP3)
    page.set_input_files("#audio", str(recording))
    page.click("form[enctype] button:has-text('Last opp')")
    page.wait_for_selector(".flash")
    source = page.get_attribute("audio", "src")
    assert source.startswith("/hotline/recordings/")
    assert page.request.get(base + source).body() == MP3
    if width < 500:
        screenshot(page, "staff-admin-recordings-phone")
    page.goto(base + "/staff/admin/recordings/so")
    assert page.locator("li.recorded").count() == 1 and page.locator("li.recorded audio").count() == 1
    assert page.locator("li.missing").count() > 50
    assert page.locator("details[open] li.recorded").count() == 1  # whole prompts open; dates etc. folded
    page.click("summary:has-text('Ukedager')")
    assert page.locator("li", has_text="ukedag: mandag").get_by_role("link", name="Last opp").is_visible()
    if width > 500:
        screenshot(page, "staff-admin-recordings")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.close()
