"""The admin pages: what an admin sets up is what counselors, the desk and callers then meet."""
from __future__ import annotations

import io
import re
from datetime import date, time

import pytest
from sqlalchemy import select

from hotline.phone import SimulatedPhone, call
from scheduling.availability import find_free_slots
from scheduling.models import (
    Absence,
    AuditEntry,
    Closure,
    DutyShift,
    Language,
    OpeningHours,
    PromptRecording,
    Service,
    Staff,
    StaffRole,
    WorkingHours,
)
from tests.conftest import NOW, OSLO, fresh, oslo, page_and_statements
from tests.hotline.test_sms_flows import MENU_NUMBER
from tests.hotline.test_voice import CheckedTransport
from tests.hotline.twilio_client import Phone
from tests.staff.support import PASSWORD, PASSWORD_HASH, csrf_token, post_form, sign_in, tokens

ADMIN = "hanne@linja.test"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64


@pytest.fixture
def admin(make, db_session):
    hanne = make.counselor(name="Hanne", email=ADMIN, role=StaffRole.admin, password_hash=PASSWORD_HASH)
    db_session.commit()
    return hanne


@pytest.fixture
def signed_in(client, admin):
    assert sign_in(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def languages_restored(engine):
    """Languages are seeded once per database and outlive each test: put them back."""
    with engine.connect() as connection:
        before = connection.execute(select(Language.code, Language.is_enabled, Language.menu_order)).all()
    yield
    with engine.begin() as connection:
        for code, is_enabled, menu_order in before:
            connection.execute(Language.__table__.update().where(Language.__table__.c.code == code)
                               .values(is_enabled=is_enabled, menu_order=menu_order))


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def errors(html: str) -> list[str]:
    return re.findall(r'<p class="error"[^>]*>([^<]+)</p>', html)


def audit(db_session, action):
    return fresh(db_session).scalars(select(AuditEntry).where(AuditEntry.action == action)
                                     .order_by(AuditEntry.id)).all()


# --- who may see the pages --------------------------------------------------------------


def admin_paths(db_session, counselor_id, absence_id, hours_id) -> tuple[list[str], list[str]]:
    gets = ["/staff/admin/", "/staff/admin/staff", "/staff/admin/staff/new", f"/staff/admin/staff/{counselor_id}",
            f"/staff/admin/staff/{counselor_id}/calendar", "/staff/admin/services", "/staff/admin/services/new",
            "/staff/admin/languages", "/staff/admin/opening", "/staff/admin/duty", "/staff/admin/recordings",
            "/staff/admin/recordings/so", "/staff/admin/recordings/so/upload?key=v_main_menu"]
    posts = [f"/staff/admin/staff/{counselor_id}", f"/staff/admin/staff/{counselor_id}/password",
             f"/staff/admin/staff/{counselor_id}/studio-pin",
             f"/staff/admin/staff/{counselor_id}/hours", f"/staff/admin/hours/{hours_id}/delete",
             f"/staff/admin/staff/{counselor_id}/absences", f"/staff/admin/absences/{absence_id}/delete",
             "/staff/admin/staff/new", "/staff/admin/services/new", "/staff/admin/languages",
             "/staff/admin/opening/hours", "/staff/admin/opening/closures", "/staff/admin/duty",
             "/staff/admin/recordings/so/upload"]
    return gets, posts


def test_only_an_admin_gets_the_admin_pages(app, make, db_session, admin):
    amina = make.counselor(email="amina@linja.test", password_hash=PASSWORD_HASH)
    make.counselor(role=StaffRole.receptionist, email="ingrid@linja.test", password_hash=PASSWORD_HASH)
    make.counselor(role=StaffRole.recorder, email="tigist@linja.test", languages=["ti"], password_hash=PASSWORD_HASH)
    absence = make.absence(amina, oslo(2026, 12, 1, 9, 0), oslo(2026, 12, 1, 12, 0))
    hours = db_session.scalars(select(WorkingHours).where(WorkingHours.staff_id == amina.id)).first()
    db_session.commit()
    gets, posts = admin_paths(db_session, amina.id, absence.id, hours.id)

    stranger = app.test_client()
    assert all(stranger.get(path).status_code == 302 for path in gets)
    for email in ("amina@linja.test", "ingrid@linja.test", "tigist@linja.test"):
        browser = app.test_client()
        sign_in(browser, email)
        token = csrf_token(browser.get("/staff/settings").get_data(as_text=True))
        # Which recordings pages a recorder opens is test_roles.OPEN_TO_RECORDERS' to say.
        theirs = [path for path in gets if email != "tigist@linja.test" or "/recordings" not in path]
        sent = [path for path in posts if email != "tigist@linja.test" or "/recordings" not in path]
        assert [browser.get(path).status_code for path in theirs] == [403] * len(theirs), email
        assert [browser.post(path, data={"csrf_token": token}).status_code for path in sent] == [403] * len(sent)
        menu = browser.get("/staff/settings").get_data(as_text=True)
        # A recorder's menu has the recordings, nothing else of the admin's.
        shown = {"/staff/admin/recordings"} if email == "tigist@linja.test" else set()
        assert set(re.findall(r'href="(/staff/admin/[^"]*)"', menu)) == shown, email

    browser = app.test_client()
    sign_in(browser, ADMIN)
    assert [browser.get(path).status_code for path in gets] == [200] * len(gets)
    assert 'href="/staff/admin/"' in page(browser, "/staff/settings")  # one menu entry: "Oppsett"
    # Without a CSRF token nothing is changed.
    assert browser.post(f"/staff/admin/absences/{absence.id}/delete").status_code == 400
    assert fresh(db_session).get(Absence, absence.id) is not None


def test_unknown_ids_are_not_found(signed_in):
    assert signed_in.get("/staff/admin/staff/999999").status_code == 404
    assert signed_in.get("/staff/admin/staff/999999/calendar").status_code == 404
    assert signed_in.get("/staff/admin/services/999999").status_code == 404
    assert signed_in.get("/staff/admin/recordings/xx").status_code == 404
    unknown_prompt = signed_in.get("/staff/admin/recordings/so/upload?key=no-such-prompt")
    assert unknown_prompt.headers["Location"] == "/staff/admin/recordings/so"
    assert "Velg opptaket du vil laste opp fra lista." in page(signed_in, "/staff/admin/recordings/so")
    for path in ("/staff/admin/hours/999999/delete", "/staff/admin/absences/999999/delete",
                 "/staff/admin/duty/999999/delete", "/staff/admin/opening/hours/999999/delete",
                 "/staff/admin/opening/closures/999999/delete"):
        assert signed_in.post(path, data=tokens(page(signed_in, "/staff/settings"))).status_code == 404, path


# --- staff --------------------------------------------------------------------------------


def test_a_new_counselor_who_speaks_somali_can_sign_in_and_gets_slots(app, signed_in, make, db_session):
    make.opening_hours()
    talk = make.service(names={"nb": "Samtale"})
    db_session.commit()
    response = post_form(signed_in, "/staff/admin/staff/new", {
        "name": "Hodan", "email": "Hodan@Linja.test", "role": "counselor", "phone": "90 00 00 01",
        "is_active": "y", "languages": ["so", "nb"], "services": [str(talk.id)], "password": PASSWORD,
    })
    assert response.status_code == 302
    hodan = fresh(db_session).scalars(select(Staff).where(Staff.name == "Hodan")).one()
    assert hodan.phone_e164 == "+4790000001" and {lang.code for lang in hodan.languages} == {"so", "nb"}
    assert response.headers["Location"].endswith(f"/staff/admin/staff/{hodan.id}/calendar")
    assert find_free_slots(db_session, service_id=talk.id, language_code="so", now=NOW) == []  # no hours yet

    for weekday in range(5):
        response = post_form(signed_in, f"/staff/admin/staff/{hodan.id}/hours", {
            "weekday": weekday, "starts": "09:00", "ends": "15:00", "valid_from": "2026-11-01", "valid_until": ""},
            page=f"/staff/admin/staff/{hodan.id}/calendar")
        assert response.status_code == 302
    slots = find_free_slots(fresh(db_session), service_id=talk.id, language_code="so", now=NOW)
    assert slots and {s.counselor_id for s in slots} == {hodan.id}
    assert not any(s.is_interpreter_needed for s in slots)

    her_browser = app.test_client()
    assert sign_in(her_browser, "hodan@linja.test").status_code == 302  # any case
    [added] = audit(db_session, "staff_added")
    assert added.actor_staff_id is not None and "+4790000001" not in str(added.details)
    assert added.details["languages"] == ["nb", "so"]


def test_a_taken_address_a_short_password_and_a_bad_number_are_answered_next_to_the_field(signed_in, admin,
                                                                                          db_session):
    response = post_form(signed_in, "/staff/admin/staff/new", {
        "name": "Sara", "email": "HANNE@linja.test", "role": "counselor", "phone": "12", "is_active": "y",
        "languages": ["ar"], "password": "short"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Minst 10 tegn." in errors(html)
    assert any("telefonnummer" in e or "nummeret" in e for e in errors(html))
    assert 'value="Sara"' in html and re.search(r'<input checked[^>]*value="ar"', html)  # nothing she typed is lost
    response = post_form(signed_in, "/staff/admin/staff/new", {
        "name": "Sara", "email": "HANNE@linja.test", "role": "counselor", "is_active": "y", "password": PASSWORD})
    assert "Noen andre har allerede denne e-postadressen." in errors(response.get_data(as_text=True))
    assert fresh(db_session).scalars(select(Staff).where(Staff.name == "Sara")).first() is None


def test_the_last_active_admin_cannot_demote_or_deactivate_herself(signed_in, admin, make, db_session):
    path = f"/staff/admin/staff/{admin.id}"
    form = {"name": "Hanne", "email": ADMIN, "role": "counselor", "is_active": "y"}
    response = post_form(signed_in, path, form)
    assert response.status_code == 400
    assert any("eneste aktive administratoren" in e for e in errors(response.get_data(as_text=True)))
    response = post_form(signed_in, path, {**form, "role": "admin", "is_active": ""})
    assert response.status_code == 400
    assert fresh(db_session).get(Staff, admin.id).role == StaffRole.admin

    make.counselor(name="Kari", role=StaffRole.admin, email="kari@linja.test")
    db_session.commit()
    assert post_form(signed_in, path, form).status_code == 302  # another admin stays: she may step down
    assert fresh(db_session).get(Staff, admin.id).role == StaffRole.counselor
    assert signed_in.get("/staff/admin/").status_code == 403


def test_deactivating_a_counselor_stops_her_sign_in_and_her_slots(app, signed_in, centre, db_session):
    somali = centre["counselors"]["so"]
    somali.password_hash = PASSWORD_HASH
    db_session.commit()
    response = post_form(signed_in, f"/staff/admin/staff/{somali.id}", {
        "name": somali.name, "email": somali.email, "role": "counselor", "is_active": "",
        "languages": ["so", "nb"], "services": [str(centre["talk"].id)]})
    assert response.status_code == 302
    slots = find_free_slots(fresh(db_session), service_id=centre["talk"].id, language_code="so", now=NOW)
    assert somali.id not in {s.counselor_id for s in slots}
    assert sign_in(app.test_client(), somali.email).status_code == 200  # refused: the form again
    assert db_session.get(Staff, somali.id) is not None  # kept, not deleted


def test_an_admin_sets_a_new_password(app, signed_in, centre, db_session):
    somali = centre["counselors"]["so"]
    path = f"/staff/admin/staff/{somali.id}/password"
    response = post_form(signed_in, path, {"new": "new password 123", "repeat": "new password 12"},
                         page=f"/staff/admin/staff/{somali.id}")
    assert response.status_code == 400 and "De to passordene er ikke like." in errors(response.get_data(as_text=True))
    response = post_form(signed_in, path, {"new": "new password 123", "repeat": "new password 123"},
                         page=f"/staff/admin/staff/{somali.id}")
    assert response.status_code == 302
    assert sign_in(app.test_client(), somali.email, "new password 123").status_code == 302


# --- working hours and absences -----------------------------------------------------------


def test_overlapping_working_hours_are_refused_with_a_message(signed_in, centre, db_session):
    somali = centre["counselors"]["so"]  # Mon-Fri 09-16 since 2026-01-01, open-ended
    path = f"/staff/admin/staff/{somali.id}/hours"
    calendar = f"/staff/admin/staff/{somali.id}/calendar"
    response = post_form(signed_in, path, {"weekday": 0, "starts": "15:00", "ends": "18:00",
                                           "valid_from": "2026-12-01"}, page=calendar)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any("overlapper med mandag 09:00–16:00" in e for e in errors(html))
    assert 'value="15:00"' in html and 'value="18:00"' in html
    response = post_form(signed_in, path, {"weekday": 1, "starts": "12:00", "ends": "10:00",
                                           "valid_from": "2026-12-01"}, page=calendar)
    assert "Sluttiden må være etter starttiden." in errors(response.get_data(as_text=True))
    count = len(fresh(db_session).scalars(select(WorkingHours).where(WorkingHours.staff_id == somali.id)).all())
    assert count == 5
    # Saturday is free, and Monday after a change of hours that ends the old ones is too.
    assert post_form(signed_in, path, {"weekday": 5, "starts": "10:00", "ends": "14:00",
                                       "valid_from": "2026-11-23"}, page=calendar).status_code == 302
    assert len(audit(db_session, "working_hours_added")) == 1


def test_removing_working_hours(signed_in, centre, db_session):
    somali = centre["counselors"]["so"]
    monday = db_session.scalars(select(WorkingHours).where(WorkingHours.staff_id == somali.id,
                                                           WorkingHours.weekday == 0)).one()

    def mondays():
        slots = find_free_slots(fresh(db_session), service_id=centre["talk"].id, language_code="so", now=NOW,
                                counselor_ids=[somali.id], limit=40)
        return [s for s in slots if s.start_at.astimezone(OSLO).weekday() == 0]

    assert mondays()
    html = page(signed_in, f"/staff/admin/staff/{somali.id}/calendar")
    assert signed_in.post(f"/staff/admin/hours/{monday.id}/delete",
                          data={**tokens(html)}).status_code == 302
    assert mondays() == []
    assert audit(db_session, "working_hours_removed")[0].details["weekday"] == 0


def test_an_absence_takes_her_slots_away_and_lists_what_is_already_booked(signed_in, centre, make, db_session):
    somali = centre["counselors"]["so"]
    talk = centre["talk"]
    booked = make.appointment(somali, talk, oslo(2026, 11, 24, 10, 0), client_id=make.client(language_code="so").id,
                              language_code="so")
    db_session.commit()
    before = find_free_slots(db_session, service_id=talk.id, language_code="so", now=NOW,
                             counselor_ids=[somali.id], limit=20)
    on_tuesday = [s for s in before if oslo(2026, 11, 24, 0, 0) <= s.start_at < oslo(2026, 11, 25, 0, 0)]
    assert on_tuesday

    calendar = f"/staff/admin/staff/{somali.id}/calendar"
    response = post_form(signed_in, f"/staff/admin/staff/{somali.id}/absences", {
        "first_day": "2026-11-24", "starts": "", "last_day": "2026-11-24", "ends": "", "reason": "Kurs"},
        page=calendar)
    assert response.status_code == 302
    [absence] = fresh(db_session).scalars(select(Absence)).all()
    assert (absence.starts_at, absence.ends_at) == (oslo(2026, 11, 24, 0, 0), oslo(2026, 11, 25, 0, 0))
    after = find_free_slots(db_session, service_id=talk.id, language_code="so", now=NOW,
                            counselor_ids=[somali.id], limit=20)
    assert not set(s.start_at for s in on_tuesday) & set(s.start_at for s in after)

    html = page(signed_in, calendar)
    assert "1 time er allerede booket" in html  # the flash after saving
    assert "resepsjonen må flytte disse timene" in html and "tir. 24. nov. 2026 10:00" in html
    assert "somali" in html and "Kurs" in html and "tir. 24. nov. 2026, hele dagen" in html
    [entry] = audit(db_session, "absence_added")
    assert entry.details["booked_appointments"] == [booked.id]


def test_an_absence_in_local_time_and_bad_absences(signed_in, centre, db_session):
    somali = centre["counselors"]["so"]
    calendar = f"/staff/admin/staff/{somali.id}/calendar"
    path = f"/staff/admin/staff/{somali.id}/absences"
    response = post_form(signed_in, path, {"first_day": "2026-11-26", "starts": "13:00",
                                           "last_day": "2026-11-26", "ends": "12:00"}, page=calendar)
    assert response.status_code == 400
    assert "Fraværet må slutte etter at det begynner." in errors(response.get_data(as_text=True))
    response = post_form(signed_in, path, {"first_day": "2026-11-26", "starts": "13:00",
                                           "last_day": "26.11.2026", "ends": "15:00"}, page=calendar)
    assert response.status_code == 400 and 'value="13:00"' in response.get_data(as_text=True)
    response = post_form(signed_in, path, {"first_day": "2026-11-26", "starts": "13:00",
                                           "last_day": "2026-11-26", "ends": "15:30"}, page=calendar)
    assert response.status_code == 302
    [absence] = fresh(db_session).scalars(select(Absence)).all()
    assert (absence.starts_at, absence.ends_at) == (oslo(2026, 11, 26, 13, 0), oslo(2026, 11, 26, 15, 30))
    html = page(signed_in, calendar)
    assert "13:00" in html and "15:30" in html and "Ingen kommende fravær" not in html
    assert signed_in.post(f"/staff/admin/absences/{absence.id}/delete",
                          data={**tokens(html)}).status_code == 302
    assert fresh(db_session).scalars(select(Absence)).all() == []


# --- services and languages ---------------------------------------------------------------


def test_a_new_service_is_offered_on_the_sms_line_in_her_language(app, client, signed_in, centre, db_session):
    response = post_form(signed_in, "/staff/admin/services/new", {
        "slug": "okonomi", "name_nb": "", "name_so": "Dhaqaale", "duration_minutes": "30", "buffer_minutes": "10",
        "menu_order": "1", "is_active": "y"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and any("norsk" in e for e in errors(html)) and 'value="Dhaqaale"' in html
    response = post_form(signed_in, "/staff/admin/services/new", {
        "slug": "okonomi", "name_nb": "Økonomi", "name_so": "Dhaqaale", "duration_minutes": "30",
        "buffer_minutes": "10", "menu_order": "0", "is_active": "y"})
    assert response.status_code == 302
    service = fresh(db_session).scalars(select(Service).where(Service.slug == "okonomi")).one()
    assert service.name_in("so") == "Dhaqaale" and service.name_in("ar") == "Økonomi"
    # A counselor must offer it before a caller gets times; the menu shows it already.
    phone = Phone(app.test_client(), app, "+4791234567")
    phone.text("hi")
    phone.text(str(MENU_NUMBER["so"]))
    assert "Dhaqaale" in phone.text("1")

    response = post_form(signed_in, f"/staff/admin/services/{centre['talk'].id}", {
        "slug": "okonomi", "name_nb": "Samtale", "duration_minutes": "60", "buffer_minutes": "15",
        "menu_order": "1", "is_active": "y"})
    assert "En annen tjeneste har allerede dette kortnavnet." in errors(response.get_data(as_text=True))


def test_a_service_name_that_says_too_much_is_refused(signed_in, centre, db_session):
    response = post_form(signed_in, "/staff/admin/services/new", {
        "slug": "krise", "name_nb": "Samtale", "name_so": "Xarig", "name_ar": "مساعدة ضحايا العنف",
        "duration_minutes": "30", "buffer_minutes": "10", "menu_order": "1", "is_active": "y"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any("Navnet røper for mye" in e for e in errors(html))
    assert fresh(db_session).scalars(select(Service).where(Service.slug == "krise")).first() is None


def test_a_disabled_language_leaves_the_sms_menu_and_norwegian_stays(app, signed_in, centre, db_session,
                                                                     languages_restored):
    html = page(signed_in, "/staff/admin/languages")
    languages = fresh(db_session).scalars(select(Language)).all()
    form = {**tokens(html)}
    for language in languages:
        form[f"order_{language.code}"] = str(language.menu_order)
        if language.is_enabled and language.code != "ti":
            form[f"enabled_{language.code}"] = "y"
    form["order_so"] = "0"  # Somali first
    assert signed_in.post("/staff/admin/languages", data=form).status_code == 302

    menu = Phone(app.test_client(), app, "+4791234567").text("hi")
    assert "ትግርኛ" not in menu and "Soomaali" in menu and menu.startswith("1 Soomaali")

    del form["enabled_nb"]
    form.update(tokens(page(signed_in, "/staff/admin/languages")))
    response = signed_in.post("/staff/admin/languages", data=form)
    assert response.status_code == 400
    assert "Norsk kan ikke slås av: det er språket Linja faller tilbake på." in errors(response.get_data(as_text=True))
    assert fresh(db_session).get(Language, "nb").is_enabled
    assert audit(db_session, "languages_changed")[0].details["languages"]["ti"]["is_enabled"] is False


# --- opening hours, closures, the duty rota ---------------------------------------------------


def test_opening_hours_and_closures(signed_in, centre, db_session):
    response = post_form(signed_in, "/staff/admin/opening/hours", {"weekday": 0, "opens": "17:00", "closes": "19:00"},
                         page="/staff/admin/opening")
    assert response.status_code == 400 and any("overlapper" in e for e in errors(response.get_data(as_text=True)))
    assert post_form(signed_in, "/staff/admin/opening/hours", {"weekday": 5, "opens": "10:00", "closes": "14:00"},
                     page="/staff/admin/opening").status_code == 302
    assert fresh(db_session).scalars(select(OpeningHours).where(OpeningHours.weekday == 5)).one().opens == time(10)

    response = post_form(signed_in, "/staff/admin/opening/closures",
                         {"first_day": "2026-11-25", "last_day": "2026-11-24"}, page="/staff/admin/opening")
    assert "Siste dag kan ikke være før første dag." in errors(response.get_data(as_text=True))
    assert post_form(signed_in, "/staff/admin/opening/closures",
                     {"first_day": "2026-11-24", "last_day": "2026-11-25", "reason": "Seminar"},
                     page="/staff/admin/opening").status_code == 302
    assert fresh(db_session).scalars(select(Closure)).one().first_day == date(2026, 11, 24)
    slots = find_free_slots(db_session, service_id=centre["talk"].id, language_code="so", now=NOW, limit=20)
    assert not any(oslo(2026, 11, 24, 0, 0) <= s.start_at < oslo(2026, 11, 26, 0, 0) for s in slots)
    assert "Seminar" in page(signed_in, "/staff/admin/opening")


def test_the_duty_rota_warns_when_she_has_no_phone_number(app, signed_in, make, centre, db_session):
    ingrid = make.counselor(name="Ingrid", role=StaffRole.receptionist, email="ingrid@linja.test")
    db_session.commit()
    response = post_form(signed_in, "/staff/admin/duty", {"staff_id": ingrid.id, "weekday": 0,
                                                          "starts": "08:00", "ends": "12:00"})
    assert response.status_code == 302
    html = page(signed_in, "/staff/admin/duty")
    assert "Ingrid har ikke telefonnummer" in html and "Mangler telefonnummer" in html
    response = post_form(signed_in, "/staff/admin/duty", {"staff_id": ingrid.id, "weekday": 0,
                                                          "starts": "11:00", "ends": "13:00"})
    assert "Ingrid har allerede en vakt som overlapper denne." in errors(response.get_data(as_text=True))
    # A counselor is not on the list of people who take transfers.
    response = post_form(signed_in, "/staff/admin/duty", {"staff_id": centre["counselors"]["so"].id,
                                                          "weekday": 1, "starts": "08:00", "ends": "12:00"})
    assert response.status_code == 400
    assert [s.staff_id for s in fresh(db_session).scalars(select(DutyShift))] == [ingrid.id]


# --- recordings ---------------------------------------------------------------------------


def upload(client, language, key, content, filename="opptak.mp3", content_type="audio/mpeg"):
    path = f"/staff/admin/recordings/{language}/upload"
    html = page(client, f"{path}?key={key}")
    return client.post(path, data={**tokens(html), "prompt_key": key,
                                   "audio": (io.BytesIO(content), filename, content_type)},
                       content_type="multipart/form-data")


def test_the_recordings_page_lists_what_somali_still_needs(signed_in, centre):
    html = page(signed_in, "/staff/admin/recordings")
    assert "somali" in html and "Soomaali" not in html and "Bare opptak" in html
    html = page(signed_in, "/staff/admin/recordings/so?missing=1")
    # Each recording by what it is, in the admin's words; never by its key.
    assert "For å bestille time, trykk 1. For å høre, avbestille eller …" in html
    shown = re.sub(r"<[^>]+>", " ", html)
    assert "v_main_menu" not in shown and "weekday:0" not in shown and "service:" not in shown
    assert "navnet på tjenesten: Samtale" in html
    assert "Wada-hadal" in html  # the service's Somali name, to be said
    assert "Isniin" in html and "ukedag: mandag" in html  # Monday, in Somali, for weekday:0
    # A piece of a sentence is shown inside its whole Somali sentence, the piece marked.
    assert "I setningen:" in html and "… [riix] …" in html


def test_an_uploaded_recording_is_played_by_the_voice_line_and_replaced_with_a_new_address(
        app, signed_in, centre, db_session):
    assert upload(signed_in, "en", "v_main_menu", MP3).status_code == 302
    row = fresh(db_session).scalars(select(PromptRecording)).one()
    assert (row.prompt_key, row.language_code, row.content_type) == ("v_main_menu", "en", "audio/mpeg")
    assert len(row.token) >= 40

    transport = CheckedTransport(app)
    line = call(SimulatedPhone(transport, "+4791234567", app.config["PUBLIC_BASE_URL"],
                               app.config["TWILIO_AUTH_TOKEN"]))
    heard = line.press("2")  # English
    assert [h.kind for h in heard] == ["play"] and heard[0].text == f"/hotline/recordings/{row.token}"
    assert app.test_client().get(heard[0].text).data == MP3
    html = page(signed_in, "/staff/admin/recordings/en/upload?key=v_main_menu")
    assert f'<audio controls preload="metadata" src="/hotline/recordings/{row.token}"' in html

    old = row.token
    assert upload(signed_in, "en", "v_main_menu", WAV, "opptak.wav", "audio/x-wav").status_code == 302
    row = fresh(db_session).scalars(select(PromptRecording)).one()
    assert row.token != old and row.content_type == "audio/wav"
    assert app.test_client().get(f"/hotline/recordings/{old}").status_code == 404
    assert app.test_client().get(f"/hotline/recordings/{row.token}").data == WAV
    assert [e.action for e in audit(db_session, "recording_replaced")] == ["recording_replaced"]


@pytest.mark.parametrize("content, filename, content_type, message", [
    (b"%PDF-1.7 not audio at all" * 10, "opptak.mp3", "audio/mpeg", "ser ikke ut som en MP3- eller WAV-fil"),
    (b"OggS\x00\x02" + b"\x00" * 64, "opptak.ogg", "audio/ogg", "Bare MP3- eller WAV-filer"),
    (MP3, "opptak.mp3", "text/html", "Bare MP3- eller WAV-filer"),
    (b"ID3" + b"\x00" * (5 * 1024 * 1024), "stor.mp3", "audio/mpeg", "for stor"),
])
def test_anything_but_a_small_mp3_or_wav_is_refused(signed_in, centre, db_session, content, filename,
                                                    content_type, message):
    response = upload(signed_in, "so", "v_main_menu", content, filename, content_type)
    assert response.status_code in (400, 413)
    assert any(message in e for e in errors(response.get_data(as_text=True)))
    assert fresh(db_session).scalars(select(PromptRecording)).all() == []


def test_no_admin_change_writes_a_phone_number_into_the_audit_trail(signed_in, centre, db_session):
    somali = centre["counselors"]["so"]
    post_form(signed_in, f"/staff/admin/staff/{somali.id}", {
        "name": somali.name, "email": somali.email, "role": "receptionist", "phone": "+47 912 34 567",
        "is_active": "y", "languages": ["so"]})
    post_form(signed_in, "/staff/admin/duty", {"staff_id": somali.id, "weekday": 2, "starts": "09:00",
                                               "ends": "12:00"})
    entries = fresh(db_session).scalars(select(AuditEntry)).all()
    assert {e.action for e in entries} == {"staff_changed", "duty_shift_added"}
    assert not any("912" in str(e.details) for e in entries)
    assert fresh(db_session).get(Staff, somali.id).phone_e164 == "+4791234567"


# --- the audit trail of an admin's changes, in words ------------------------------------------


def shown_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&")


@pytest.fixture
def a_morning_of_setup(signed_in, admin, centre, db_session, languages_restored):
    """Hanne adds Hodan and her hours, an absence, changes a service, the opening hours,
    a closure, the duty rota, the language menu, and uploads a Somali recording."""
    talk = centre["talk"]
    assert post_form(signed_in, "/staff/admin/staff/new", {
        "name": "Hodan", "email": "hodan@linja.test", "role": "counselor", "phone": "90 00 00 01",
        "is_active": "y", "languages": ["so", "nb"], "services": [str(talk.id)], "password": PASSWORD,
    }).status_code == 302
    hodan = fresh(db_session).scalars(select(Staff).where(Staff.name == "Hodan")).one()
    calendar = f"/staff/admin/staff/{hodan.id}/calendar"
    assert post_form(signed_in, f"/staff/admin/staff/{hodan.id}/hours", {
        "weekday": 0, "starts": "09:00", "ends": "15:00", "valid_from": "2026-11-01", "valid_until": ""},
        page=calendar).status_code == 302
    assert post_form(signed_in, f"/staff/admin/staff/{hodan.id}/absences", {
        "first_day": "2026-11-24", "starts": "", "last_day": "2026-11-24", "ends": "", "reason": "Kurs"},
        page=calendar).status_code == 302
    assert post_form(signed_in, f"/staff/admin/services/{talk.id}", {
        "slug": talk.slug, "name_nb": "Samtale", "name_so": "Wada-hadal", "duration_minutes": "50",
        "buffer_minutes": "10", "menu_order": "2", "is_active": "y"}).status_code == 302
    assert post_form(signed_in, "/staff/admin/opening/hours", {"weekday": 5, "opens": "10:00", "closes": "14:00"},
                     page="/staff/admin/opening").status_code == 302
    assert post_form(signed_in, "/staff/admin/opening/closures",
                     {"first_day": "2026-12-24", "last_day": "2026-12-26", "reason": "Jul"},
                     page="/staff/admin/opening").status_code == 302
    assert post_form(signed_in, "/staff/admin/duty", {"staff_id": admin.id, "weekday": 0,
                                                      "starts": "08:00", "ends": "12:00"}).status_code == 302
    html = page(signed_in, "/staff/admin/languages")
    form = tokens(html)
    for language in fresh(db_session).scalars(select(Language)).all():
        form[f"order_{language.code}"] = str(language.menu_order)
        if language.is_enabled and language.code != "ti":
            form[f"enabled_{language.code}"] = "y"
    assert signed_in.post("/staff/admin/languages", data=form).status_code == 302
    path = "/staff/admin/recordings/so/upload"
    html = page(signed_in, f"{path}?key=v_main_menu")
    assert signed_in.post(path, data={**tokens(html), "prompt_key": "v_main_menu",
                                      "audio": (io.BytesIO(MP3), "meny.mp3", "audio/mpeg")},
                          content_type="multipart/form-data").status_code == 302
    return hodan


@pytest.mark.parametrize("locale, lines", [
    ("nb", ["La til en ansatt", "Hodan, rådgiver, aktiv, språk: norsk, somali, tjenester: Samtale, har telefonnummer",
            "Hodan, mandag 09:00–15:00, fra 1. nov. 2026",
            "Hodan, 24. nov. 2026, hele dagen",
            "Samtale, 50 min, pause 10 min, aktiv, plass 2, navn på arabisk, norsk, somali, tigrinja",
            "lørdag 10:00–14:00", "24. des. 2026 – 26. des. 2026", "Hanne, mandag 08:00–12:00",
            "tigrinja: ikke i menyen",
            "«For å bestille time, trykk 1. For å høre, avbestille eller …» på somali"]),
    ("en", ["Added a staff member",
            "Hodan, counselor, active, languages: Norwegian, Somali, services: Samtale, has a phone number",
            "Hodan, Monday 09:00–15:00, from Nov 1, 2026", "Hodan, Nov 24, 2026, all day",
            "Samtale, 50 minutes, break 10 minutes, active, place 2, names in Arabic, Norwegian, Somali, Tigrinya",
            "Saturday 10:00–14:00",
            "Dec 24, 2026 – Dec 26, 2026", "Hanne, Monday 08:00–12:00", "Tigrinya: not in the menu",
            "“To book a time, press 1. To hear, cancel or move your time …” in Somali"]),
])
def test_the_audit_trail_tells_an_admins_changes_in_words(signed_in, admin, a_morning_of_setup, db_session,
                                                          locale, lines):
    fresh(db_session).get(Staff, admin.id).ui_locale = locale
    db_session.commit()
    text = shown_text(page(signed_in, "/staff/admin/audit"))
    for line in lines:
        assert line in text, line
    for raw in ("staff:", "role:", "is_active", "has_phone", "weekday", "valid_from", "starts_at", "duration_minutes",
                "menu_order", "is_enabled", "prompt_key", "v_main_menu", "content_type", "bytes", "true", "false",
                "None", "{", "["):
        assert raw not in text, raw
    assert "90000001" not in text.replace(" ", "")


def test_the_admin_calendar_reads_as_much_for_six_absences_as_for_one(signed_in, make, db_session, engine):
    from datetime import timedelta


    service = make.service(slug="legal")
    counselor = make.counselor(name="Hodan", services=[service])
    page = f"/staff/admin/staff/{counselor.id}/calendar"

    def absence_with_a_booking(day: int) -> None:
        starts = oslo(2026, 12, day, 0, 0)
        make.absence(counselor, starts, starts + timedelta(days=1))
        make.appointment(counselor, service, oslo(2026, 12, day, 10, 0))

    def statements() -> tuple[int, str]:
        html, count = page_and_statements(signed_in, page)
        return count, html

    absence_with_a_booking(1)
    db_session.commit()
    one, _html = statements()
    for day in (2, 3, 7, 8, 9):
        absence_with_a_booking(day)
    db_session.commit()
    six, html = statements()
    assert six == one
    # Each absence still lists the appointment inside it, and only that one.
    assert html.count("10:00") == 6
