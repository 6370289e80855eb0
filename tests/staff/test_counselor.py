"""A counselor's own day and week: her appointments only, what she needs to know about each
caller without knowing who she is, and marking who came."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from scheduling.models import Appointment, AppointmentStatus, AuditEntry, BookedVia, StaffRole
from tests.conftest import fresh, oslo
from tests.staff.support import PASSWORD_HASH, csrf_token, once_token, sign_in, tokens

SOMALI_PHONE = "+4791234567"


@pytest.fixture
def team(make, db_session):
    """Amina's Monday 23 November 2026 (the clock says 08:00) and a few other days."""
    talk = make.service(names={"nb": "Samtale", "en": "Talk", "so": "Wada-hadal"})
    family = make.service(minutes=45, names={"nb": "Familiespørsmål", "en": "Family questions"})
    amina = make.counselor(name="Amina", email="amina@linja.test", languages=["nb", "so"],
                           services=[talk, family], password_hash=PASSWORD_HASH)
    leila = make.counselor(name="Leila", email="leila@linja.test", services=[talk], password_hash=PASSWORD_HASH)
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    make.counselor(name="Ada", email="ada@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)

    returning = make.client(phone_e164=SOMALI_PHONE, language_code="so")
    newcomer = make.client(phone_e164="+4798887766", language_code="ti")
    stood_up = make.client(phone_e164="+4795554433", language_code="ar")
    make.appointment(amina, talk, oslo(2026, 11, 9, 10, 0), client_id=returning.id, status=AppointmentStatus.attended)
    make.appointment(amina, talk, oslo(2026, 11, 16, 10, 0), client_id=newcomer.id,
                     status=AppointmentStatus.cancelled)
    make.appointment(amina, talk, oslo(2026, 11, 16, 12, 0), client_id=stood_up.id,
                     status=AppointmentStatus.no_show)
    appointments = {
        "somali": make.appointment(amina, talk, oslo(2026, 11, 23, 10, 0), client_id=returning.id,
                                   language_code="so", booked_via=BookedVia.sms),
        "tigrinya": make.appointment(amina, family, oslo(2026, 11, 23, 12, 0), client_id=newcomer.id,
                                     language_code="ti", is_interpreter_needed=True, booked_via=BookedVia.voice),
        "erased": make.appointment(amina, talk, oslo(2026, 11, 23, 14, 0), client_id=None, language_code="ar"),
        "cancelled": make.appointment(amina, talk, oslo(2026, 11, 23, 8, 0), status=AppointmentStatus.cancelled),
        "arabic": make.appointment(amina, talk, oslo(2026, 11, 23, 15, 30), client_id=stood_up.id,
                                   language_code="ar"),
        "leila": make.appointment(leila, talk, oslo(2026, 11, 23, 13, 0), language_code="ti"),
        "tomorrow": make.appointment(amina, family, oslo(2026, 11, 24, 9, 0)),
        "saturday": make.appointment(amina, talk, oslo(2026, 11, 28, 11, 0)),
    }
    db_session.commit()
    return {"amina": amina, "leila": leila, **appointments}


def card(html: str, appointment_id: int) -> str:
    """The part of the day page about one appointment."""
    match = re.search(rf'<li id="appointment-{appointment_id}".*?</li>', html, re.S)
    assert match, f"appointment {appointment_id} is not on the page"
    return match.group(0)


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


def mark(client, appointment: Appointment, status: str, version: int | None = None, day: str | None = None):
    page = client.get("/staff/day" + (f"?day={day}" if day else "")).get_data(as_text=True)
    if once_token(page) is None:  # no button to press on her day: a token from another page of hers
        page = client.get("/staff/settings").get_data(as_text=True)
    return client.post(f"/staff/day/appointments/{appointment.id}/attendance", data={
        "status": status, "version": appointment.version if version is None else version,
        **tokens(page),
    })


def test_a_counselor_lands_on_her_own_day(client, team):
    assert sign_in(client, "Amina@linja.test").headers["Location"] == "/staff/"
    assert client.get("/staff/").headers["Location"] == "/staff/day"
    html = client.get("/staff/day").get_data(as_text=True)
    assert "mandag 23. november 2026" in html
    assert '<a href="/staff/day" aria-current="page">Min dag</a>' in html
    assert 'href="/staff/week"' in html and 'href="/staff/calendar"' in html


def test_her_day_shows_what_she_needs_about_each_caller(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/day").get_data(as_text=True)

    somali = text_of(card(html, team["somali"].id))
    assert "10:00–11:00" in somali and "Samtale" in somali
    assert "Språk somali" in somali and "Har vært her før" in somali and "SMS" in somali
    assert "Tolk Nei" in somali and "Bestilt" in somali

    tigrinya = text_of(card(html, team["tigrinya"].id))
    assert "12:00–12:45" in tigrinya and "Familiespørsmål" in tigrinya
    assert "Språk tigrinja" in tigrinya and "Tolk Trengs" in tigrinya
    # Her only earlier appointment was cancelled: this is her first visit.
    assert "Første gang" in tigrinya and "Telefon" in tigrinya

    assert "Ukjent" in text_of(card(html, team["erased"].id))  # she erased her data
    # She did not come last time, so she has not been here yet.
    assert "Første gang" in text_of(card(html, team["arabic"].id))
    assert "Resepsjonen" in text_of(card(html, team["erased"].id))
    assert "4 timer, 1 med tolk, 2 første gang" in html


def test_her_day_shows_no_caller_identity_and_nobody_elses_appointments(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/day").get_data(as_text=True)
    digits = re.sub(r"\D", "", html)
    for phone in (SOMALI_PHONE, "+4798887766", "+4795554433"):
        assert phone not in html and phone[3:] not in digits
    assert "13:00" not in html  # Leila's appointment
    assert f'id="appointment-{team["leila"].id}"' not in html
    assert "Leila" not in html


def test_a_cancelled_appointment_is_struck_through_and_cannot_be_marked(client, team, clock):
    clock.set(oslo(2026, 11, 23, 18, 0))
    sign_in(client, "amina@linja.test")
    cancelled = card(client.get("/staff/day").get_data(as_text=True), team["cancelled"].id)
    assert "<del>08:00–09:00</del>" in cancelled and "Avlyst" in cancelled
    assert "<button" not in cancelled


def test_previous_and_next_day_and_a_day_of_her_choice(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/day").get_data(as_text=True)
    assert 'href="/staff/day?day=2026-11-22"' in html and 'href="/staff/day?day=2026-11-24"' in html
    assert 'href="/staff/week?week=2026-11-23"' in html
    tomorrow = client.get("/staff/day?day=2026-11-24").get_data(as_text=True)
    assert "tirsdag 24. november 2026" in tomorrow and "09:00–09:45" in tomorrow
    assert "10:00–11:00" not in tomorrow
    assert 'href="/staff/day">I dag</a>' in tomorrow
    empty = client.get("/staff/day?day=2026-11-22").get_data(as_text=True)
    assert "Ingen timer denne dagen." in empty


def test_a_nonsense_day_shows_today_with_a_message(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/day?day=tomorrow'--").get_data(as_text=True)
    assert "Den datoen forsto vi ikke" in html and "mandag 23. november 2026" in html


@pytest.mark.parametrize("email", ["ingrid@linja.test", "ada@linja.test"])
@pytest.mark.parametrize("path", ["/staff/day", "/staff/week", "/staff/day?print=1"])
def test_the_desk_uses_its_board_not_the_counselor_pages(client, team, email, path):
    sign_in(client, email)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/staff/day", "/staff/week", "/staff/day?print=1"])
def test_strangers_are_sent_to_sign_in(client, team, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def test_the_day_is_in_oslo_time_on_either_side_of_midnight(client, team, make, db_session):
    talk = team["somali"].service
    late = make.appointment(team["amina"], talk, oslo(2026, 11, 23, 23, 30))  # 22:30 UTC
    early = make.appointment(team["amina"], talk, oslo(2026, 11, 23, 0, 30), status=AppointmentStatus.attended)
    db_session.commit()
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/day").get_data(as_text=True)
    assert f'id="appointment-{late.id}"' in html and f'id="appointment-{early.id}"' in html
    assert f'id="appointment-{late.id}"' not in client.get("/staff/day?day=2026-11-24").get_data(as_text=True)


# Marking who came -----------------------------------------------------------------------


def test_only_appointments_that_have_begun_can_be_marked(client, team, clock):
    clock.set(oslo(2026, 11, 23, 10, 5))
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/day").get_data(as_text=True)
    started = card(html, team["somali"].id)
    assert 'value="attended"' in started and 'value="no_show"' in started
    assert f'name="version" value="{team["somali"].version}"' in started
    assert "<button" not in card(html, team["tigrinya"].id)  # at 12:00


def test_marking_attended_saves_it_writes_the_audit_trail_and_can_be_undone(client, team, clock, db_session):
    clock.set(oslo(2026, 11, 23, 11, 0))
    sign_in(client, "amina@linja.test")
    somali = team["somali"]
    response = mark(client, somali, "attended")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/staff/day#appointment-{somali.id}"
    html = client.get("/staff/day").get_data(as_text=True)
    assert "er merket: Møtt." in html
    assert "Møtt" in text_of(card(html, somali.id)) and 'value="booked"' in card(html, somali.id)

    saved = fresh(db_session).get(Appointment, somali.id)
    assert saved.status == AppointmentStatus.attended and saved.version == 2
    assert saved.changed_by_staff_id == team["amina"].id and saved.updated_at == clock.now()
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.appointment_id == somali.id)).one()
    assert entry.actor.value == "staff" and entry.actor_staff_id == team["amina"].id
    assert entry.details == {"from": "booked", "to": "attended"}

    mark(client, saved, "booked")
    assert fresh(db_session).get(Appointment, somali.id).status == AppointmentStatus.booked
    assert "satt tilbake til «Bestilt»" in client.get("/staff/day").get_data(as_text=True)
    assert len(db_session.scalars(select(AuditEntry).where(AuditEntry.appointment_id == somali.id)).all()) == 2


def test_marking_a_no_show_on_an_earlier_day_returns_to_that_day(client, team, clock, db_session):
    clock.set(oslo(2026, 11, 25, 9, 0))
    sign_in(client, "amina@linja.test")
    response = mark(client, team["tomorrow"], "no_show", day="2026-11-24")
    assert response.headers["Location"] == f"/staff/day?day=2026-11-24#appointment-{team['tomorrow'].id}"
    assert fresh(db_session).get(Appointment, team["tomorrow"].id).status == AppointmentStatus.no_show


def test_a_change_made_meanwhile_is_never_overwritten(client, team, clock, db_session):
    clock.set(oslo(2026, 11, 23, 16, 0))
    sign_in(client, "amina@linja.test")
    erased = team["erased"]
    seen_version = erased.version
    # While her page is open, the desk records that the caller came.
    desk_copy = db_session.get(Appointment, erased.id)
    desk_copy.status = AppointmentStatus.attended
    db_session.commit()
    assert desk_copy.version == seen_version + 1

    response = mark(client, erased, "no_show", version=seen_version)
    assert response.status_code == 302
    html = client.get("/staff/day").get_data(as_text=True)
    assert "Noen endret timen" in html and "ble ikke lagret" in html and "Slik er den nå: Møtt." in html
    assert 'class="flash error" role="alert"' in html
    assert "Møtt" in text_of(card(html, erased.id))
    saved = fresh(db_session).get(Appointment, erased.id)
    assert saved.status == AppointmentStatus.attended and saved.version == seen_version + 1
    assert db_session.scalars(select(AuditEntry).where(AuditEntry.appointment_id == erased.id)).all() == []


def test_a_second_click_on_the_same_button_is_not_called_a_conflict(client, team, clock, db_session):
    clock.set(oslo(2026, 11, 23, 16, 0))
    sign_in(client, "amina@linja.test")
    arabic = team["arabic"]
    old_version = arabic.version
    mark(client, arabic, "attended", version=old_version)
    mark(client, arabic, "attended", version=old_version)
    html = client.get("/staff/day").get_data(as_text=True)
    assert "er allerede merket: Møtt." in html and "Noen endret" not in html
    assert fresh(db_session).get(Appointment, arabic.id).version == old_version + 1


def test_an_appointment_that_has_not_begun_is_not_marked(client, team, db_session):
    sign_in(client, "amina@linja.test")
    mark(client, team["somali"], "attended")  # 10:00; the clock says 08:00
    assert "har ikke begynt ennå" in client.get("/staff/day").get_data(as_text=True)
    assert fresh(db_session).get(Appointment, team["somali"].id).status == AppointmentStatus.booked


def test_a_cancelled_appointment_is_not_marked(client, team, db_session):
    sign_in(client, "amina@linja.test")
    mark(client, team["cancelled"], "attended")
    assert "er avlyst og kan ikke merkes" in client.get("/staff/day").get_data(as_text=True)
    assert fresh(db_session).get(Appointment, team["cancelled"].id).status == AppointmentStatus.cancelled


def test_she_cannot_mark_another_counselors_appointment(client, team, clock, db_session):
    clock.set(oslo(2026, 11, 23, 18, 0))
    sign_in(client, "amina@linja.test")
    assert mark(client, team["leila"], "no_show").status_code == 404
    assert fresh(db_session).get(Appointment, team["leila"].id).status == AppointmentStatus.booked
    html = client.get("/staff/day").get_data(as_text=True)
    assert client.post("/staff/day/appointments/999999/attendance", data={
        "status": "attended", "version": 1, **tokens(html)}).status_code == 404


def test_a_mark_without_csrf_token_or_with_a_made_up_status_is_refused(client, team, clock, db_session):
    clock.set(oslo(2026, 11, 23, 18, 0))
    sign_in(client, "amina@linja.test")
    path = f"/staff/day/appointments/{team['somali'].id}/attendance"
    assert client.post(path, data={"status": "attended", "version": 1}).status_code == 400
    mark(client, team["somali"], "cancelled")
    assert "Det valget forsto vi ikke" in client.get("/staff/day").get_data(as_text=True)
    assert fresh(db_session).get(Appointment, team["somali"].id).status == AppointmentStatus.booked


# The week --------------------------------------------------------------------------------


def test_her_week_runs_monday_to_friday_and_a_weekend_day_only_when_booked(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/week").get_data(as_text=True)
    assert "Uke 48" in html and "23.–29. nov. 2026" in html
    days = re.findall(r'<h2 id="day-([\d-]+)"', html)
    assert days == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28"]
    assert 'aria-current="date"' in html
    assert "10:00–11:00" in html and "11:00–12:00" in html  # Monday, and Saturday
    assert "13:00" not in html and "Leila" not in html
    assert SOMALI_PHONE not in html
    assert 'href="/staff/week?week=2026-11-16"' in html and 'href="/staff/week?week=2026-11-30"' in html


def test_any_day_of_a_week_shows_that_whole_week(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/week?week=2026-12-02").get_data(as_text=True)
    assert "Uke 49" in html
    assert re.findall(r'<h2 id="day-([\d-]+)"', html)[0] == "2026-11-30"
    assert "Ingen timer" in html and 'href="/staff/week">Denne uka</a>' in html
    assert len(re.findall(r'<h2 id="day-', html)) == 5


def test_week_links_lead_to_each_appointment_on_its_day(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/week?week=2026-11-23").get_data(as_text=True)
    assert f'href="/staff/day?day=2026-11-28#appointment-{team["saturday"].id}"' in html
    assert "<del>08:00–09:00</del>" in html  # the cancelled one, struck through


# Printing --------------------------------------------------------------------------------


def test_the_day_prints_without_menu_or_buttons(client, team, clock):
    clock.set(oslo(2026, 11, 23, 18, 0))  # buttons on the screen version
    sign_in(client, "amina@linja.test")
    screen = client.get("/staff/day").get_data(as_text=True)
    assert 'href="/staff/day?day=2026-11-23&amp;print=1"' in screen and "Skriv ut" in screen
    assert "<button" in screen
    printed = client.get("/staff/day?day=2026-11-23&print=1").get_data(as_text=True)
    assert "<button" not in printed and "<form" not in printed and "<nav" not in printed
    assert "<script" not in printed and "style=" not in printed
    assert '<th scope="col">Språk</th>' in printed and "somali" in text_of(printed)
    assert "mandag 23. november 2026" in printed and "Amina" in printed
    assert SOMALI_PHONE not in printed and "Leila" not in printed


def print_rows(html: str) -> list[list[str]]:
    """The printed table's rows, each as the words in its cells."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [[text_of(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


@pytest.mark.parametrize("locale, language, yes, no", [("nb", "tigrinja", "Trengs", "Nei"),
                                                       ("en", "Tigrinya", "Needed", "No")])
def test_the_printed_day_says_whether_an_interpreter_is_needed_as_the_screen_does(
        client, team, db_session, locale, language, yes, no):
    team["amina"].ui_locale = locale
    db_session.commit()
    sign_in(client, "amina@linja.test")
    rows = print_rows(client.get("/staff/day?day=2026-11-23&print=1").get_data(as_text=True))
    by_time = {row[0]: row for row in rows}
    assert by_time["12:00–12:45"][2:4] == [language, yes]
    # No interpreter: "Nei", as on the screen, never an empty cell.
    assert by_time["10:00–11:00"][3] == no
    assert all(row[3] in (yes, no) for row in rows)


def test_the_pages_need_no_inline_script_or_style(client, team):
    sign_in(client, "amina@linja.test")
    for path in ["/staff/day", "/staff/week", "/staff/calendar"]:
        html = client.get(path).get_data(as_text=True)
        assert "<script" not in html and "style=" not in html and " onclick" not in html, path
        assert "/static/staff/counselor.css" in html


def test_dates_follow_her_page_language(client, team, db_session):
    team["amina"].ui_locale = "en"
    db_session.commit()
    sign_in(client, "amina@linja.test")
    assert "Monday, November 23, 2026" in client.get("/staff/day").get_data(as_text=True)
    week = client.get("/staff/week").get_data(as_text=True)
    assert "Monday 23 November" in week and "Nov 23\u2009–\u200929, 2026" in week
