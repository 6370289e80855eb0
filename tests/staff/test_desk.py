"""The reception desk: the day board, finding a caller by her number, booking for her,
moving and cancelling her appointment, and two receptionists moving it at once."""
from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from html import unescape
from urllib.parse import quote, unquote_plus

import pytest
from sqlalchemy import select

from scheduling.availability import Slot
from scheduling.holds import hold_slot
from scheduling.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    AuditEntry,
    BookedVia,
    Client,
    OutboxMessage,
    StaffRole,
)
from tests.conftest import NOW, fresh, oslo, page_and_statements
from tests.database_cuts import cuts  # noqa: F401  (a fixture)
from tests.staff.support import PASSWORD_HASH, csrf_token, sign_in, tokens

SOMALI_NUMBER = "+4790000000"  # what "90 00 00 00" means


@pytest.fixture
def desk(make, db_session, centre):
    """The centre, two receptionists, a counselor who can sign in, and a second counselor
    who speaks Somali."""
    make.counselor(role=StaffRole.receptionist, name="Ingrid", email="ingrid@linja.test", password_hash=PASSWORD_HASH)
    make.counselor(role=StaffRole.receptionist, name="Sara", email="sara@linja.test", password_hash=PASSWORD_HASH)
    counselor = centre["counselors"]["so"]
    counselor.name, counselor.email, counselor.password_hash = "Amina", "amina@linja.test", PASSWORD_HASH
    second = make.counselor(name="Hodan", languages=["so", "nb"], services=[centre["talk"], centre["family"]])
    centre["counselors"]["ar"].name = "Layla"
    centre["counselors"]["ti"].name = "Selam"
    db_session.commit()
    return {**centre, "amina": counselor, "hodan": second}


@pytest.fixture
def somali_caller(make, db_session, desk):
    """A Somali caller with an appointment with Amina tomorrow at 10:00."""
    caller = make.client(phone_e164=SOMALI_NUMBER, language_code="so")
    appointment = make.appointment(desk["amina"], desk["talk"], oslo(2026, 11, 24, 10, 0), client=caller,
                                   language_code="so", booked_via=BookedVia.sms)
    db_session.commit()
    return appointment


@pytest.fixture
def ingrid(app, desk):
    browser = app.test_client()
    assert sign_in(browser, "ingrid@linja.test").status_code == 302
    return browser


def page(browser, path: str) -> str:
    response = browser.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def slot_values(html: str) -> list[str]:
    return re.findall(r'name="slot" value="([^"]+)"', html)


def version_of(html: str) -> str:
    return re.search(r'name="version" (?:type="hidden" )?value="(\d+)"', html).group(1)


def find(browser, typed: str):
    """The receptionist types a number into the search form and posts it."""
    return browser.post("/staff/search", data={"phone": typed, **tokens(page(browser, "/staff/search"))})


def search_page(browser, typed: str) -> str:
    response = find(browser, typed)
    assert response.status_code == 303, response.status_code
    return page(browser, response.headers["Location"])


def choose(browser, phone: str, language: str, service) -> str:
    """Step 1 of a booking posted; the step 2 page it leads to."""
    response = browser.post("/staff/book/times", data={
        "phone": phone, "language": language, "service": service, **tokens(page(browser, "/staff/book")),
    })
    assert response.status_code == 303, response.status_code
    return page(browser, response.headers["Location"])


# --- who may see the desk ------------------------------------------------------------------------


def test_counselors_are_refused_and_strangers_sent_to_sign_in(app, desk, somali_caller):
    paths = ["/staff/board", "/staff/search", f"/staff/search?client={somali_caller.client_id}", "/staff/book",
             f"/staff/appointments/{somali_caller.id}"]
    stranger = app.test_client()
    for path in paths:
        response = stranger.get(path)
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"], path
    counselor = app.test_client()
    sign_in(counselor, "amina@linja.test")
    for path in paths:
        assert counselor.get(path).status_code == 403, path
    token = csrf_token(page(counselor, "/staff/settings"))
    for path in (f"/staff/appointments/{somali_caller.id}/move", f"/staff/appointments/{somali_caller.id}/cancel",
                 "/staff/book", "/staff/book/times", "/staff/search"):
        assert counselor.post(path, data={"csrf_token": token, "reason": "x", "version": "1",
                                          "phone": "90000000"}).status_code == 403


def test_the_desk_starts_on_the_board(ingrid):
    response = ingrid.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/board")


# --- the day board -------------------------------------------------------------------------------


def test_board_shows_each_counselors_day_with_free_time_and_absences(ingrid, make, db_session, desk):
    caller = make.client(phone_e164="+4791234567", language_code="so")
    make.appointment(desk["amina"], desk["talk"], oslo(2026, 11, 23, 10, 0), client=caller, language_code="so",
                     is_interpreter_needed=False, booked_via=BookedVia.voice)
    make.appointment(desk["hodan"], desk["family"], oslo(2026, 11, 23, 13, 0), language_code="ar",
                     is_interpreter_needed=True)
    make.absence(desk["counselors"]["ar"], oslo(2026, 11, 23, 12, 0), oslo(2026, 11, 23, 14, 0))
    make.absence(desk["counselors"]["ti"], oslo(2026, 11, 22, 0, 0), oslo(2026, 11, 25, 0, 0))
    db_session.commit()

    html = page(ingrid, "/staff/board")
    assert "mandag 23. november 2026" in html
    for name in ("Amina", "Hodan", "Layla", "Selam"):
        assert f">{name}</h2>" in html
    amina = html[html.index(">Amina</h2>"):html.index(">Hodan</h2>")]
    assert "Jobber 09:00–16:00" in amina
    assert "10:00–11:00" in amina and "Samtale" in amina and "somali" in amina and "Telefon" in amina
    assert "Bestilt" in amina and "…67" in amina and "+4791234567" not in html
    # Free before her appointment, and again after it and its 15-minute buffer.
    assert "Ledig 09:00–10:00" in amina and "Ledig 11:15–16:00" in amina
    hodan = html[html.index(">Hodan</h2>"):html.index(">Layla</h2>")]
    assert "Familie" in hodan and "arabisk" in hodan and "tolk trengs" in hodan
    layla = html[html.index(">Layla</h2>"):html.index(">Selam</h2>")]
    assert "Borte 12:00–14:00" in layla and "Ledig 09:00–12:00" in layla and "Ledig 14:00–16:00" in layla
    selam = html[html.index(">Selam</h2>"):]
    assert "Borte hele dagen" in selam and "Ledig" not in selam.split("</section>")[0]
    assert 'href="/staff/appointments/' in amina
    assert "/staff/board?day=2026-11-22" in html and "/staff/board?day=2026-11-24" in html


def test_board_for_another_day_and_a_date_it_cannot_read(ingrid, make, db_session, desk):
    make.appointment(desk["amina"], desk["talk"], oslo(2026, 11, 24, 14, 0))
    db_session.commit()
    html = page(ingrid, "/staff/board?day=2026-11-24")
    assert "tirsdag 24. november 2026" in html and "14:00–15:00" in html
    saturday = page(ingrid, "/staff/board?day=2026-11-28")
    assert "Ingen rådgivere jobber denne dagen" in saturday
    for slip in ("24.11", "9999-12-31", "0001-01-01"):
        confused = page(ingrid, f"/staff/board?day={slip}")
        assert "Den datoen forsto vi ikke" in confused and "mandag 23. november 2026" in confused


def test_the_board_reads_as_much_for_many_counselors_and_cards_as_for_few(app, ingrid, make, db_session, desk):
    def statements() -> tuple[int, str]:
        html, count = page_and_statements(ingrid, "/staff/board")
        return count, html

    caller = make.client(phone_e164="+4791234501", language_code="so")
    make.appointment(desk["amina"], desk["talk"], oslo(2026, 11, 23, 10, 0), client=caller, language_code="so")
    db_session.commit()
    statements()  # the first page of a process also reads the reference data it keeps
    few, _html = statements()
    for n in range(6):
        extra = make.counselor(name=f"Extra {n}", languages=["nb", "ar"], services=[desk["talk"]])
        make.absence(extra, oslo(2026, 11, 23, 9, 0), oslo(2026, 11, 23, 10, 0))
        for hour in (10, 12, 14):
            someone = make.client(phone_e164=f"+479123{n}{hour}0", language_code="ar")
            make.appointment(extra, desk["talk"], oslo(2026, 11, 23, hour, 0), client=someone, language_code="ar")
    db_session.commit()
    many, html = statements()
    assert many == few
    extra = html[html.index(">Extra 3</h2>"):html.index(">Extra 4</h2>")]
    assert "Borte 09:00–10:00" in extra and "12:00–13:00" in extra and "…20" in extra and "arabisk" in extra


# --- finding a caller ----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["90 00 00 00", "+47 900 00 000", "0047 90000000", "90000000"])
def test_a_caller_is_found_however_her_number_is_written(ingrid, somali_caller, typed):
    response = find(ingrid, typed)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/search?client={somali_caller.client_id}"
    html = page(ingrid, response.headers["Location"])
    assert "Innringer +47 90 00 00 00" in html and "somali" in html
    assert f'/staff/appointments/{somali_caller.id}"' in html and "tir. 24. nov. 10:00" in html
    assert "Hun får SMS fra Linja." in html
    assert f"/staff/book?client={somali_caller.client_id}&amp;language=so" in html


def test_a_number_that_cannot_be_read_gets_a_kind_answer_and_keeps_what_she_typed(ingrid, desk):
    response = find(ingrid, "90 00")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Det nummeret finnes ikke. Sjekk sifrene og landskoden." in html
    assert 'value="90 00"' in html and "for eksempel 900 00 000" in html
    assert "Det ser ikke ut som et telefonnummer." in find(ingrid, "Amina").get_data(as_text=True)


def test_an_unknown_number_is_offered_a_booking(ingrid, desk):
    response = find(ingrid, "41 00 00 00")
    assert response.status_code == 303 and response.headers["Location"].startswith("/staff/search?ref=")
    html = page(ingrid, response.headers["Location"])
    assert "Ingen innringer har nummeret +47 41 00 00 00" in html
    [booking] = re.findall(r'href="(/staff/book\?ref=[^"]+)"', html)
    step_one = page(ingrid, booking.replace("&amp;", "&"))
    assert 'value="+4741000000"' in step_one  # her number filled in, from the session


def test_the_desk_is_told_when_she_said_stop(ingrid, make, db_session, desk, somali_caller):
    somali_caller.client.is_opted_out = True
    db_session.commit()
    html = search_page(ingrid, "90 00 00 00")
    assert "Hun har sagt STOPP til SMS: ingen SMS fra Linja når henne" in html
    assert "Hun har sagt STOPP til SMS" in page(ingrid, f"/staff/appointments/{somali_caller.id}")


def test_a_locked_code_word_is_cleared_by_the_desk_after_speaking_with_her(ingrid, db_session, somali_caller):
    from scheduling import codeword
    from scheduling.models import AuditEntry

    caller = somali_caller.client
    codeword.set_code_word(db_session, caller, "4711", NOW)
    caller.code_word_failures = codeword.MAX_FAILURES
    db_session.commit()
    html = search_page(ingrid, "90 00 00 00")
    assert "Låst etter for mange feil forsøk" in html and "4711" not in html
    action = f"/staff/clients/{caller.id}/code-word/clear"
    cleared = ingrid.post(action, data={**tokens(html)})
    assert cleared.status_code == 303 and cleared.headers["Location"] == (
        f"/staff/search?client={caller.id}")
    caller = fresh(db_session).get(type(caller), caller.id)
    assert (caller.code_word_hash, caller.code_word_failures) == (None, 0)
    assert codeword.status(caller) == codeword.Status.none
    cleared = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "code_word_cleared")).one()
    assert cleared.actor_staff_id is not None
    assert "Ingen. Hun kan velge et på SMS" in page(ingrid, f"/staff/search?client={caller.id}")


def contact_form(html: str) -> dict:
    """What the browser sends with her contact terms' form: its own tokens."""
    form = html[html.index('id="contact"'):]
    form = form[:form.index("</form>")]
    return {"csrf_token": csrf_token(html), "once_token": re.search(r'name="once_token" value="([^"]+)"', form).group(1)}


def test_the_desk_sets_her_contact_terms_and_the_audit_trail_says_who(ingrid, db_session, somali_caller):
    from scheduling.models import AuditEntry, ContactMeans

    caller = somali_caller.client
    html = search_page(ingrid, "90 00 00 00")
    assert "kontakt: når som helst, SMS og telefon" in html
    saved = ingrid.post(f"/staff/clients/{caller.id}/contact", data={
        **contact_form(html), "means": "texts", "days": ["0", "1", "2", "3", "4"], "starts": "10:00", "ends": "14:00"})
    assert saved.status_code == 303
    shown = page(ingrid, f"/staff/search?client={caller.id}")
    assert "kontakt: hverdager 10–14, bare SMS" in shown
    caller = fresh(db_session).get(type(caller), caller.id)
    assert (caller.contact_means, caller.contact_days) == (ContactMeans.texts, "01234")
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "contact_terms_changed")).one()
    assert entry.actor_staff_id is not None and entry.details["client"] == caller.id
    assert entry.details["to"] == {"means": "texts", "days": "01234", "hours": "10:00-14:00", "reminder_calls": False}
    assert "90000000" not in str(entry.details)
    from staff.audit_words import Names, facts  # the admin's audit page says what it was set to

    with ingrid.application.test_request_context():
        assert facts(entry, Names(db_session, [entry])).endswith("kontakt: hverdager 10–14, bare SMS")


def test_hours_reaching_into_the_quiet_hours_are_kept_as_the_part_outside_them(ingrid, db_session, somali_caller):
    caller = somali_caller.client
    html = search_page(ingrid, "90 00 00 00")
    sent = {**contact_form(html), "means": "any", "days": ["0", "1", "2", "3", "4"], "starts": "06:00",
            "ends": "10:00"}
    ingrid.post(f"/staff/clients/{caller.id}/contact", data=sent)
    assert "kontakt: hverdager 08–10, SMS og telefon" in page(ingrid, f"/staff/search?client={caller.id}")
    her = fresh(db_session).get(type(caller), caller.id)
    assert (her.contact_from, her.contact_until) == (time(8), time(10))


@pytest.mark.parametrize("typed, error", [
    ({"starts": "14:00", "ends": "10:00"}, "Til-tiden må være etter fra-tiden"),
    ({"starts": "10:00", "ends": ""}, "Skriv både fra og til"),
    ({"days": []}, "Velg minst én dag"),
    ({"means": "pigeon"}, "Velg hvordan Linja kan nå henne"),
    ({"days": ["7"]}, "Velg minst én dag"),
    # Wholly in the quiet hours, when nothing is sent: nothing would ever reach her.
    ({"starts": "21:00", "ends": "23:00"}, "Linja sender ingen SMS og ringer ikke mellom 20:00 og 08:00"),
])
def test_contact_terms_that_cannot_be_kept_are_refused_kindly_and_change_nothing(
        ingrid, db_session, somali_caller, typed, error):
    caller = somali_caller.client
    html = search_page(ingrid, "90 00 00 00")
    sent = {**contact_form(html), "means": "any", "days": ["0", "2"], "starts": "09:00", "ends": "11:00", **typed}
    answer = ingrid.post(f"/staff/clients/{caller.id}/contact", data=sent)
    assert answer.status_code == 303
    shown = page(ingrid, f"/staff/search?client={caller.id}")
    assert error in unescape(shown) and "kontakt: når som helst, SMS og telefon" in shown
    assert fresh(db_session).get(type(caller), caller.id).contact_days is None


def test_the_appointment_shows_her_terms_and_what_they_kept_from_her(app, ingrid, make, db_session, desk):
    from scheduling.booking import book_appointment
    from scheduling.contact import EVERY_DAY, ContactTerms, change_terms
    from scheduling.models import Actor, ContactMeans
    from web.worker import make_worker

    caller = make.client("+4791234599", language_code="ti")
    change_terms(db_session, caller, ContactTerms(means=ContactMeans.calls, days=EVERY_DAY), now=NOW,
                 actor=Actor.staff)
    db_session.commit()
    booked = book_appointment(db_session, service_id=desk["talk"].id, counselor_id=desk["counselors"]["ti"].id,
                              start_at=oslo(2026, 11, 24, 10, 0), now=NOW, booked_via=BookedVia.staff,
                              client=caller, actor=Actor.staff).appointment
    db_session.commit()
    make_worker(app).tick()  # the desk's "booked" text: she takes calls only
    html = page(ingrid, f"/staff/appointments/{booked.id}")
    assert "kontakt: når som helst, bare telefon" in html
    notice = html[html.index('id="not-told"'):]
    assert "Beskjed om endring" in notice and "ikke varslet (kontaktmåte)" in notice


def test_past_and_cancelled_appointments_are_listed_apart(ingrid, make, db_session, desk, somali_caller):
    make.appointment(desk["amina"], desk["talk"], oslo(2026, 11, 10, 10, 0), client=somali_caller.client,
                     status=AppointmentStatus.attended)
    make.appointment(desk["amina"], desk["talk"], oslo(2026, 11, 25, 10, 0), client=somali_caller.client,
                     status=AppointmentStatus.cancelled, cancel_reason="Syk")
    db_session.commit()
    html = search_page(ingrid, "90000000")
    upcoming, past = html.split("Tidligere og avlyste timer")
    assert "tir. 24. nov. 10:00" in upcoming and "Syk" not in upcoming
    assert "Møtt" in past and "Avlyst (Syk)" in past


# --- booking for her -----------------------------------------------------------------------------


def test_booking_for_a_caller_queues_a_confirmation_in_her_language(ingrid, db_session, desk):
    talk = desk["talk"].id
    html = choose(ingrid, "90 11 22 33", "ar", talk)
    slots = slot_values(html)
    assert len(slots) == 10
    # The Arabic speaker first: the earliest slots are Layla's.
    layla = desk["counselors"]["ar"].id
    assert slots[0].startswith(f"{layla}@") and "Layla" in html and "tolk trengs" not in html
    response = ingrid.post("/staff/book", data={
        "phone": "90 11 22 33", "language": "ar", "service": talk, "slot": slots[0], **tokens(html),
    })
    assert response.status_code == 303
    session = fresh(db_session)
    [appointment] = session.scalars(select(Appointment)).all()
    assert response.headers["Location"].endswith(f"/staff/appointments/{appointment.id}")
    assert appointment.counselor_id == layla and appointment.booked_via == BookedVia.staff
    assert appointment.start_at == oslo(2026, 11, 23, 10, 0) and appointment.language_code == "ar"
    client = session.get(Client, appointment.client_id)
    assert client.phone_e164 == "+4790112233" and client.language_code == "ar"
    [text] = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "booked")).all()
    assert text.language_code == "ar" and text.client_id == client.id
    [entry] = session.scalars(select(AuditEntry)).all()
    assert entry.action == "booked" and entry.actor == Actor.staff
    shown = page(ingrid, response.headers["Location"])
    assert "Timen er bestilt" in shown and "Hun får bekreftelsen på SMS, på arabisk." in shown


def test_a_slot_someone_else_got_first_is_refused_kindly_with_other_times(ingrid, make, db_session, desk):
    talk = desk["talk"]
    html = choose(ingrid, "90 11 22 33", "so", talk.id)
    first = slot_values(html)[0]
    counselor_id, start = first.split("@")
    # Another receptionist (or a caller by text) takes it meanwhile.
    make.appointment(db_session.get(type(desk["amina"]), int(counselor_id)), talk, datetime.fromisoformat(start))
    db_session.commit()
    response = ingrid.post("/staff/book", data={
        "phone": "90 11 22 33", "language": "so", "service": talk.id, "slot": first, **tokens(html),
    })
    again = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Noen andre fikk akkurat den tiden" in again
    assert slot_values(again) and first not in slot_values(again)
    assert 'value="90 11 22 33"' in again  # nothing she typed is lost
    assert fresh(db_session).scalars(select(Appointment)).all().__len__() == 1


def test_a_time_a_caller_is_holding_is_refused_kindly_until_her_hold_runs_out(ingrid, make, db_session, desk, clock):
    talk = desk["talk"]
    html = choose(ingrid, "90 11 22 33", "so", talk.id)
    first = slot_values(html)[-1]  # the latest offered: still bookable when her hold has run out
    counselor_id, start = first.split("@")
    start_at = datetime.fromisoformat(start)
    # A caller picks that time on her phone while the receptionist is still on the page.
    caller = make.client(language_code="so")
    assert hold_slot(db_session, client_id=caller.id, service_id=talk.id, now=NOW, slot=Slot(
        start_at, start_at + timedelta(minutes=talk.duration_minutes), int(counselor_id), False))
    db_session.commit()
    form = {"phone": "90 11 22 33", "language": "so", "service": talk.id, "slot": first, **tokens(html)}

    response = ingrid.post("/staff/book", data=form)
    again = response.get_data(as_text=True)
    assert response.status_code == 409
    assert ("En innringer holder på å bestille akkurat den tiden nå. Bekrefter hun den ikke, "
            "blir den ledig igjen om noen minutter.") in again
    assert slot_values(again) and first not in slot_values(again)
    assert 'value="90 11 22 33"' in again
    assert fresh(db_session).scalars(select(Appointment)).all() == []

    clock.advance(timedelta(minutes=6))  # she did not confirm
    response = ingrid.post("/staff/book", data=form)
    assert response.status_code == 303
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    assert appointment.start_at == start_at and appointment.counselor_id == int(counselor_id)


def test_a_move_onto_a_time_a_caller_is_holding_is_refused_kindly(ingrid, make, db_session, desk, somali_caller):
    html = page(ingrid, f"/staff/appointments/{somali_caller.id}")
    to_hodan = [s for s in slot_values(html) if s.startswith(f"{desk['hodan'].id}@")][0]
    start_at = datetime.fromisoformat(to_hodan.split("@")[1])
    caller = make.client(language_code="ar")
    assert hold_slot(db_session, client_id=caller.id, service_id=desk["talk"].id, now=NOW, slot=Slot(
        start_at + timedelta(minutes=30), start_at + timedelta(minutes=90), desk["hodan"].id, False))
    db_session.commit()
    response = ingrid.post(f"/staff/appointments/{somali_caller.id}/move",
                           data={"confirm": "1", "slot": to_hodan, "version": version_of(html), **tokens(html)})
    again = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "En innringer holder på å bestille akkurat den tiden nå, så timen er ikke flyttet." in again
    assert to_hodan not in slot_values(again)
    assert fresh(db_session).get(Appointment, somali_caller.id).counselor_id == desk["amina"].id


def test_booking_with_a_bad_number_keeps_what_she_typed(ingrid, desk):
    response = ingrid.post("/staff/book/times", data={
        "phone": "9011", "language": "so", "service": desk["talk"].id,
        **tokens(page(ingrid, "/staff/book")),
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Det nummeret finnes ikke" in html and 'value="9011"' in html
    assert '<option selected value="so">' in html


def test_booking_without_a_chosen_slot_asks_for_one(ingrid, db_session, desk):
    talk = desk["talk"].id
    html = choose(ingrid, "90112233", "so", talk)
    response = ingrid.post("/staff/book", data={
        "phone": "90112233", "language": "so", "service": talk, **tokens(html),
    })
    assert response.status_code == 400 and "Velg en av tidene." in response.get_data(as_text=True)
    assert fresh(db_session).scalars(select(Appointment)).first() is None


def test_booking_for_a_known_caller_keeps_her_language(ingrid, db_session, desk, somali_caller):
    talk = desk["talk"].id
    response = ingrid.post("/staff/book/times", data={
        "phone": "90000000", "language": "so", "service": talk, **tokens(page(ingrid, "/staff/book")),
    })
    # A caller Linja knows is named by her client id.
    step_two = f"/staff/book?client={somali_caller.client_id}&language=so&service={talk}"
    assert response.status_code == 303 and response.headers["Location"].startswith(step_two + "&f=")
    html = page(ingrid, step_two + "&after=2026-11-30T08:00:00%2B00:00")
    slots = slot_values(html)
    assert all(datetime.fromisoformat(s.split("@")[1]) >= oslo(2026, 11, 30, 9, 0) for s in slots)
    form = {"phone": "+47 900 00 000", "language": "so", "service": talk, "slot": slots[0]}
    asked = ingrid.post("/staff/book", data={**form, **tokens(html)})
    # She has a time already: the page shows it and asks before booking a second.
    assert asked.status_code == 303 and asked.headers["Location"].startswith("/staff/book/second?")
    question = page(ingrid, asked.headers["Location"])
    assert "Hun har allerede en time" in question
    assert f'href="/staff/appointments/{somali_caller.id}"' in question
    assert len(fresh(db_session).scalars(select(Appointment)).all()) == 1
    ingrid.post("/staff/book", data={**form, "second": "1", **tokens(question)})
    session = fresh(db_session)
    assert len(session.scalars(select(Client)).all()) == 1
    assert len(session.scalars(select(Appointment).where(Appointment.client_id == somali_caller.client_id)).all()) == 2


# --- moving and cancelling -----------------------------------------------------------------------


def test_moving_her_to_another_somali_speaker_texts_her_in_somali(ingrid, db_session, desk, somali_caller):
    html = page(ingrid, f"/staff/appointments/{somali_caller.id}")
    assert "Amina" in html and "(samme rådgiver)" in html and "Hodan" in html and "(snakker hennes språk)" in html
    assert "Layla" not in html  # speaks no Somali
    hodan = desk["hodan"].id
    to_hodan = [s for s in slot_values(html) if s.startswith(f"{hodan}@")]
    assert to_hodan
    response = ingrid.post(f"/staff/appointments/{somali_caller.id}/move", data={"confirm": "1", 
        "slot": to_hodan[0], "version": version_of(html), **tokens(html),
    })
    assert response.status_code == 303
    session = fresh(db_session)
    moved = session.get(Appointment, somali_caller.id)
    assert moved.counselor_id == hodan and moved.start_at == datetime.fromisoformat(to_hodan[0].split("@")[1])
    assert moved.version == 2 and not moved.is_interpreter_needed
    [text] = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "moved")).all()
    assert text.language_code == "so" and text.client_id == somali_caller.client_id
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "moved")).all()
    assert entry.actor == Actor.staff and entry.actor_staff_id is not None and entry.appointment_id == moved.id
    after = page(ingrid, response.headers["Location"])
    assert "Timen er flyttet" in after and "Hun får beskjed om den nye tiden på SMS, på somali." in after
    assert "Flyttet fra Amina 24. nov. 10:00 til Hodan " in after and "Ingrid" in after


def test_the_move_page_never_offers_the_time_she_has(ingrid, db_session, desk, somali_caller):
    amina, hodan, start = desk["amina"].id, desk["hodan"].id, somali_caller.start_at  # Tuesday 10:00
    offered = slot_values(page(ingrid, f"/staff/appointments/{somali_caller.id}?from=2026-11-24"))
    assert f"{amina}@{(start - timedelta(minutes=30)).isoformat()}" in offered
    assert f"{amina}@{start.isoformat()}" not in offered
    assert f"{amina}@{(start + timedelta(minutes=30)).isoformat()}" in offered
    # The same time with another counselor is a move: only who she sees changes.
    assert f"{hodan}@{start.isoformat()}" in offered


def test_a_move_to_the_time_and_counselor_she_has_changes_nothing_and_texts_nothing(ingrid, db_session, desk,
                                                                                    somali_caller):
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    slot = f"{desk['amina'].id}@{somali_caller.start_at.isoformat()}"
    # The confirmation step already says so (an old page, another tab): nothing to confirm.
    shown = ingrid.get(f"{path}/move?slot={quote(slot)}&version={version_of(html)}")
    preview = shown.get_data(as_text=True)
    assert shown.status_code == 409 and "så ingenting er endret, og hun får ingen SMS." in unescape(preview)
    # Sent anyway, confirmed: the same.
    response = ingrid.post(f"{path}/move", data={"slot": slot, "version": version_of(html), "confirm": "1",
                                                 **tokens(preview)})
    assert response.status_code == 409
    answer = unescape(response.get_data(as_text=True))
    assert "Timen er allerede tir. 24. nov. 10:00 hos Amina, så ingenting er endret, og hun får ingen SMS." in answer
    session = fresh(db_session)
    assert session.get(Appointment, somali_caller.id).version == 1
    assert session.scalars(select(OutboxMessage)).all() == []
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "moved")).all() == []


def test_the_same_counselor_can_move_her_by_half_an_hour_or_to_a_later_week(ingrid, make, db_session, desk,
                                                                              somali_caller):
    amina = desk["amina"].id
    today = make.appointment(desk["amina"], desk["talk"], oslo(2026, 11, 23, 11, 0), language_code="so")
    db_session.commit()
    # Her own hour does not block: half an hour earlier or later is offered.
    offered = slot_values(page(ingrid, f"/staff/appointments/{today.id}"))
    assert f"{amina}@{oslo(2026, 11, 23, 10, 30).isoformat()}" in offered
    assert f"{amina}@{oslo(2026, 11, 23, 11, 30).isoformat()}" in offered
    later = slot_values(page(ingrid, f"/staff/appointments/{today.id}?from=2026-12-07"))
    assert later and all(datetime.fromisoformat(s.split("@")[1]) >= oslo(2026, 12, 7, 9, 0) for s in later)
    confused = page(ingrid, f"/staff/appointments/{today.id}?from=next week")
    assert "Den datoen forsto vi ikke" in confused and slot_values(confused)


def test_two_receptionists_moving_at_once_one_wins_and_the_other_sees_the_new_state(
        app, ingrid, db_session, desk, somali_caller):
    sara = app.test_client()
    sign_in(sara, "sara@linja.test")
    path = f"/staff/appointments/{somali_caller.id}"
    seen_by_ingrid, seen_by_sara = page(ingrid, path), page(sara, path)
    assert version_of(seen_by_ingrid) == version_of(seen_by_sara) == "1"
    hodan = desk["hodan"].id
    to_hodan = [s for s in slot_values(seen_by_ingrid) if s.startswith(f"{hodan}@")][0]
    to_amina = [s for s in slot_values(seen_by_sara) if s.startswith(f"{desk['amina'].id}@")][-1]

    first = ingrid.post(f"{path}/move", data={"confirm": "1", "slot": to_hodan, "version": "1", **tokens(seen_by_ingrid)})
    second = sara.post(f"{path}/move", data={"confirm": "1", "slot": to_amina, "version": "1", **tokens(seen_by_sara)})

    assert first.status_code == 303
    refused = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "Noen andre endret denne timen mens du så på den" in refused
    # The new state: Hodan, at the time Ingrid chose, version 2 in every form.
    new_start = datetime.fromisoformat(to_hodan.split("@")[1])
    facts = refused[refused.index("appointment-facts"):]
    assert "Hodan" in facts[:facts.index("</dl>")]
    from flask_babel import format_datetime
    with app.test_request_context():
        assert format_datetime(new_start, "EEE d. MMM HH:mm") in refused
    assert version_of(refused) == "2"
    session = fresh(db_session)
    assert session.get(Appointment, somali_caller.id).counselor_id == hodan
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "moved")).all()) == 1


def test_cancelling_needs_a_reason_and_tells_her(ingrid, db_session, desk, somali_caller):
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    response = ingrid.post(f"{path}/cancel", data={"confirm": "1", "reason": "  ", "version": version_of(html),
                                                   **tokens(html)})
    assert response.status_code == 400
    assert "Skriv en kort grunn" in response.get_data(as_text=True)
    assert fresh(db_session).get(Appointment, somali_caller.id).status == AppointmentStatus.booked

    response = ingrid.post(f"{path}/cancel", data={"confirm": "1", "reason": "Hun ringte, er syk", "version": version_of(html),
                                                   **tokens(html)})
    assert response.status_code == 303
    session = fresh(db_session)
    cancelled = session.get(Appointment, somali_caller.id)
    assert cancelled.status == AppointmentStatus.cancelled and cancelled.cancel_reason == "Hun ringte, er syk"
    [text] = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "cancelled")).all()
    assert text.language_code == "so"
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "cancelled")).all()
    assert entry.actor == Actor.staff and entry.details == {"reason": "Hun ringte, er syk"}
    after = page(ingrid, path)
    assert "Timen er avlyst." in after and "Avlyst (Hun ringte, er syk)" in after
    assert 'name="slot"' not in after  # nothing left to move


def test_a_stale_cancel_is_refused(ingrid, db_session, desk, somali_caller):
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    somali_caller.start_at += timedelta(hours=1)
    somali_caller.end_at += timedelta(hours=1)
    somali_caller.busy_until_at += timedelta(hours=1)
    db_session.commit()  # version 2, changed by someone else
    response = ingrid.post(f"{path}/cancel", data={"confirm": "1", "reason": "Syk", "version": version_of(html),
                                                   **tokens(html)})
    assert response.status_code == 409 and "Noen andre endret denne timen" in response.get_data(as_text=True)
    assert "tir. 24. nov. 11:00" in response.get_data(as_text=True)
    assert fresh(db_session).get(Appointment, somali_caller.id).status == AppointmentStatus.booked


def test_a_past_appointment_cannot_be_moved(ingrid, make, db_session, desk):
    over = make.appointment(desk["amina"], desk["talk"], NOW - timedelta(days=3))
    db_session.commit()
    html = page(ingrid, f"/staff/appointments/{over.id}")
    assert "kan ikke flyttes eller avlyses" in html and 'name="slot"' not in html
    slot = f"{desk['amina'].id}@{oslo(2026, 11, 24, 12, 0).isoformat()}"
    response = ingrid.post(f"/staff/appointments/{over.id}/move",
                           data={"confirm": "1", "slot": slot, "version": "1", **tokens(page(ingrid, "/staff/settings"))})
    assert response.status_code == 409 and "allerede over" in response.get_data(as_text=True)


def test_nonsense_in_a_move_or_an_unknown_appointment_is_no_error(ingrid, db_session, desk, somali_caller):
    html = page(ingrid, f"/staff/appointments/{somali_caller.id}")
    for nonsense in ("soon", f"{desk['hodan'].id}@9999-12-31T10:00:00+00:00", "x@2026-11-24T10:00:00+00:00"):
        response = ingrid.post(f"/staff/appointments/{somali_caller.id}/move",
                               data={"confirm": "1", "slot": nonsense, "version": "1", **tokens(html)})
        assert response.status_code == 400 and "Den tiden forsto vi ikke" in response.get_data(as_text=True)
    assert page(ingrid, f"/staff/appointments/{somali_caller.id}?from=9999-12-31")
    her = somali_caller.client_id
    assert ingrid.get(f"/staff/book?client={her}&language=so&service=x").status_code == 400
    assert ingrid.get(f"/staff/book?client={her}&language=so&service={desk['talk'].id}&after=x").status_code == 200
    assert ingrid.get(f"/staff/book?client=99999&language=so&service={desk['talk'].id}").status_code == 404
    assert ingrid.get(f"/staff/book?ref=%F0%9F%99%82&language=so&service={desk['talk'].id}").status_code == 200
    assert ingrid.get("/staff/appointments/99999").status_code == 404
    assert ingrid.post("/staff/appointments/99999/move",
                       data={"confirm": "1", "slot": "x", "version": "1", **tokens(html)}).status_code == 404
    assert ingrid.get("/staff/search?client=99999").status_code == 404


def test_a_move_to_a_time_someone_else_just_got_shows_other_times(ingrid, make, db_session, desk, somali_caller):
    html = page(ingrid, f"/staff/appointments/{somali_caller.id}")
    to_hodan = [s for s in slot_values(html) if s.startswith(f"{desk['hodan'].id}@")][0]
    make.appointment(desk["hodan"], desk["talk"], datetime.fromisoformat(to_hodan.split("@")[1]))
    db_session.commit()
    response = ingrid.post(f"/staff/appointments/{somali_caller.id}/move",
                           data={"confirm": "1", "slot": to_hodan, "version": version_of(html), **tokens(html)})
    again = response.get_data(as_text=True)
    assert response.status_code == 409 and "Noen andre fikk akkurat den tiden" in again
    assert "Andre ledige tider" in again and to_hodan not in slot_values(again)
    session = fresh(db_session)
    assert session.get(Appointment, somali_caller.id).counselor_id == desk["amina"].id
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.template == "moved")).first() is None


# --- no phone number in any URL ------------------------------------------------------------------

NEW_NUMBER = "+4748200001"
SEPARATORS = re.compile(r"[\s+\-.()]")


class Walk:
    """A receptionist's browser that checks, on every step, the address it asks for, the
    redirect it is sent to and every link and form action on the page it gets: none may hold
    a phone number, however written (its national digits survive once escapes are undone
    and separators dropped: "+47 482 00 001", "%2B4748200001", "0047+482+00+001"...)."""

    def __init__(self, browser, numbers: list[str]):
        self.browser = browser
        self.national = [number.removeprefix("+47") for number in numbers]
        self.checked = 0

    def get(self, path: str) -> str:
        return self._follow(self._check(path, self.browser.get(path)))

    def post(self, path: str, data: dict, *, status: int = 303) -> str:
        response = self._check(path, self.browser.post(path, data=data))
        assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[-1500:])
        return self._follow(response) if status == 303 else response.get_data(as_text=True)

    def link(self, html: str, pattern: str) -> str:
        [href] = {unescape(h) for h in re.findall(r'href="([^"]*)"', html) if re.search(pattern, unescape(h))}
        return href

    def _follow(self, response) -> str:
        while response.status_code in (302, 303):
            location = response.headers["Location"]
            response = self._check(location, self.browser.get(location))
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def _check(self, path: str, response):
        html = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        addresses = [path, response.headers.get("Location", ""),
                     *(unescape(a) for a in re.findall(r'(?:href|action|src|formaction)="([^"]*)"', html))]
        for address in addresses:
            self.assert_no_number(address)
        self.checked += len(addresses)
        return response

    def assert_no_number(self, address: str) -> None:
        for _ in range(3):
            address = unquote_plus(address)
        squeezed = SEPARATORS.sub("", address)
        for national in self.national:
            assert national not in squeezed, f"a phone number in {address!r}"


def test_no_desk_address_holds_a_callers_number(ingrid, make, db_session, desk, somali_caller):
    walk = Walk(ingrid, [SOMALI_NUMBER, NEW_NUMBER])
    for leak in ("/staff/search?phone=%2B47+482+00+001", "/staff/book?phone=0047%2090%2000%2000%2000",
                 "/staff/search?phone=%252B4748200001"):
        with pytest.raises(AssertionError):
            walk.assert_no_number(leak)
    talk = desk["talk"].id
    board = walk.get("/staff/board")
    token = csrf_token(board)
    for path in ("/staff/callbacks", "/staff/messages", "/staff/search", "/staff/book"):
        walk.get(path)

    # A caller Linja knows, found however her number is written.
    for typed in ("90 00 00 00", "+47 900 00 000", "0047 90000000", "90000000", "+4790000000", "900-00-000"):
        html = walk.post("/staff/search", {"phone": typed, "csrf_token": token})
        assert "Innringer +47 90 00 00 00" in html
    # Booking for her, with later times, from her page.
    step_one = walk.get(walk.link(html, r"^/staff/book\?"))
    assert 'value="+4790000000"' in step_one
    step_two = walk.post("/staff/book/times", {"phone": "90 00 00 00", "language": "so", "service": talk,
                                               "csrf_token": token})
    later = walk.get(walk.link(step_two, r"after="))
    walk.get(walk.link(later, r"^/staff/book\?(?!.*after=)"))  # "change number, language or service"
    second = walk.post("/staff/book", {"phone": "+47 900 00 000", "language": "so", "service": talk,
                                       "slot": slot_values(later)[0], **tokens(later)})
    assert "Hun har allerede en time" in second
    booked = walk.post("/staff/book", {"phone": "+47 900 00 000", "language": "so", "service": talk,
                                       "slot": slot_values(later)[0], "second": "1", **tokens(second)})
    assert "Timen er bestilt" in booked

    # A number no caller has yet: found as no one's, then booked for.
    for typed in ("482 00 001", "+47 482 00 001", "0047 48200001", "48200001"):
        html = walk.post("/staff/search", {"phone": typed, "csrf_token": token})
        assert "Ingen innringer har nummeret +47 48 20 00 01" in html
    step_one = walk.get(walk.link(html, r"^/staff/book\?"))
    assert 'value="+4748200001"' in step_one
    step_two = walk.post("/staff/book/times", {"phone": "+4748200001", "language": "so", "service": talk,
                                               "csrf_token": token})
    assert "+47 48 20 00 01" in step_two
    walk.get(walk.link(step_two, r"after="))
    # Someone else takes the first time meanwhile: the refusal, too, names no number.
    first = slot_values(step_two)[0]
    counselor_id, start = first.split("@")
    make.appointment(db_session.get(type(desk["amina"]), int(counselor_id)), desk["talk"],
                     datetime.fromisoformat(start))
    db_session.commit()
    refused = walk.post("/staff/book", {"phone": "+4748200001", "language": "so", "service": talk, "slot": first,
                                        **tokens(step_two)}, status=409)
    booked = walk.post("/staff/book", {"phone": "+4748200001", "language": "so", "service": talk,
                                       "slot": slot_values(refused)[0], **tokens(refused)})
    assert "Timen er bestilt" in booked
    # Now she is a caller Linja knows.
    her_page = walk.post("/staff/search", {"phone": "482 00 001", "csrf_token": token})
    assert "Innringer +47 48 20 00 01" in her_page

    # Moving and cancelling her appointment, from her page and from the board.
    appointment = walk.get(walk.link(her_page, r"^/staff/appointments/\d+$"))
    walk.get(walk.link(appointment, r"^/staff/search\?client="))
    move = re.search(r'action="(/staff/appointments/\d+/move)"', appointment).group(1)
    preview = walk.get(f"{move}?slot={quote(slot_values(appointment)[0])}&version={version_of(appointment)}")
    assert "Bekreft flyttingen" in preview
    moved = walk.post(move, {"slot": slot_values(appointment)[0], "version": version_of(appointment),
                             "confirm": "1", **tokens(preview)})
    assert "Timen er flyttet" in moved
    ask = re.search(r'action="(/staff/appointments/\d+/cancel/ask)"', moved).group(1)
    preview = walk.post(ask, {"reason": "Hun ringte", "version": version_of(moved), **tokens(moved)})
    assert "Bekreft avlysningen" in preview
    cancel = re.search(r'action="(/staff/appointments/\d+/cancel)"', preview).group(1)
    cancelled = walk.post(cancel, {"reason": "Hun ringte", "version": version_of(moved), "confirm": "1",
                                   **tokens(preview)})
    assert "Timen er avlyst." in cancelled
    for path in ("/staff/board", "/staff/board?day=2026-11-24", "/staff/callbacks", "/staff/messages"):
        walk.get(path)
    assert walk.checked > 200


def test_a_number_in_the_query_string_is_not_searched_nor_booked_for(ingrid, db_session, desk, somali_caller):
    for query in ("phone=90000000", "phone=%2B47+900+00+000", "phone=90+00+00+00&client=x"):
        html = page(ingrid, f"/staff/search?{query}")
        assert "Innringer" not in html and "Ingen innringer" not in html
        assert "900" not in html.split('id="phone"')[1].split(">")[0]  # the box is empty
    assert fresh(db_session).scalars(select(AuditEntry).where(AuditEntry.action == "caller_viewed")).all() == []
    html = page(ingrid, f"/staff/book?phone=90000000&language=so&service={desk['talk'].id}")
    assert 'name="slot"' not in html and "+4790000000" not in html and "90000000" not in html
    assert "Steg 1 av 2" in html


def test_a_reference_outlives_neither_the_session_nor_a_few_hours(app, ingrid, desk, clock):
    found = find(ingrid, "482 00 001")
    there = found.headers["Location"]
    assert "Ingen innringer har nummeret +47 48 20 00 01" in page(ingrid, there)
    # Another receptionist's browser (or hers, after signing in again) cannot open it.
    sara = app.test_client()
    sign_in(sara, "sara@linja.test")
    for path in (there, there.replace("/staff/search", "/staff/book")):
        html = page(sara, path)
        assert "Det søket husker Linja ikke lenger" in html and "48 20 00 01" not in html
    for _ in range(25):  # five hours at the desk, never idle long enough to be signed out
        clock.advance(timedelta(minutes=12))
        page(ingrid, "/staff/board")
    html = page(ingrid, there)
    assert "Det søket husker Linja ikke lenger" in html and "48 20 00 01" not in html


def test_the_session_keeps_a_few_new_numbers_encrypted_and_small(app, ingrid, desk):
    places = {}
    for last in range(10):
        number = f"48 20 00 0{last}"
        places[number] = find(ingrid, number).headers["Location"]
    cookie = ingrid.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert len(cookie.value) < 3000
    with app.test_request_context():
        kept = json.dumps(app.session_interface.get_signing_serializer(app).loads(cookie.value))
    assert "4820000" not in kept and "desk_numbers" in kept  # kept, but not readable
    for number, there in places.items():
        shown = page(ingrid, there)
        remembered = "Det søket husker Linja ikke lenger" not in shown
        assert remembered == (number[-1] >= "4"), number  # the newest six
        assert (f"+47 {number}" in shown) == remembered


# --- forms that act once ------------------------------------------------------------------------

ALREADY_SENT = "Dette skjemaet er allerede sendt"
# The staff forms that change nothing: a search, a booking's step 1, signing in and out.
CHANGE_NOTHING = {"staff.login", "staff.logout", "staff.search_number", "staff.book_times", "staff.ask_cancel"}


def sent_twice(browser, path: str, data: dict, html: str):
    """The same form, with the tokens of the page it was on, sent twice (Back and the
    button again, a double click); the first answer and the second."""
    form = {**data, **tokens(html)}
    return browser.post(path, data=form), browser.post(path, data=form)


def assert_already_sent(response, done: str | None = None) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and ALREADY_SENT in html
    if done is not None:
        assert f'href="{done}" id="once-done"' in html


def test_every_staff_form_that_changes_something_acts_once(app):
    posts = {rule.endpoint for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("staff.") and "POST" in rule.methods}
    assert len(posts) > 25
    unguarded = {e for e in posts - CHANGE_NOTHING if not getattr(app.view_functions[e], "is_once", False)}
    assert unguarded == set()


def test_a_booking_sent_twice_books_once_and_links_to_it(ingrid, db_session, desk):
    html = choose(ingrid, "90 11 22 33", "so", desk["talk"].id)
    first, second = sent_twice(ingrid, "/staff/book", {
        "phone": "+4790112233", "language": "so", "service": desk["talk"].id, "slot": slot_values(html)[0],
        "f": re.search(r'name="f" value="([^"]+)"', html).group(1)}, html)
    assert first.status_code == 303
    [booked] = fresh(db_session).scalars(select(Appointment)).all()
    assert_already_sent(second, done=f"/staff/appointments/{booked.id}")


def test_back_to_the_times_and_another_time_books_nothing(ingrid, db_session, desk):
    """Staff pages are never cached, so the browser's Back loads step 2 again: the same
    address, the same token."""
    step_two = ingrid.post("/staff/book/times", data={
        "phone": "90 11 22 33", "language": "so", "service": desk["talk"].id, **tokens(page(ingrid, "/staff/book"))})
    times = step_two.headers["Location"]
    html = page(ingrid, times)
    form = {"phone": "+4790112233", "language": "so", "service": desk["talk"].id,
            "f": re.search(r'name="f" value="([^"]+)"', html).group(1)}
    assert ingrid.post("/staff/book", data={**form, "slot": slot_values(html)[0], **tokens(html)}).status_code == 303
    again = page(ingrid, times)  # Back
    assert_already_sent(ingrid.post("/staff/book", data={**form, "slot": slot_values(again)[1], **tokens(again)}))
    assert len(fresh(db_session).scalars(select(Appointment)).all()) == 1
    # A new booking for her (step 1 again) is a new form.
    fresh_times = page(ingrid, ingrid.post("/staff/book/times", data={
        "phone": "90 11 22 33", "language": "so", "service": desk["talk"].id,
        **tokens(page(ingrid, "/staff/book"))}).headers["Location"])
    asked = ingrid.post("/staff/book", data={
        **form, "f": re.search(r'name="f" value="([^"]+)"', fresh_times).group(1),
        "slot": slot_values(fresh_times)[1], **tokens(fresh_times)})
    question = page(ingrid, asked.headers["Location"])
    assert "Hun har allerede en time" in question
    # Yes, a second; then the browser's Back loads the question again: it says it was sent.
    yes = ingrid.post("/staff/book", data={
        **form, "f": re.search(r'name="f" value="([^"]+)"', question).group(1), "second": "1",
        "slot": slot_values(fresh_times)[1], **tokens(question)})
    assert yes.status_code == 303
    assert_already_sent(ingrid.get(asked.headers["Location"]), done=yes.headers["Location"])
    assert len(fresh(db_session).scalars(select(Appointment)).all()) == 2


def test_a_form_without_its_one_time_token_does_nothing(ingrid, db_session, desk):
    html = choose(ingrid, "90 11 22 33", "so", desk["talk"].id)
    response = ingrid.post("/staff/book", data={"phone": "+4790112233", "language": "so", "service": desk["talk"].id,
                                                "slot": slot_values(html)[0], "csrf_token": csrf_token(html)})
    assert response.status_code == 400 and "Siden er for gammel" in response.get_data(as_text=True)
    assert fresh(db_session).scalars(select(Appointment)).all() == []


def test_a_token_of_another_staff_member_or_too_old_does_nothing(app, ingrid, clock, db_session, desk):
    html = choose(ingrid, "90 11 22 33", "so", desk["talk"].id)
    form = {"phone": "+4790112233", "language": "so", "service": desk["talk"].id, "slot": slot_values(html)[0]}
    sara = app.test_client()
    sign_in(sara, "sara@linja.test")
    borrowed = {**tokens(page(sara, "/staff/book")), "once_token": tokens(html)["once_token"]}
    assert sara.post("/staff/book", data={**form, **borrowed}).status_code == 400
    clock.advance(timedelta(hours=13))
    ingrid.get("/staff/board")  # signed out for being idle; she signs in again
    assert sign_in(ingrid, "ingrid@linja.test").status_code == 302
    assert ingrid.post("/staff/book", data={**form, "csrf_token": csrf_token(page(ingrid, "/staff/book")),
                                            "once_token": tokens(html)["once_token"]}).status_code == 400
    assert fresh(db_session).scalars(select(Appointment)).all() == []


def test_a_move_confirmed_twice_moves_once_and_texts_once(ingrid, db_session, desk, somali_caller):
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    slot = slot_values(html)[1]
    preview = page(ingrid, f"{path}/move?slot={quote(slot)}&version={version_of(html)}")
    first, second = sent_twice(ingrid, f"{path}/move", {"slot": slot, "version": version_of(html), "confirm": "1"},
                               preview)
    assert first.status_code == 303
    assert_already_sent(second, done=path)
    session = fresh(db_session)
    assert session.get(Appointment, somali_caller.id).version == int(version_of(html)) + 1
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "moved")).all()) == 1
    # Back to the confirmation: it says it was sent, with no button to press again.
    back = ingrid.get(f"{path}/move?slot={quote(slot)}&version={version_of(html)}")
    assert_already_sent(back, done=path)
    assert 'id="confirm"' not in back.get_data(as_text=True)


def test_a_move_made_is_said_made_when_what_it_led_to_cannot_be_noted(ingrid, db_session, desk, somali_caller,
                                                                      cuts):
    """The move is committed with its token; the link a second send shows is written after.
    The database going away in between must not tell her the move may not be saved."""
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    slot = slot_values(html)[1]
    preview = page(ingrid, f"{path}/move?slot={quote(slot)}&version={version_of(html)}")
    cuts.on("UPDATE form_tokens")
    moved = ingrid.post(f"{path}/move", data={"slot": slot, "version": version_of(html), "confirm": "1",
                                              **tokens(preview)})
    assert cuts.made == 1
    assert moved.status_code == 303 and moved.headers["Location"].endswith(path)
    assert fresh(db_session).get(Appointment, somali_caller.id).version == int(version_of(html)) + 1
    assert "Timen er flyttet til" in page(ingrid, path)
    assert_already_sent(ingrid.post(f"{path}/move", data={"slot": slot, "version": version_of(html), "confirm": "1",
                                                          **tokens(preview)}))


def test_a_second_click_while_the_first_is_finishing_links_to_what_it_did(ingrid, db_session, desk, somali_caller,
                                                                          monkeypatch):
    """A double click: the second send finds the token the moment the first has committed
    the move, a moment before the first notes where it led. Its page still links there."""
    import threading
    import time

    from staff import once

    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    slot = slot_values(html)[1]
    preview = page(ingrid, f"{path}/move?slot={quote(slot)}&version={version_of(html)}")
    form = {"slot": slot, "version": version_of(html), "confirm": "1", **tokens(preview)}
    second = {}
    make_response = once.make_response

    def finishing(*args):
        # The first send has committed the move: the second click arrives now.
        second["thread"] = threading.Thread(target=lambda: second.update(response=ingrid.post(f"{path}/move",
                                                                                               data=form)))
        second["thread"].start()
        time.sleep(0.5)
        return make_response(*args)

    monkeypatch.setattr(once, "make_response", finishing)
    first = ingrid.post(f"{path}/move", data=form)
    second["thread"].join(30)
    assert first.status_code == 303
    assert_already_sent(second["response"], done=path)
    assert fresh(db_session).get(Appointment, somali_caller.id).version == int(version_of(html)) + 1


def test_a_cancellation_confirmed_twice_cancels_once(ingrid, db_session, desk, somali_caller):
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    first, second = sent_twice(ingrid, f"{path}/cancel", {"reason": "Syk", "version": version_of(html),
                                                          "confirm": "1"}, html)
    assert first.status_code == 303
    assert_already_sent(second, done=path)
    session = fresh(db_session)
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "cancelled")).all()) == 1
    assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "cancelled")).all()) == 1


def test_back_after_cancelling_loads_a_confirmation_that_says_it_was_sent(ingrid, db_session, desk, somali_caller):
    """The cancel form leads to a confirmation at an address of its own: the browser's Back
    after the cancellation loads it (a page made by a POST would be a browser error,
    "Confirm Form Resubmission"), and it says the cancellation was sent."""
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    assert f'action="{path}/cancel/ask"' in html
    asked = ingrid.post(f"{path}/cancel/ask", data={"reason": "Syk, ringer 41 00 00 00", "version": version_of(html),
                                                    **tokens(html)})
    assert asked.status_code == 303
    confirmation = asked.headers["Location"]
    assert "Syk" not in unquote_plus(confirmation) and "41 00" not in unquote_plus(confirmation)
    preview = page(ingrid, confirmation)
    assert "Bekreft avlysningen" in preview and "Syk, ringer 41 00 00 00" in preview
    assert "Bekreft avlysningen" in page(ingrid, confirmation)  # reloaded
    assert fresh(db_session).get(Appointment, somali_caller.id).status == AppointmentStatus.booked
    confirmed = ingrid.post(f"{path}/cancel", data={"reason": "Syk, ringer 41 00 00 00", "version": version_of(html),
                                                    "confirm": "1", **tokens(preview)})
    assert confirmed.status_code == 303
    [entry] = fresh(db_session).scalars(select(AuditEntry).where(AuditEntry.action == "cancelled")).all()
    back = ingrid.get(confirmation)
    assert_already_sent(back, done=path)
    assert 'id="confirm"' not in back.get_data(as_text=True)
    # Without a reason kept for it (another browser, a session ended), it leads to the form.
    other = ingrid.get(f"{path}/cancel?version=999")
    assert other.status_code == 302 and other.headers["Location"].endswith(f"{path}#cancel")


def test_nothing_moves_or_is_cancelled_before_it_is_confirmed(ingrid, db_session, desk, somali_caller):
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    slot = slot_values(html)[1]
    move = ingrid.post(f"{path}/move", data={"slot": slot, "version": version_of(html), **tokens(html)})
    cancel = ingrid.post(f"{path}/cancel", data={"reason": "Syk", "version": version_of(html), **tokens(html)})
    assert "Bekreft flyttingen" in move.get_data(as_text=True)
    assert "Bekreft avlysningen" in cancel.get_data(as_text=True)
    session = fresh(db_session)
    unchanged = session.get(Appointment, somali_caller.id)
    assert unchanged.version == somali_caller.version and unchanged.status == AppointmentStatus.booked
    assert session.scalars(select(OutboxMessage)).all() == []
    # The confirmation's own form can be sent: the first page's token was not used up.
    confirmed = ingrid.post(f"{path}/cancel", data={"reason": "Syk", "version": version_of(html), "confirm": "1",
                                                    **tokens(cancel.get_data(as_text=True))})
    assert confirmed.status_code == 303


def test_the_confirmation_shows_the_text_she_will_get_word_for_word(app, ingrid, db_session, desk, somali_caller):
    from hotline.replies import render_outbound

    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    slot = slot_values(html)[1]
    preview = page(ingrid, f"{path}/move?slot={quote(slot)}&version={version_of(html)}")
    her_text = unescape(re.search(r'id="her-text">([^<]*)<', preview).group(1))
    in_norwegian = unescape(re.search(r'id="staff-text">([^<]*)<', preview).group(1))
    ingrid.post(f"{path}/move", data={"slot": slot, "version": version_of(html), "confirm": "1", **tokens(preview)})
    [text] = fresh(db_session).scalars(select(OutboxMessage).where(OutboxMessage.template == "moved")).all()
    render = app.extensions["linja.render_text"]
    assert her_text == render("moved", "so", text.params) and in_norwegian == render("moved", "nb", text.params)
    assert her_text == render_outbound("moved", "so", text.params, tz=app.extensions["linja.rules"].tz,
                                       address=app.config["CENTRE_ADDRESS"])
    assert "Flyttet til" in in_norwegian and "Flyttet til" not in her_text


def test_a_caller_with_a_code_word_sees_only_the_time_in_the_confirmation(ingrid, db_session, desk, somali_caller):
    from scheduling import codeword

    codeword.set_code_word(db_session, somali_caller.client, "4711", NOW)
    db_session.commit()
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    preview = page(ingrid, f"{path}/move?slot={quote(slot_values(html)[1])}&version={version_of(html)}")
    in_norwegian = unescape(re.search(r'id="staff-text">([^<]*)<', preview).group(1))
    assert in_norwegian.startswith("Flyttet til") and "Adresse" not in in_norwegian


def test_a_caller_with_no_number_left_gets_no_text_and_the_confirmation_says_so(ingrid, db_session, desk,
                                                                                somali_caller):
    somali_caller.client.phone_e164 = None
    db_session.commit()
    path = f"/staff/appointments/{somali_caller.id}"
    html = page(ingrid, path)
    preview = page(ingrid, f"{path}/move?slot={quote(slot_values(html)[1])}&version={version_of(html)}")
    assert 'id="her-text"' not in preview and "får ingen SMS om dette" in preview


def test_a_code_word_cleared_twice_is_cleared_once(ingrid, db_session, desk, somali_caller):
    from scheduling import codeword

    codeword.set_code_word(db_session, somali_caller.client, "4711", NOW)
    db_session.commit()
    html = search_page(ingrid, "90 00 00 00")
    first, second = sent_twice(ingrid, f"/staff/clients/{somali_caller.client_id}/code-word/clear", {}, html)
    assert first.status_code == 303
    assert_already_sent(second, done=f"/staff/search?client={somali_caller.client_id}")


def test_old_form_tokens_are_swept_by_the_worker(ingrid, db_session, desk, clock):
    from scheduling.models import FormToken
    from scheduling.worker import housekeeping

    html = choose(ingrid, "90 11 22 33", "so", desk["talk"].id)
    ingrid.post("/staff/book", data={"phone": "+4790112233", "language": "so", "service": desk["talk"].id,
                                     "slot": slot_values(html)[0], **tokens(html)})
    assert len(fresh(db_session).scalars(select(FormToken)).all()) == 1
    session = fresh(db_session)
    housekeeping(session, NOW + timedelta(hours=11), "test")
    session.commit()
    assert len(fresh(db_session).scalars(select(FormToken)).all()) == 1
    session = fresh(db_session)
    housekeeping(session, NOW + timedelta(hours=13), "test")
    session.commit()
    assert fresh(db_session).scalars(select(FormToken)).all() == []


def test_an_absence_sent_twice_is_added_once(app, make, db_session, desk):
    from scheduling.models import Absence

    make.counselor(role=StaffRole.admin, name="Kari", email="kari@linja.test", password_hash=PASSWORD_HASH)
    db_session.commit()
    kari = app.test_client()
    sign_in(kari, "kari@linja.test")
    amina = desk["amina"].id
    calendar = page(kari, f"/staff/admin/staff/{amina}/calendar")
    first, second = sent_twice(kari, f"/staff/admin/staff/{amina}/absences", {
        "first_day": "2026-11-26", "starts": "13:00", "last_day": "2026-11-26", "ends": "15:30"}, calendar)
    assert first.status_code == 302
    assert_already_sent(second, done=f"/staff/admin/staff/{amina}/calendar")
    assert len(fresh(db_session).scalars(select(Absence)).all()) == 1


def test_attendance_sent_twice_is_marked_once(app, clock, db_session, desk, somali_caller):
    clock.set(oslo(2026, 11, 24, 11, 30))
    amina = app.test_client()
    sign_in(amina, "amina@linja.test")
    day = page(amina, "/staff/day")
    first, second = sent_twice(amina, f"/staff/day/appointments/{somali_caller.id}/attendance",
                               {"status": "attended", "version": version_of(day)}, day)
    assert first.status_code in (302, 303)
    assert_already_sent(second)
    marked = [e for e in fresh(db_session).scalars(select(AuditEntry)).all() if e.action not in ("appointment_viewed",)]
    assert fresh(db_session).get(Appointment, somali_caller.id).status == AppointmentStatus.attended
    assert len(marked) == 1
