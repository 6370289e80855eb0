"""Every /staff page as each role and as a stranger: only the roles it is meant for get it;
every POST without a CSRF token is refused and changes nothing."""
from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import func, select

from scheduling.models import (
    Absence,
    AuditEntry,
    CallbackRequest,
    Closure,
    DutyShift,
    OpeningHours,
    StaffRole,
    StudioTake,
    TakeStatus,
    Voicemail,
    WorkingHours,
)
from tests.conftest import NOW, fresh, oslo
from tests.staff.support import PASSWORD_HASH, sign_in

COUNSELOR, RECEPTIONIST, ADMIN, RECORDER = (StaffRole.counselor, StaffRole.receptionist, StaffRole.admin,
                                            StaffRole.recorder)
EVERYONE = {COUNSELOR, RECEPTIONIST, ADMIN, RECORDER}
DESK = {RECEPTIONIST, ADMIN}

# Who may use each page. A new /staff route must be added here, or the test fails.
ALLOWED = {
    "staff.login": None,  # public
    "staff.calendar_feed": None,  # public, guarded by its secret token (tests/staff/test_calendar_feed.py)
    "staff.home": EVERYONE,
    "staff.settings": EVERYONE,
    "staff.change_password": EVERYONE,
    "staff.logout": EVERYONE,
    "staff.day": {COUNSELOR},
    "staff.week": {COUNSELOR},
    "staff.attendance": {COUNSELOR},
    "staff.calendar": {COUNSELOR},
    "staff.calendar_create": {COUNSELOR},
    "staff.calendar_revoke": {COUNSELOR},
    "staff.board": DESK,
    "staff.search": DESK,
    "staff.search_number": DESK,
    "staff.book": DESK,
    "staff.book_times": DESK,
    "staff.book_slot": DESK,
    "staff.book_second": DESK,
    "staff.appointment": DESK,
    "staff.move_appointment": DESK,
    "staff.confirm_move": DESK,
    "staff.cancel": DESK,
    "staff.ask_cancel": DESK,
    "staff.confirm_cancel": DESK,
    "staff.callbacks": DESK,
    "staff.call_back": DESK,
    "staff.callback_done": DESK,
    "staff.messages": DESK,
    "staff.voicemail_done": DESK,
    "staff.voicemail_audio": DESK,
    "staff.clear_code_word": DESK,
    "staff.set_contact_terms": DESK,
    "staff.limited": DESK,
}


# The admin pages a recorder may open too (the studio's takes she may approve): none but
# these, and never a page with callers, appointments or the desk.
OPEN_TO_RECORDERS = {"staff.admin_recordings", "staff.admin_recordings_language", "staff.admin_recording_takes",
                     "staff.admin_recording_take_audio", "staff.admin_recording_take_decide",
                     "staff.admin_recording_script", "staff.admin_recording_script_csv"}


def allowed(endpoint: str):
    if endpoint in OPEN_TO_RECORDERS:
        return {ADMIN, RECORDER}
    if endpoint.startswith("staff.admin_"):
        return {ADMIN}
    assert endpoint in ALLOWED, f"{endpoint} is a new staff route: say who may use it in ALLOWED"
    return ALLOWED[endpoint]


@pytest.fixture
def world(make, db_session):
    """One of everything a staff URL can name."""
    make.opening_hours()
    service = make.service(names={"nb": "Samtale", "en": "Talk"})
    members = {
        COUNSELOR: make.counselor(name="Amina", email="amina@linja.test", languages=["so", "nb"],
                                  services=[service], password_hash=PASSWORD_HASH),
        RECEPTIONIST: make.counselor(name="Ingrid", email="ingrid@linja.test", role=RECEPTIONIST,
                                     password_hash=PASSWORD_HASH),
        ADMIN: make.counselor(name="Kari", email="kari@linja.test", role=ADMIN, password_hash=PASSWORD_HASH),
        RECORDER: make.counselor(name="Tigist", email="tigist@linja.test", role=RECORDER, languages=["ti", "so"],
                                 password_hash=PASSWORD_HASH),
    }
    caller = make.client(phone_e164="+4790000000", language_code="so")
    appointment = make.appointment(members[COUNSELOR], service, oslo(2026, 11, 24, 10, 0), client=caller,
                                   language_code="so")
    absence = make.absence(members[COUNSELOR], oslo(2026, 12, 1, 9, 0), oslo(2026, 12, 1, 12, 0))
    closure = make.closure(oslo(2026, 12, 24, 0, 0).date(), oslo(2026, 12, 31, 0, 0).date())
    callback = CallbackRequest(client_id=caller.id, language_code="so", requested_via="voice", requested_at=NOW)
    voicemail = Voicemail(call_sid="CA" + "0" * 32, client_id=caller.id, language_code="so",
                          recording_url="http://127.0.0.1:9/Recordings/RE1", received_at=NOW)
    shift = DutyShift(staff_id=members[RECEPTIONIST].id, weekday=0, starts=oslo(2026, 1, 1, 9).time(),
                      ends=oslo(2026, 1, 1, 16).time())
    take = StudioTake(recording_sid="RE" + "b" * 32, call_sid="CA" + "1" * 32, staff_id=members[ADMIN].id,
                      language_code="so", prompt_key="v_main_menu", status=TakeStatus.waiting, is_ready=True,
                      content_type="audio/wav", audio=b"RIFF....WAVE", tries=1, recorded_at=NOW, updated_at=NOW)
    db_session.add_all([callback, voicemail, shift, take])
    db_session.flush()
    ids = {
        "appointment_id": appointment.id, "staff_id": members[COUNSELOR].id, "service_id": service.id,
        "absence_id": absence.id, "closure_id": closure.id, "request_id": callback.id,
        "voicemail_id": voicemail.id, "shift_id": shift.id, "client_id": caller.id,
        "hours_id": db_session.scalars(select(WorkingHours.id)).first(),
        "opening_hours_id": db_session.scalars(select(OpeningHours.id)).first(),
        "code": "so", "take_id": take.id, "decision": "approve",
    }
    db_session.commit()
    return members, ids


def staff_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("staff."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


# Pages that need a question as well as a path.
QUERY = {"staff.admin_recording_upload": {"key": "v_main_menu"}}


def url(rule, ids) -> str:
    # "hours_id" names a counselor's working hours, or under /opening/ the centre's.
    values = {name: ids["opening_hours_id" if name == "hours_id" and "/opening/" in rule.rule else name]
              for name in rule.arguments}
    return url_for(rule.endpoint, **values, **QUERY.get(rule.endpoint, {}))


def test_every_staff_page_answers_only_the_roles_it_is_for(app, client, world, db_session):
    members, ids = world
    with app.test_request_context():
        gets = [(rule.endpoint, url(rule, ids)) for rule, method in staff_routes(app)
                if method == "GET" and rule.endpoint != "staff.calendar_feed"]
    for endpoint, _ in gets:
        allowed(endpoint)

    # A stranger is sent to sign in from every page but the sign-in page.
    for endpoint, path in gets:
        response = client.get(path)
        if endpoint == "staff.login":
            assert response.status_code == 200
        else:
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/staff/login"), path

    for role, member in members.items():
        signed_in = app.test_client()
        assert sign_in(signed_in, member.email).status_code == 302
        for endpoint, path in gets:
            if endpoint == "staff.login":
                continue
            response = signed_in.get(path)
            expected = allowed(endpoint)
            if role in expected:
                assert response.status_code in (200, 302), f"{role.value} {path}: {response.status_code}"
                if response.status_code == 302:
                    # A confirmation (or the question of a second time) asked for without what it
                    # confirms shows the appointment (or the times to book).
                    assert endpoint in ("staff.home", "staff.confirm_move", "staff.confirm_cancel",
                                        "staff.book_second"), f"{role.value} {path} redirects"
            else:
                assert response.status_code == 403, f"{role.value} should not see {path}"


def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(app, world, db_session):
    members, ids = world
    with app.test_request_context():
        posts = [(rule.endpoint, url(rule, ids)) for rule, method in staff_routes(app) if method == "POST"]
    assert len(posts) >= 20

    def counts():
        session = fresh(db_session)
        return [session.scalar(select(func.count()).select_from(table))
                for table in (AuditEntry, Absence, Closure, DutyShift, WorkingHours, OpeningHours)]

    before = counts()
    for endpoint, path in posts:
        roles = allowed(endpoint) or {ADMIN}
        role = sorted(roles, key=lambda r: r.value)[0]
        signed_in = app.test_client()
        sign_in(signed_in, members[role].email)
        response = signed_in.post(path, data={"reason": "x", "name": "x"})
        assert response.status_code == 400, f"{path} accepted a POST without a CSRF token"
    assert counts() == before
