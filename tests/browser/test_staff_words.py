"""Words staff can read, in a real browser: languages by their names in the page's language,
the audit trail and an appointment's history with names instead of ids, the printed day
and a recording by what it says."""
from __future__ import annotations

import re

import pytest

from app import create_app
from scheduling.booking import Booked, book_appointment, reschedule_appointment
from scheduling.clock import TravelClock
from scheduling.models import Actor, BookedVia, StaffRole
from tests.conftest import NOW, oslo
from tests.staff.support import PASSWORD, PASSWORD_HASH

NON_LATIN = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff\u1200-\u139f\u2d80-\u2ddf]")


@pytest.fixture
def linja(database_url, sessions, centre, make, db_session, live_server):
    talk = centre["talk"]
    amina = make.counselor(name="Amina", email="amina@linja.test", languages=["nb", "so"], services=[talk],
                           password_hash=PASSWORD_HASH)
    sana = make.counselor(name="Sana", languages=["nb", "ar"], services=[talk])
    ingrid = make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist,
                            password_hash=PASSWORD_HASH)
    make.counselor(name="Kari", email="kari@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    for hour, code in ((9, "ti"), (11, "fa"), (13, "ar")):
        make.appointment(amina, talk, oslo(2026, 11, 23, hour, 0), language_code=code,
                         client_id=make.client(language_code=code).id, is_interpreter_needed=code == "ti")
    booked = book_appointment(db_session, service_id=talk.id, counselor_id=amina.id, start_at=oslo(2026, 12, 8, 10, 0),
                              now=NOW, booked_via=BookedVia.staff, client=make.client(phone_e164="+4790011223",
                                                                                        language_code="ar"),
                              language_code="ar", actor=Actor.staff, actor_staff_id=ingrid.id)
    assert isinstance(reschedule_appointment(db_session, booked.appointment, start_at=oslo(2026, 12, 9, 12, 0),
                                             now=NOW, counselor_id=sana.id, actor=Actor.staff,
                                             actor_staff_id=ingrid.id), Booked)
    db_session.commit()
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": TravelClock(NOW),
                      "SMS_PER_SECOND": 0, "PUBLIC_BASE_URL": "https://linja.test"})
    yield app, live_server(app), booked.appointment.id
    app.extensions["linja.engine"].dispose()


def signed_in(browser, base, email):
    page = browser.new_page(viewport={"width": 1000, "height": 900}, locale="nb-NO")
    page.goto(base + "/staff/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Logg inn')")
    page.wait_for_url("**/staff/**")
    return page


def test_staff_read_languages_history_and_the_log_in_words(browser, linja, screenshot):
    app, base, moved = linja
    amina = signed_in(browser, base, "amina@linja.test")
    amina.goto(base + "/staff/day")
    day = amina.inner_text("main")
    assert "tigrinja" in day and "persisk (farsi/dari)" in day and "arabisk" in day
    assert not NON_LATIN.search(day)
    screenshot(amina, "staff-words-day")
    amina.goto(base + "/staff/day?day=2026-11-23&print=1")
    cells = [amina.locator("tbody tr").nth(n).locator("td").nth(2).inner_text() for n in range(3)]
    assert cells == ["Trengs", "Nei", "Nei"]  # the interpreter column, never empty
    screenshot(amina, "staff-words-print")

    ingrid = signed_in(browser, base, "ingrid@linja.test")
    ingrid.goto(base + f"/staff/appointments/{moved}")
    history = ingrid.inner_text("ul.history")
    assert "Ingrid · Bestilt av resepsjonen: Amina, Samtale, 8. des. 10:00, tolk: ja" in history
    assert "Ingrid · Flyttet fra Amina 8. des. 10:00 til Sana 9. des. 12:00" in history
    screenshot(ingrid, "staff-words-history")

    kari = signed_in(browser, base, "kari@linja.test")
    kari.goto(base + "/staff/admin/audit")
    log = kari.inner_text("table.audit")
    assert "Flyttet fra Amina 8. des. 10:00 til Sana 9. des. 12:00" in log
    assert "counselor_id" not in log and "service_id" not in log and "via:" not in log
    screenshot(kari, "staff-words-audit")
    kari.goto(base + "/staff/admin/recordings/so/upload?key=v_main_menu")
    assert kari.title() == "Lydopptak · For å bestille time, trykk 1. For å høre, avbestille eller … · Linja"
    screenshot(kari, "staff-words-recording")
    kari.goto(base + "/staff/admin/languages")
    # The admin names each language in her own words; the menu's own name is a preview.
    assert kari.locator("th", has_text="arabisk").locator(".caller-text").inner_text() == "العربية"
    screenshot(kari, "staff-words-languages")
