"""SQL and HTML injection in every text a caller or a staff member can send: stored as the
text it is, shown escaped, and no page breaks on it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from scheduling.clients import find_client
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Client,
    OutboxMessage,
    OutboxStatus,
    Service,
    Staff,
    StaffRole,
)
from tests.conftest import NOW, fresh, oslo
from tests.hotline.twilio_client import Phone
from tests.staff.support import PASSWORD_HASH, post_form, sign_in, tokens

NUMBER = "+4791234567"
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
PAYLOADS = [SCRIPT, "'; DROP TABLE clients;--", "{{7*7}}", "%s%s%n", "\u202eevil", "a\x00b",
            '"><img src=x onerror=alert(1)>', "${7*7}", "\\x00' OR '1'='1"]
# Everything at once, short enough for an 80-character name.
MIXED = f"{SCRIPT} {{{{7*7}}}} %s '; DROP TABLE clients;-- \u202eevil"
DESK_PAGES = ["/staff/board", "/staff/callbacks", "/staff/messages", "/staff/limits"]


def assert_harmless(html: str) -> None:
    assert SCRIPT not in html and "<img src=x" not in html


@pytest.fixture
def desk(client, make, db_session):
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    make.counselor(name="Hanne", email="hanne@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    db_session.commit()
    return client


# --- what callers send ---------------------------------------------------------------------------

def test_whatever_a_caller_texts_is_kept_harmless_and_every_desk_page_still_opens(app, desk, centre, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 1000  # this caller sends many texts on purpose
    phone = Phone(desk, app, NUMBER)
    # At every step of a booking, each payload; then the booking goes on.
    for step in (["hei"], ["4"], ["1"], ["1"]):
        for body in PAYLOADS:
            assert phone.text(body) is not None
        for body in step:
            phone.text(body)
    phone.text("1")
    phone.text("1")
    # A call-back asked for, a voicemail with a hostile recording address, a failed text
    # whose error code is hostile: the queues show what callers and Twilio sent.
    phone.text("0")
    phone.text("4")
    phone.text("3")
    voice = {"CallSid": "CA" + "9" * 32, "From": NUMBER, "To": "+4722000000", "CallStatus": "completed"}
    phone.post("/hotline/voice", voice)
    phone.post("/hotline/voice/recorded", {**voice, "RecordingUrl": f"https://x.test/{SCRIPT}",
                                           "RecordingDuration": SCRIPT})
    caller = find_client(fresh(db_session), NUMBER)
    db_session.add(OutboxMessage(client_id=caller.id, kind="reminder", template="reminder", params={},
                                 language_code="so", status=OutboxStatus.sent, due_at=NOW, attempts=1,
                                 created_at=NOW, updated_at=NOW, provider_sid="SM" + "e" * 32))
    db_session.commit()
    report = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "failed", "ErrorCode": SCRIPT}
    assert phone.post("/hotline/sms/status", report).status_code == 204

    # The tables are all still there, her booking stands.
    fresh(db_session)
    assert db_session.scalar(select(func.count()).select_from(Client)) == 1
    [booked] = db_session.scalars(select(Appointment)).all()
    assert booked.status == AppointmentStatus.booked

    assert sign_in(desk, "ingrid@linja.test").status_code == 302
    pages = DESK_PAGES + [f"/staff/search?client={caller.id}", f"/staff/appointments/{booked.id}"]
    for path in pages:
        response = desk.get(path)
        assert response.status_code == 200, path
        assert_harmless(response.get_data(as_text=True))
    messages = desk.get("/staff/messages").get_data(as_text=True)
    assert "&lt;script&gt;" in messages  # the error code, escaped (cut to its 20 characters)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_search_is_answered_kindly(desk, payload):
    assert sign_in(desk, "ingrid@linja.test").status_code == 302
    response = post_form(desk, "/staff/search", {"phone": payload})
    assert response.status_code in (303, 400)
    if response.status_code == 303:
        response = desk.get(response.headers["Location"])
        assert response.status_code == 200
    assert_harmless(response.get_data(as_text=True))


# --- what staff type -----------------------------------------------------------------------------

def _saved(response) -> None:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]


def test_what_staff_type_is_stored_as_typed_and_shown_escaped(desk, centre, make, db_session):
    counselor = centre["counselors"]["so"]
    caller = make.client(NUMBER, language_code="so")
    appointment = make.appointment(counselor, centre["talk"], oslo(2026, 11, 24, 10, 0), client=caller)
    db_session.commit()
    assert sign_in(desk, "hanne@linja.test").status_code == 302

    _saved(post_form(desk, "/staff/admin/services/new", {
        "slug": "hostile", "name_nb": MIXED, "duration_minutes": "30", "buffer_minutes": "10",
        "menu_order": "9", "is_active": "y"}))
    _saved(post_form(desk, "/staff/admin/staff/new", {
        "name": MIXED, "email": "mixed@linja.test", "role": "counselor", "phone": "",
        "is_active": "y", "languages": ["nb"], "services": [str(centre["talk"].id)], "password": "correct horse battery"}))
    calendar = f"/staff/admin/staff/{counselor.id}/calendar"
    _saved(post_form(desk, f"/staff/admin/staff/{counselor.id}/absences", {
        "first_day": "2026-11-25", "starts": "", "last_day": "2026-11-25", "ends": "", "reason": MIXED},
        page=calendar))
    _saved(post_form(desk, "/staff/admin/opening/closures",
                     {"first_day": "2026-12-24", "last_day": "2026-12-26", "reason": MIXED}, page="/staff/admin/opening"))
    path = f"/staff/appointments/{appointment.id}"
    html = desk.get(path).get_data(as_text=True)
    version = re.search(r'name="version" (?:type="hidden" )?value="(\d+)"', html).group(1)
    _saved(desk.post(f"{path}/cancel", data={"confirm": "1", "reason": MIXED, "version": version, **tokens(html)}))

    session = fresh(db_session)
    assert session.scalars(select(Service).where(Service.slug == "hostile")).one().name_in("nb") == MIXED
    assert session.scalars(select(Staff).where(Staff.email == "mixed@linja.test")).one().name == MIXED
    assert session.get(Appointment, appointment.id).cancel_reason == MIXED
    assert session.scalar(select(func.count()).select_from(Client)) == 1  # no table dropped

    shown = {
        "/staff/admin/services": MIXED, "/staff/admin/staff": MIXED, calendar: MIXED,
        "/staff/admin/opening": MIXED, path: MIXED, f"/staff/search?client={caller.id}": MIXED,
        "/staff/admin/audit": None, "/staff/board": None,
    }
    for page, expected in shown.items():
        response = desk.get(page)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, page
        assert_harmless(html)
        if expected:
            assert ESCAPED_SCRIPT in html, page
            assert "{{7*7}}" in html and "&#39;; DROP TABLE clients;--" in html, page


@pytest.mark.parametrize("text", ["a\x00b", "\u202e" * 50, "x" * 5000])
def test_odd_staff_text_is_refused_or_kept_never_an_error(desk, centre, make, db_session, text):
    caller = make.client(NUMBER, language_code="so")
    appointment = make.appointment(centre["counselors"]["so"], centre["talk"], oslo(2026, 11, 24, 10, 0),
                                   client=caller)
    db_session.commit()
    assert sign_in(desk, "ingrid@linja.test").status_code == 302
    path = f"/staff/appointments/{appointment.id}"
    html = desk.get(path).get_data(as_text=True)
    version = re.search(r'name="version" (?:type="hidden" )?value="(\d+)"', html).group(1)
    response = desk.post(f"{path}/cancel", data={"confirm": "1", "reason": text, "version": version,
                                                 **tokens(html)})
    assert response.status_code in (303, 400)
    assert desk.get(path).status_code == 200
    if response.status_code == 303:  # kept as typed, less the NUL no database stores
        reason = fresh(db_session).get(Appointment, appointment.id).cancel_reason
        assert reason == text.replace("\x00", "")[:len(reason)] and reason
