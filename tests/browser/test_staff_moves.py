"""Moving at the desk, in a real browser: the time she has is never offered as where to
move her with her own counselor (with another, it is: only who she sees changes)."""
from __future__ import annotations

import pytest

from app import create_app
from scheduling.clock import FixedClock
from scheduling.models import BookedVia, StaffRole
from tests.browser.test_staff_desk import DESKTOP, PHONE, sign_in
from tests.conftest import NOW, oslo
from tests.staff.support import PASSWORD_HASH


@pytest.fixture
def appointment_id(make, db_session, centre):
    """Her appointment with Amina today at 10:00, the first time the desk could offer."""
    make.counselor(role=StaffRole.receptionist, name="Ingrid", email="ingrid@linja.test", password_hash=PASSWORD_HASH)
    amina = centre["counselors"]["so"]
    amina.name = "Amina"
    make.counselor(name="Hodan", languages=["so", "nb"], services=[centre["talk"], centre["family"]])
    caller = make.client(phone_e164="+4790000000", language_code="so")
    appointment = make.appointment(amina, centre["talk"], oslo(2026, 11, 23, 10, 0), client=caller,
                                   language_code="so", booked_via=BookedVia.sms)
    db_session.commit()
    return appointment.id


@pytest.fixture
def base_url(database_url, sessions, appointment_id, live_server):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": FixedClock(NOW),
                      "PUBLIC_BASE_URL": "http://127.0.0.1"})
    yield live_server(app)
    app.extensions["linja.engine"].dispose()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_move_lists_never_offer_her_own_time_with_her_own_counselor(browser, base_url, appointment_id, viewport,
                                                                         screenshot):
    page = browser.new_page(viewport=viewport)
    sign_in(page, base_url)
    page.goto(f"{base_url}/staff/appointments/{appointment_id}")
    page.wait_for_selector("#move-heading")
    amina = page.locator(".move-option", has_text="Amina").locator("button.slot-button").all_inner_texts()
    hodan = page.locator(".move-option", has_text="Hodan").locator("button.slot-button").all_inner_texts()
    screenshot(page, f"staff-move-lists-{viewport['width']}")
    assert amina and not any("10:00–11:00" in slot for slot in amina)
    assert any("10:30–11:30" in slot for slot in amina)  # half an hour later, though it overlaps
    assert any("10:00–11:00" in slot for slot in hodan)

    # Posted anyway (an old page, another tab): nothing changes and she is not texted.
    with page.expect_navigation():
        page.evaluate("""() => {
            const form = [...document.querySelectorAll('form')].find(f => f.action.endsWith('/move'));
            form.querySelector('[name=slot]').value = form.querySelector('[name=slot]').value.replace(
                /@.*/, '@2026-11-23T09:00:00+00:00');
            form.submit();
        }""")
    screenshot(page, f"staff-move-unchanged-{viewport['width']}")
    assert "så ingenting er endret, og hun får ingen SMS" in page.content()
    page.close()
