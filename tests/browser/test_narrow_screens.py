"""On a 390 px phone no staff page scrolls sideways as a whole: every GET page under
/staff/ (read from the app's routes, so a new page is measured too), as each role it is
for (the admin in English), over a week of demo data with full queues; a wide table or
the board scrolls inside its own box, its first column kept in view."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import select

from app import create_app
from hotline.voices import text_version
from scheduling import audit
from scheduling.availability import BookingRules, find_free_slots
from scheduling.booking import Booked, book_appointment, cancel_appointment, reschedule_appointment
from scheduling.clients import find_or_create_client, request_callback
from scheduling.clock import FixedClock
from scheduling.demo import DEMO_PASSWORD, load_demo_data
from scheduling.models import (
    Absence,
    Actor,
    Appointment,
    AppointmentStatus,
    BookedVia,
    CallbackRequest,
    Closure,
    DutyShift,
    InboundMessage,
    OpeningHours,
    OutboxMessage,
    OutboxStatus,
    PromptRecording,
    ReplyKind,
    Service,
    Staff,
    StudioTake,
    TakeStatus,
    StaffRole,
    Voicemail,
    WorkingHours,
)
from staff.passwords import hash_password
from tests.conftest import NOW, oslo
from tests.staff.test_roles import allowed

PHONE = {"width": 390, "height": 844}
ACCOUNT = "AC" + "0" * 32
RECORDINGS = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings"
LANGUAGES = ["so", "ar", "ti", "fa", "pl", "ur", "nb", "en"]
ROLES = {StaffRole.counselor: "amina@linja.example", StaffRole.receptionist: "ingrid@linja.example",
         StaffRole.admin: "kari@linja.example"}
# Pages that are not pages: the calendar app's feed and a voicemail's audio.
NOT_PAGES = {"staff.calendar_feed", "staff.voicemail_audio", "staff.admin_recording_take_audio",
             "staff.admin_recording_script_csv"}


def fill_the_week(session) -> dict:
    """The demo, and then a busy Monday: every counselor's day full, queues with a caller
    in every language, a move and a cancellation in the history, absences, recordings."""
    rules = BookingRules()
    load_demo_data(session, NOW, hash_password, rules)
    services = session.scalars(select(Service)).all()
    counselors = session.scalars(select(Staff).where(Staff.role == StaffRole.counselor)).all()
    ingrid = session.scalars(select(Staff).where(Staff.role == StaffRole.receptionist)).one()
    booked = []
    for n in range(24):
        language = LANGUAGES[n % len(LANGUAGES)]
        client = find_or_create_client(session, f"+479100{n:04d}", NOW)
        client.language_code = language
        for service in services:
            slots = find_free_slots(session, service_id=service.id, language_code=language, now=NOW,
                                    rules=rules, limit=1)
            if slots:
                result = book_appointment(session, service_id=service.id, counselor_id=slots[0].counselor_id,
                                          start_at=slots[0].start_at, now=NOW, client=client,
                                          booked_via=[BookedVia.sms, BookedVia.voice, BookedVia.staff][n % 3],
                                          language_code=language, actor=Actor.caller, rules=rules)
                if isinstance(result, Booked):
                    booked.append(result.appointment)
                    break
        session.flush()
    moved = booked[0]
    later = find_free_slots(session, service_id=moved.service_id, language_code=moved.language_code, now=NOW,
                            rules=rules, limit=1, not_before=NOW + timedelta(days=2))[0]
    reschedule_appointment(session, moved, start_at=later.start_at, counselor_id=later.counselor_id, now=NOW,
                           actor=Actor.staff, actor_staff_id=ingrid.id, rules=rules)
    cancel_appointment(session, booked[1], now=NOW, actor=Actor.staff, actor_staff_id=ingrid.id,
                       reason="Hun ringte og sa at hun ikke kan komme likevel, fordi barnet er sykt")
    # Amina's Monday to the last slot (the moved and the cancelled times too): her day, its
    # printout and the board.
    amina = next(c for c in counselors if c.email == ROLES[StaffRole.counselor])
    for n in range(6):
        client = find_or_create_client(session, f"+479200{n:04d}", NOW)
        client.language_code = ["ar", "so", "en"][n % 3]
        slots = find_free_slots(session, service_id=amina.services[n % 2].id,
                                language_code=client.language_code, now=NOW, rules=rules, limit=1,
                                counselor_ids=[amina.id])
        if slots and slots[0].start_at < NOW + timedelta(hours=12):
            result = book_appointment(session, service_id=amina.services[n % 2].id, counselor_id=amina.id,
                                      start_at=slots[0].start_at, now=NOW, client=client,
                                      booked_via=BookedVia.staff, language_code=client.language_code,
                                      actor=Actor.staff, rules=rules)
            assert isinstance(result, Booked)
        session.flush()
    for n, appointment in enumerate(booked[2:8]):
        appointment.is_interpreter_needed = n % 2 == 0
    past = session.scalars(select(Appointment).where(Appointment.status == AppointmentStatus.booked)).first()
    clients = [a.client for a in booked]
    for n, client in enumerate(clients[:8]):
        request_callback(session, client, via=BookedVia.sms if n % 2 else BookedVia.voice,
                         now=NOW - timedelta(hours=n))
        session.add(Voicemail(call_sid=f"CA{n:032d}", client_id=client.id, language_code=client.language_code,
                              recording_url=f"{RECORDINGS}/RE{n:032d}",
                              duration_seconds=30 + n * 17, received_at=NOW - timedelta(minutes=40 * n)))
        session.add(OutboxMessage(client_id=client.id, appointment_id=booked[n].id, kind="reminder",
                                  template="reminder", params={}, language_code=client.language_code,
                                  status=OutboxStatus.undelivered if n % 2 else OutboxStatus.failed,
                                  due_at=NOW - timedelta(hours=n), attempts=5, created_at=NOW, updated_at=NOW,
                                  error_code=["30003", "30005", "30008", "unknown"][n % 4]))
        for m in range(25):
            session.add(InboundMessage(message_sid=f"SM{n:02d}{m:030d}", client_id=client.id,
                                       received_at=NOW - timedelta(minutes=m), reply_twiml="<Response/>",
                                       reply_kind=ReplyKind.over_own_limit if m > 20 else ReplyKind.answered))
    for n in range(6):
        session.add(InboundMessage(message_sid=f"SMX{n:031d}", received_at=NOW - timedelta(hours=n),
                                   reply_twiml="<Response/>", reply_kind=ReplyKind.over_line_limit))
    absence = Absence(staff_id=amina.id, starts_at=oslo(2026, 11, 26, 9), ends_at=oslo(2026, 11, 27, 16),
                      reason="Kurs i traumebevisst rådgivning for hele teamet")
    session.add(absence)
    for code in ("so", "ti"):
        session.add(PromptRecording(prompt_key="v_main_menu", language_code=code, token=f"tok-{code}",
                                    content_type="audio/mpeg", audio=b"ID3", uploaded_at=NOW,
                                    text_version=text_version("v_main_menu")))
    # Takes from the studio line, waiting for someone to approve them.
    for n, key in enumerate(("v_main_menu", "v_slot_option#0", "weekday:0")):
        session.add(StudioTake(recording_sid=f"RE{n:032d}", call_sid="CA" + "9" * 32, staff_id=amina.id,
                               language_code="so", prompt_key=key, text_version=text_version(key.partition("#")[0])
                               if not key.startswith("weekday") else None, status=TakeStatus.waiting,
                               is_ready=True, content_type="audio/wav", audio=b"RIFF....WAVE", tries=1,
                               recorded_at=NOW, updated_at=NOW))
    # The admin reads her pages in English, whose words are often longer.
    session.scalars(select(Staff).where(Staff.role == StaffRole.admin)).one().ui_locale = "en"
    audit.record(session, at=NOW, actor=Actor.staff, actor_staff_id=ingrid.id, action="caller_viewed",
                 details={"client": clients[0].id})
    session.commit()
    return {
        "appointment_id": moved.id, "staff_id": amina.id, "service_id": services[0].id,
        "absence_id": absence.id,
        "closure_id": session.scalars(select(Closure.id)).first(),
        "request_id": session.scalars(select(CallbackRequest.id)).first(),
        "voicemail_id": session.scalars(select(Voicemail.id)).first(),
        "shift_id": session.scalars(select(DutyShift.id)).first(), "client_id": clients[0].id,
        "hours_id": session.scalars(select(WorkingHours.id)).first(),
        "opening_hours_id": session.scalars(select(OpeningHours.id)).first(), "code": "so",
        "past": past.id, "take_id": session.scalars(select(StudioTake.id)).first(), "decision": "approve",
    }


@pytest.fixture
def linja(database_url, sessions, db_session, live_server):
    ids = fill_the_week(db_session)
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": FixedClock(NOW),
                      "PUBLIC_BASE_URL": "http://127.0.0.1", "TWILIO_ACCOUNT_SID": ACCOUNT,
                      "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+4759440000",
                      "TWILIO_API_BASE": "http://127.0.0.1:9"})
    yield app, live_server(app), ids
    app.extensions["linja.engine"].dispose()


def pages_for(app, role: StaffRole, ids: dict) -> list[str]:
    """Every GET page under /staff/ this role may open, with sample ids, and the states
    of a page that only a query string shows (a caller's page, the times to book, print)."""
    paths = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/staff/") or "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
                continue
            roles = allowed(rule.endpoint)
            if roles is not None and role not in roles:
                continue
            # "hours_id" names a counselor's working hours, or under /opening/ the centre's.
            values = {name: ids["opening_hours_id" if name == "hours_id" and "/opening/" in rule.rule
                                else name] for name in rule.arguments}
            query = {"key": "v_main_menu"} if rule.endpoint == "staff.admin_recording_upload" else {}
            paths.append(url_for(rule.endpoint, **values, **query))
        if role == StaffRole.counselor:
            paths += [url_for("staff.day", print=1), url_for("staff.day", day="2026-11-24"),
                      url_for("staff.week", week="2026-11-30")]
        else:
            paths += [url_for("staff.search", client=ids["client_id"]),
                      url_for("staff.book", client=ids["client_id"], language="so", service=ids["service_id"]),
                      url_for("staff.board", day="2026-11-24"),
                      url_for("staff.appointment", appointment_id=ids["past"])]
        # A page for another role, and an address that does not exist.
        paths += ["/staff/admin/staff" if role != StaffRole.admin else "/staff/day", "/staff/no-such-page"]
    return paths


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/staff/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/staff/login" not in url)


def too_wide(page) -> list[str]:
    """The page's width, and what sticks out past the screen's right edge (for the message)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= PHONE["width"]:
        return []
    culprits = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > innerWidth + 1
                     && !e.closest('.scroll, .board') && e.getClientRects().length)
        .slice(0, 4).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
                             + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')""")
    return [f"{width}px", *culprits]


def test_no_staff_page_is_wider_than_a_phone(browser, linja):
    app, base, ids = linja
    wide = {}
    visited = 0
    for role, email in ROLES.items():
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        page.goto(base + "/staff/no-such-page")  # a stranger's error page
        if problem := too_wide(page):
            wide["anyone /staff/no-such-page"] = problem
        sign_in(page, base, email)
        for path in pages_for(app, role, ids):
            response = page.goto(base + path)
            assert response.status < 500, path
            visited += 1
            if problem := too_wide(page):
                wide[f"{role.value} {path}"] = problem
        context.close()
    assert visited > 40
    assert not wide, "wider than a phone:\n" + "\n".join(f"{path}: {', '.join(why)}" for path, why in wide.items())


def test_the_board_scrolls_in_its_own_box_with_the_first_column_in_view(browser, linja, screenshot):
    app, base, ids = linja
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, base, ROLES[StaffRole.receptionist])
    screenshot(page, "narrow-board")
    board = page.locator(".board")
    assert board.evaluate("b => b.scrollWidth > b.clientWidth")  # the columns go on past the screen
    board.evaluate("b => b.scrollLeft = b.scrollWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.goto(base + "/staff/callbacks")
    # The call-back queue fits a phone as it is: "Ring" and "Ferdig" in view on every row.
    for button in page.locator("td button").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], button.inner_text()
    screenshot(page, "narrow-callbacks")

    page.goto(base + "/staff/messages")
    table = page.locator(".scroll table").first
    first = table.locator("tbody tr:first-child > :first-child")
    at_rest = first.bounding_box()["x"]
    page.locator(".scroll").first.evaluate("box => box.scrollLeft = box.scrollWidth")
    assert first.bounding_box()["x"] == pytest.approx(at_rest, abs=1)  # the first column stays in view
    assert page.locator("button:has-text('Ferdig')").first.is_visible()
    page.locator(".scroll").first.evaluate("box => box.scrollLeft = 0")
    screenshot(page, "narrow-messages")
    page.goto(base + f"/staff/appointments/{ids['appointment_id']}")
    screenshot(page, "narrow-appointment")
    context.close()

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, base, ROLES[StaffRole.admin])
    assert page.locator("html").get_attribute("lang") == "en"
    for name, path in (("narrow-staff", "/staff/admin/staff"), ("narrow-audit", "/staff/admin/audit")):
        page.goto(base + path)
        screenshot(page, name)
    context.close()

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, base, ROLES[StaffRole.counselor])
    page.goto(base + "/staff/day?print=1")
    screenshot(page, "narrow-print")
    page.goto(base + "/staff/board")
    screenshot(page, "narrow-forbidden")
    context.close()
