"""Every staff page and the phone simulator run under the Content-Security-Policy without
a single violation: no inline script, style or handler is left for it to block."""
from __future__ import annotations

import pytest

from app import create_app
from scheduling.clock import TravelClock
from scheduling.models import StaffRole, Voicemail
from tests.conftest import NOW, oslo
from tests.staff.support import PASSWORD, PASSWORD_HASH

ADMIN, COUNSELOR = "hanne@linja.test", "hodan@linja.test"
CALLER = "+4791234567"


@pytest.fixture
def linja(database_url, sessions, centre, make, db_session, live_server):
    make.counselor(name="Hanne", email=ADMIN, role=StaffRole.admin, password_hash=PASSWORD_HASH)
    somali = centre["counselors"]["so"]
    somali.email, somali.password_hash = COUNSELOR, PASSWORD_HASH
    caller = make.client(phone_e164=CALLER, language_code="so")
    appointment = make.appointment(somali, centre["talk"], oslo(2026, 11, 23, 14, 0), language_code="so",
                                   client_id=caller.id)
    voicemail = Voicemail(call_sid="CA" + "3" * 32, client_id=caller.id, language_code="so",
                          recording_url="https://api.twilio.com/x/RE1", received_at=NOW)
    db_session.add(voicemail)
    db_session.commit()
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": TravelClock(NOW),
                      "SMS_PER_SECOND": 0})
    yield app, live_server(app), {"appointment_id": appointment.id, "staff_id": somali.id,
                                  "service_id": centre["talk"].id, "code": "so", "caller_id": caller.id}
    app.extensions["linja.engine"].dispose()


def watched(browser):
    """A page that keeps every CSP report Chromium writes to its console, and page errors."""
    page = browser.new_page(viewport={"width": 1000, "height": 900}, bypass_csp=False)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    return page, problems


def sign_in(page, base, email):
    page.goto(base + "/staff/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Logg inn')")
    page.wait_for_url(lambda url: "/staff/login" not in url)  # signed in, not sent back


def get_pages(app, ids, role_prefixes):
    """Every GET page of the staff blueprint whose arguments we can fill."""
    from flask import url_for

    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("staff.") or "GET" not in rule.methods:
                continue
            # Not pages: a feed, audio, a CSV download.
            if rule.endpoint in ("staff.calendar_feed", "staff.login", "staff.voicemail_audio",
                                 "staff.admin_recording_take_audio", "staff.admin_recording_script_csv") \
                    or not rule.endpoint.startswith(role_prefixes):
                continue
            values = {name: ids[name] for name in rule.arguments if name in ids}
            if set(values) != set(rule.arguments):
                continue
            query = {"key": "v_main_menu"} if rule.endpoint == "staff.admin_recording_upload" else {}
            yield url_for(rule.endpoint, **values, **query)


def test_staff_pages_and_the_simulator_report_no_csp_violation(browser, linja):
    app, base, ids = linja
    admin_pages = ["/staff/login", f"/staff/search?client={ids['caller_id']}",
                   *get_pages(app, ids, ("staff.admin_", "staff.board", "staff.search", "staff.book",
                                         "staff.appointment", "staff.callbacks", "staff.messages",
                                         "staff.settings", "staff.home"))]
    counselor_pages = list(get_pages(app, ids, ("staff.day", "staff.week", "staff.calendar")))
    assert len(admin_pages) > 15 and len(counselor_pages) >= 3

    page, problems = watched(browser)
    page.goto(base + "/staff/login")
    sign_in(page, base, ADMIN)
    for path in admin_pages:
        response = page.goto(base + path)
        assert response.status == 200 and (path == "/staff/login" or "/staff/login" not in page.url), path
        assert response.headers["content-security-policy"].startswith("default-src 'self'"), path
    # A number no caller has yet: posted, then its page under a reference.
    page.goto(base + "/staff/search")
    page.fill("#phone", "41 00 00 00")
    page.click("button[type=submit]:has-text('Søk')")
    page.wait_for_selector("text=Ingen innringer har nummeret")
    page.close()

    page, more = watched(browser)
    sign_in(page, base, COUNSELOR)
    for path in counselor_pages:
        assert page.goto(base + path).status == 200 and "/staff/login" not in page.url, path
    page.close()

    page, simulator = watched(browser)
    page.goto(base + "/simulator/")
    page.fill("#body", "hi")
    page.click("#send")
    # Not wait_for_function: it polls with eval, which the policy blocks (and reports).
    page.locator("#thread li.received").first.wait_for()
    page.click("button[data-minutes='60']")
    page.click("#studio-call")  # the studio line: its PIN asked for, by the page's call script
    page.locator("#line li").first.wait_for()
    page.click("#call")
    page.locator("#studio-call:not([hidden])").wait_for()
    page.close()

    assert problems + more + simulator == []


def test_an_inline_script_would_be_reported(browser, linja):
    """The watch itself works: Chromium reports what the policy blocks."""
    app, base, _ = linja
    page, problems = watched(browser)
    page.goto(base + "/staff/login")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';
                             document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert any("Content Security Policy" in p for p in problems), problems
    page.close()
