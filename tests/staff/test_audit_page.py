"""Who saw which caller: the desk's look-ups are audited, and admins read the trail on
/staff/admin/audit, newest first, filtered and paged, without any phone number."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduling import audit
from scheduling.models import Actor, AuditEntry, StaffRole, Voicemail
from staff.admin.audit import PER_PAGE
from tests.conftest import NOW, fresh, oslo
from tests.staff.support import PASSWORD_HASH, post_form, sign_in

CALLER_NUMBER = "+4790011223"


@pytest.fixture
def people(make, db_session):
    service = make.service(names={"nb": "Samtale", "en": "Talk"})
    amina = make.counselor(name="Amina", email="amina@linja.test", services=[service], password_hash=PASSWORD_HASH)
    ingrid = make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist,
                            password_hash=PASSWORD_HASH)
    kari = make.counselor(name="Kari", email="kari@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    caller = make.client(phone_e164=CALLER_NUMBER, language_code="so")
    appointment = make.appointment(amina, service, oslo(2026, 11, 24, 10, 0), client=caller, language_code="so")
    db_session.commit()
    return {"amina": amina, "ingrid": ingrid, "kari": kari, "caller": caller, "appointment": appointment}


def signed_in(app, email):
    browser = app.test_client()
    assert sign_in(browser, email).status_code == 302
    return browser


def entries(db_session, action):
    return fresh(db_session).scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_opening_a_callers_data_at_the_desk_is_audited(app, people, db_session):
    ingrid = signed_in(app, "ingrid@linja.test")
    caller, appointment = people["caller"], people["appointment"]

    for typed in ("90011223", "90099999"):  # the second is no one's: nothing seen
        found = post_form(ingrid, "/staff/search", {"phone": typed})
        assert found.status_code == 303 and ingrid.get(found.headers["Location"]).status_code == 200
    [viewed] = entries(db_session, "caller_viewed")
    assert viewed.actor == Actor.staff and viewed.actor_staff_id == people["ingrid"].id
    assert viewed.details == {"client": caller.id} and viewed.at == NOW
    # Booking for her by her client id shows her number too: also a look-up.
    assert ingrid.get(f"/staff/book?client={caller.id}").status_code == 200
    assert [e.details for e in entries(db_session, "caller_viewed")] == [{"client": caller.id}] * 2

    assert ingrid.get(f"/staff/appointments/{appointment.id}").status_code == 200
    [seen] = entries(db_session, "appointment_viewed")
    assert seen.appointment_id == appointment.id and seen.actor_staff_id == people["ingrid"].id
    # Looking is not a change: the appointment's own history does not list it.
    assert "appointment_viewed" not in ingrid.get(f"/staff/appointments/{appointment.id}").get_data(as_text=True)

    voicemail = Voicemail(call_sid="CA" + "1" * 32, client_id=caller.id, language_code="so",
                          recording_url="https://api.twilio.com/x/RE1", received_at=NOW)
    fresh(db_session).add(voicemail)
    db_session.commit()
    ingrid.get(f"/staff/voicemails/{voicemail.id}/audio")
    [played] = entries(db_session, "voicemail_played")
    assert played.details == {"voicemail": voicemail.id, "client": caller.id}

    for entry in fresh(db_session).scalars(select(AuditEntry)):
        assert "90011223" not in repr(entry.details)


def test_a_counselors_own_day_is_not_audited(app, people, db_session):
    amina = signed_in(app, "amina@linja.test")
    assert amina.get("/staff/day?day=2026-11-24").status_code == 200
    assert fresh(db_session).scalars(select(AuditEntry)).all() == []


def test_only_admins_read_the_trail(app, people):
    for email in ("amina@linja.test", "ingrid@linja.test"):
        assert signed_in(app, email).get("/staff/admin/audit").status_code == 403
    assert app.test_client().get("/staff/admin/audit").status_code == 302
    admin = signed_in(app, "kari@linja.test")
    assert 'href="/staff/admin/audit"' in admin.get("/staff/admin/").get_data(as_text=True)


def test_the_trail_shows_who_when_what_and_which_appointment_without_numbers(app, people, db_session):
    appointment = people["appointment"]
    audit.record(db_session, at=oslo(2026, 11, 20, 9, 15), actor=Actor.caller, action="booked",
                 appointment_id=appointment.id, details={"start_at": "2026-11-24T09:00:00+00:00"})
    audit.record(db_session, at=oslo(2026, 11, 21, 14, 5), actor=Actor.staff, actor_staff_id=people["ingrid"].id,
                 action="cancelled", appointment_id=appointment.id,
                 details={"reason": "ring henne på 900 11 223 eller +47 90011223", "phone_e164": CALLER_NUMBER})
    audit.record(db_session, at=oslo(2026, 11, 22, 8, 0), actor=Actor.system, action="reminders_planned")
    db_session.commit()
    html = signed_in(app, "kari@linja.test").get("/staff/admin/audit").get_data(as_text=True)

    assert "Avlyste en time" in html and "Bestilte en time" in html and "reminders_planned" in html
    assert "Ingrid" in html and "innringer" in html and "system" in html
    assert "lør. 21. nov. 2026 14:05:00" in html  # Oslo time, not UTC
    assert f'href="/staff/appointments/{appointment.id}"' in html
    assert "ring henne på •••" in html
    for written in ("90011223", "900 11 223", "phone_e164"):
        assert written not in html, written
    assert "start_at: tir. 24. nov. 2026 10:00" in html  # an instant in the details, in Oslo time
    # Newest first.
    table = html[html.index("<table"):]
    assert table.index("reminders_planned") < table.index("Avlyste en time") < table.index("Bestilte en time")


def test_filters_by_staff_action_appointment_and_date(app, people, db_session, make):
    other = make.appointment(people["amina"], people["appointment"].service, oslo(2026, 11, 25, 10, 0))
    ingrid_id, kari_id = people["ingrid"].id, people["kari"].id
    rows = [
        (oslo(2026, 11, 2, 10, 0), ingrid_id, "appointment_viewed", people["appointment"].id),
        (oslo(2026, 11, 3, 23, 30), ingrid_id, "moved", other.id),  # 3 Nov in Oslo, 22:30 UTC
        (oslo(2026, 11, 4, 0, 30), kari_id, "appointment_viewed", other.id),  # 3 Nov 23:30 UTC
    ]
    for at, staff_id, action, appointment_id in rows:
        audit.record(db_session, at=at, actor=Actor.staff, actor_staff_id=staff_id, action=action,
                     appointment_id=appointment_id)
    db_session.commit()
    admin = signed_in(app, "kari@linja.test")

    def shown(query):
        response = admin.get("/staff/admin/audit?" + query)
        assert response.status_code == 200, query
        html = response.get_data(as_text=True)
        return html.count("<time ")

    assert shown("") == 3
    assert shown(f"who={ingrid_id}") == 2
    assert shown(f"who={kari_id}&action=appointment_viewed") == 1
    assert shown("action=moved") == 1
    assert shown(f"appointment={other.id}") == 2
    assert shown("since=2026-11-03&until=2026-11-03") == 1  # the day in Oslo
    assert shown("since=2026-11-04") == 1
    assert shown("who=caller") == 0
    response = admin.get("/staff/admin/audit?since=3.11.2026&appointment=x")
    assert response.status_code == 400
    assert "ÅÅÅÅ-MM-DD" in response.get_data(as_text=True)


def test_the_trail_is_paged(app, people, db_session):
    for n in range(PER_PAGE + 5):
        audit.record(db_session, at=NOW - timedelta(minutes=n), actor=Actor.staff,
                     actor_staff_id=people["ingrid"].id, action="appointment_viewed",
                     appointment_id=people["appointment"].id)
    db_session.commit()
    admin = signed_in(app, "kari@linja.test")
    first = admin.get("/staff/admin/audit?action=appointment_viewed").get_data(as_text=True)
    assert first.count("<time ") == PER_PAGE and "page=2" in first and "action=appointment_viewed" in first
    second = admin.get("/staff/admin/audit?action=appointment_viewed&page=2").get_data(as_text=True)
    assert second.count("<time ") == 5 and "page=1" in second
    assert admin.get("/staff/admin/audit?page=99").status_code == 200
