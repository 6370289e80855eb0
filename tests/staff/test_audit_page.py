"""Who saw which caller: the desk's look-ups are audited, and admins read the trail on
/staff/admin/audit, newest first, filtered and paged, without any phone number."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from scheduling import audit
from scheduling.booking import Booked, book_appointment, cancel_appointment, reschedule_appointment
from scheduling.codeword import clear_code_word, set_code_word
from scheduling.models import Actor, Appointment, AppointmentStatus, AuditEntry, BookedVia, StaffRole, Voicemail
from staff.counselor import mark_attendance
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


def text_of(html: str) -> str:
    """What a person reads on the page: its text, without tags or attributes."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


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

    # An action Linja has no words for (an older version's) is "Annen hendelse", never its code.
    assert "Avlyste en time" in html and "Bestilte en time" in html and "Annen hendelse" in html
    assert "reminders_planned" not in text_of(html)
    assert "Ingrid" in html and "innringer" in html and "system" in html
    assert "lør. 21. nov. 2026 14:05:00" in html  # Oslo time, not UTC
    assert f'href="/staff/appointments/{appointment.id}"' in html
    assert "ring henne på •••" in html
    for written in ("90011223", "900 11 223", "phone_e164"):
        assert written not in html, written
    assert "Bestilt: 24. nov. 10:00" in html and "start_at" not in html  # in Oslo time, in words
    # Newest first.
    table = html[html.index("<table"):]
    assert table.index("Annen hendelse") < table.index("Avlyste en time") < table.index("Bestilte en time")


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


# --- every line in words -------------------------------------------------------------------


@pytest.fixture
def moved_and_cancelled(people, make, db_session):
    """Ingrid books for the caller at the desk, moves her from Amina to Sana and cancels
    another appointment; the caller chose a code word, which Ingrid cleared."""
    make.opening_hours()
    sana = make.counselor(name="Sana", services=[people["appointment"].service])
    service, caller, ingrid = people["appointment"].service, people["caller"], people["ingrid"]
    booked = book_appointment(db_session, service_id=service.id, counselor_id=people["amina"].id,
                              start_at=oslo(2026, 12, 8, 10, 0), now=NOW, booked_via=BookedVia.staff, client=caller,
                              language_code="so", actor=Actor.staff, actor_staff_id=ingrid.id)
    appointment = booked.appointment
    assert isinstance(reschedule_appointment(db_session, appointment, start_at=oslo(2026, 12, 9, 12, 0), now=NOW,
                                             counselor_id=sana.id, actor=Actor.staff, actor_staff_id=ingrid.id),
                      Booked)
    assert isinstance(cancel_appointment(db_session, people["appointment"], now=NOW, actor=Actor.staff,
                                         actor_staff_id=ingrid.id, reason="Hun er syk, ring 900 11 223"), Booked)
    set_code_word(db_session, caller, "2468", NOW)
    clear_code_word(db_session, caller, staff_id=ingrid.id, now=NOW)
    db_session.commit()
    return {"appointment": appointment, "sana": sana}


@pytest.mark.parametrize("locale, lines", [
    ("nb", ["Bestilt av resepsjonen: Amina, Samtale, 8. des. 10:00, tolk: ja",
            "Flyttet fra Amina 8. des. 10:00 til Sana 9. des. 12:00",
            "Avlyst: Hun er syk, ring •••", "innringer …23"]),
    ("en", ["Booked by the desk: Amina, Samtale, Dec 8 10:00, interpreter: yes",
            "Moved from Amina Dec 8 10:00 to Sana Dec 9 12:00",
            "Cancelled: Hun er syk, ring •••", "caller …23"]),
])
def test_the_trail_tells_each_change_in_words_with_names(app, people, moved_and_cancelled, db_session, locale, lines):
    people["kari"].ui_locale = locale
    fresh(db_session).merge(people["kari"])
    db_session.commit()
    text = text_of(signed_in(app, "kari@linja.test").get("/staff/admin/audit").get_data(as_text=True))
    for line in lines:
        assert line in text, line
    for raw in ("counselor_id", "service_id", "interpreter:  false", "via:", "client:", "start_at", "true", "false",
                "None", "staff:"):
        assert raw not in text.replace("Linja", ""), raw
    assert "90011223" not in text and "900 11 223" not in text


@pytest.mark.parametrize("locale, lines", [
    ("nb", ["Ingrid · Bestilt av resepsjonen: Amina, Samtale, 8. des. 10:00, tolk: ja",
            "Ingrid · Flyttet fra Amina 8. des. 10:00 til Sana 9. des. 12:00"]),
    ("en", ["Ingrid · Booked by the desk: Amina, Samtale, Dec 8 10:00, interpreter: yes",
            "Ingrid · Moved from Amina Dec 8 10:00 to Sana Dec 9 12:00"]),
])
def test_an_appointments_history_reads_as_plain_words(app, people, moved_and_cancelled, db_session, locale, lines):
    people["ingrid"].ui_locale = locale
    fresh(db_session).merge(people["ingrid"])
    db_session.commit()
    html = signed_in(app, "ingrid@linja.test").get(
        f"/staff/appointments/{moved_and_cancelled['appointment'].id}").get_data(as_text=True)
    history = text_of(html[html.index('id="history-heading"'):])
    for line in lines:
        assert line in history, line
    assert "?" not in history and "booked" not in history and "moved" not in history


def test_marking_who_came_reads_as_words_in_the_history(app, people, clock, db_session):
    clock.set(oslo(2026, 11, 24, 11, 0))
    appointment = fresh(db_session).get(Appointment, people["appointment"].id)
    assert isinstance(mark_attendance(db_session, appointment, AppointmentStatus.no_show, now=clock.now(),
                                      staff_id=people["amina"].id, expected_version=appointment.version), Booked)
    db_session.commit()
    html = signed_in(app, "ingrid@linja.test").get(f"/staff/appointments/{appointment.id}").get_data(as_text=True)
    history = text_of(html[html.index('id="history-heading"'):])
    assert "Amina · Oppmøte endret fra «Bestilt» til «Møtte ikke»" in history
    assert "attendance" not in history and "?" not in history


def test_old_and_odd_entries_still_read_plainly(app, people, db_session):
    """Rows written by an older Linja, or holding what this one does not know, are shown
    in plain words with what can be read; never a key name, never a 500."""
    appointment_id = people["appointment"].id
    odd = [
        ("moved", {"from": {"start_at": "not a time", "room": 4}, "to": "?"}),
        ("moved", {"from": {"counselor_id": 99999, "start_at": "2026-11-24T09:00:00+00:00"}}),
        ("booked", {"counselor_id": "x", "service_id": None, "via": "fax", "start_at": 17}),
        ("attendance", {"from": "maybe", "to": "attended"}),
        ("cancelled", {"reason": ["a", "list"]}),
        ("caller_viewed", {"client": 123456, "extra_key": "value"}),
        ("working_hours_added", {"staff": "abc", "weekday": 9, "starts": 900, "valid_from": "2026-13-01"}),
        ("languages_changed", {"languages": {"xx": {"is_enabled": "yes"}, "ar": 3}}),
        ("recording_added", {"prompt_key": "v_gone_prompt#7", "language": "zz"}),
        ("a_new_kind_of_thing", {"secret_key_name": 1}),
        ("staff_changed", "just a string"),
    ]
    for n, (action, details) in enumerate(odd):
        audit.record(db_session, at=NOW - timedelta(minutes=n), actor=Actor.staff,
                     actor_staff_id=people["ingrid"].id, action=action, appointment_id=appointment_id,
                     details=details)
    db_session.commit()
    response = signed_in(app, "kari@linja.test").get("/staff/admin/audit")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "Flyttet fra en rådgiver 24. nov. 10:00" in text
    assert "Oppmøte merket: Møtt" in text and "Annen hendelse" in text and "innringer (skjult eller slettet)" in text
    for raw in ("room", "extra_key", "secret_key_name", "a_new_kind_of_thing", "prompt_key", "v_gone_prompt",
                "is_enabled", "fax", "maybe", "counselor_id", "weekday"):
        assert raw not in text, raw
    history = signed_in(app, "ingrid@linja.test").get(f"/staff/appointments/{appointment_id}")
    assert history.status_code == 200
    shown = text_of(history.get_data(as_text=True))
    assert "a_new_kind_of_thing" not in shown and "Annen hendelse" in shown


def test_the_dates_in_the_trail_follow_her_page_language(app, people, moved_and_cancelled, db_session):
    people["kari"].ui_locale = "en"
    fresh(db_session).merge(people["kari"])
    db_session.commit()
    text = text_of(signed_in(app, "kari@linja.test").get("/staff/admin/audit").get_data(as_text=True))
    assert "Mon, Nov 23, 2026 08:00:00" in text and "man." not in text and "23. Nov" not in text
