"""Staff pages name a caller's language in the staff member's own page language
("arabisk", "Arabic"); the caller's own script appears only where a caller's text is
previewed (marked ``caller-text``)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from scheduling.models import AppointmentStatus, BookedVia, CallbackRequest, StaffRole
from tests.conftest import NOW, oslo
from tests.staff.support import PASSWORD_HASH, sign_in

# Arabic script (Arabic, Urdu, Farsi) and Ge'ez (Tigrinya), with their presentation forms.
NON_LATIN = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"
                       "\u1200-\u139f\u2d80-\u2ddf\uab00-\uab2f]")
CALLER_TEXT = re.compile(r'<(\w+)[^>]*class="[^"]*\bcaller-text\b[^"]*"[^>]*>.*?</\1>', re.S)


def shown_text(html: str) -> str:
    """What a staff member reads on the page, less any preview of a caller's own text."""
    html = re.sub(r"<(script|style|title)\b.*?</\1>", " ", CALLER_TEXT.sub(" ", html), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def week(make, db_session, centre):
    """Appointments, call-backs and an absence in every script the line serves."""
    talk = centre["talk"]
    amina = make.counselor(name="Amina", email="amina@linja.test", languages=["nb", "ar", "ti", "fa", "ur"],
                           services=[talk], password_hash=PASSWORD_HASH)
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist,
                   password_hash=PASSWORD_HASH)
    make.counselor(name="Ingrid E", email="ingrid-en@linja.test", role=StaffRole.receptionist,
                   password_hash=PASSWORD_HASH, ui_locale="en")
    make.counselor(name="Kari", email="kari@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    make.counselor(name="Kari E", email="kari-en@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH,
                   ui_locale="en")
    appointments = {}
    for hour, code in zip((8, 10, 12, 14, 16), ("ar", "ti", "fa", "ur", "so")):
        caller = make.client(language_code=code)
        appointments[code] = make.appointment(amina, talk, oslo(2026, 11, 23, hour, 0), client_id=caller.id,
                                              language_code=code, booked_via=BookedVia.sms)
        db_session.add(CallbackRequest(client_id=caller.id, language_code=code, requested_via=BookedVia.voice,
                                       requested_at=NOW - timedelta(hours=hour)))
    make.appointment(amina, talk, oslo(2026, 11, 24, 9, 0), language_code="ar",
                     status=AppointmentStatus.booked)
    db_session.commit()
    return {"amina": amina, **appointments}


def read(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_a_counselor_reads_her_callers_languages_in_norwegian(app, week):
    browser = app.test_client()
    sign_in(browser, "amina@linja.test")
    for path in ("/staff/day", "/staff/week", "/staff/day?print=1"):
        text = shown_text(read(browser, path))
        assert not NON_LATIN.search(text), (path, NON_LATIN.findall(text))
        for name in ("arabisk", "tigrinja", "persisk (farsi/dari)", "urdu", "somali"):
            assert name in text, (path, name)
        assert "(ar)" not in text and "Soomaali" not in text


def test_the_desk_reads_languages_in_its_page_language(app, week):
    pages = ["/staff/board", "/staff/callbacks", f"/staff/appointments/{week['ar'].id}",
             f"/staff/appointments/{week['ti'].id}", "/staff/book"]
    for email, names in (("ingrid@linja.test", ["arabisk", "tigrinja", "persisk (farsi/dari)"]),
                         ("ingrid-en@linja.test", ["Arabic", "Tigrinya", "Persian (Farsi/Dari)"])):
        browser = app.test_client()
        sign_in(browser, email)
        everything = ""
        for path in pages:
            text = shown_text(read(browser, path))
            assert not NON_LATIN.search(text), (email, path, NON_LATIN.findall(text))
            everything += text
        for name in names:
            assert name in everything, (email, name)


def test_admin_pages_name_languages_in_her_page_language(app, week):
    amina = week["amina"].id
    pages = ["/staff/admin/staff", f"/staff/admin/staff/{amina}", f"/staff/admin/staff/{amina}/calendar",
             "/staff/admin/services/new", "/staff/admin/languages", "/staff/admin/recordings",
             "/staff/admin/recordings/ti", "/staff/admin/recordings/ar/upload?key=v_main_menu",
             "/staff/admin/audit"]
    for email, names in (("kari@linja.test", ["arabisk", "tigrinja", "persisk (farsi/dari)", "urdu"]),
                         ("kari-en@linja.test", ["Arabic", "Tigrinya", "Persian (Farsi/Dari)", "Urdu"])):
        browser = app.test_client()
        sign_in(browser, email)
        for path in pages:
            text = shown_text(read(browser, path))
            assert not NON_LATIN.search(text), (email, path, NON_LATIN.findall(text))
        staff_list = shown_text(read(browser, "/staff/admin/staff"))
        for name in names:
            assert name in staff_list, (email, name)


def test_where_a_caller_sees_her_language_the_admin_sees_it_as_she_does(app, week):
    """The language menu's own names and a recording's script are previews of what a
    caller reads or hears, so they keep her script, marked as such."""
    browser = app.test_client()
    sign_in(browser, "kari@linja.test")
    languages = read(browser, "/staff/admin/languages")
    assert re.search(r'class="caller-text" lang="ar" dir="rtl">العربية<', languages)
    assert "arabisk" in shown_text(languages)
    upload = read(browser, "/staff/admin/recordings/ar/upload?key=v_main_menu")
    assert re.search(r'<p class="script big caller-text" lang="ar" dir="rtl">[^<]*[\u0600-\u06ff]', upload)
