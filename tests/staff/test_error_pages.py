"""A page that cannot be shown is Linja's own page, in her page language, saying what
happened and offering the way back: never Werkzeug's bare "403 Forbidden". The webhooks
keep answering Twilio as before."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from scheduling.models import StaffRole
from tests.database_cuts import cuts  # noqa: F401  (a fixture)
from tests.staff.support import PASSWORD_HASH, sign_in


@pytest.fixture
def staff(make, db_session):
    make.counselor(name="Amina", email="amina@linja.test", password_hash=PASSWORD_HASH)
    make.counselor(name="Anna", email="anna@linja.test", password_hash=PASSWORD_HASH, ui_locale="en")
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist,
                   password_hash=PASSWORD_HASH)
    make.counselor(name="Kari", email="kari@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    db_session.commit()


def signed_in(app, email):
    browser = app.test_client()
    assert sign_in(browser, email).status_code == 302
    return browser


def heading(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1).strip()


def way_back(html: str) -> list[tuple[str, str]]:
    block = re.search(r'<p class="way-back">(.*?)</p>', html, re.S).group(1)
    links = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', block, re.S)
    return [(href, text.strip()) for href, text in links]


def test_a_counselor_following_a_board_link_is_told_it_is_the_receptions_page(app, staff):
    response = signed_in(app, "amina@linja.test").get("/staff/board")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert heading(html) == "Denne siden er for resepsjonen"
    assert "Du er logget inn som rådgiver" in html
    assert way_back(html) == [("/staff/day", "Gå til Min dag")]
    assert 'class="bar"' in html and "Forbidden" not in html
    assert "Min uke" in html  # her own menu, as on every page


def test_an_english_counselor_reads_it_in_english(app, staff):
    html = signed_in(app, "anna@linja.test").get("/staff/callbacks").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert heading(html) == "This page is for the reception desk"
    assert "You are signed in as a counselor" in html
    assert way_back(html) == [("/staff/day", "Go to My day")]


BOARD, DAY = ("/staff/board", "Gå til Tavle"), ("/staff/day", "Gå til Min dag")


@pytest.mark.parametrize(("email", "path", "said", "home"), [
    ("ingrid@linja.test", "/staff/admin/staff", "Denne siden er for administratorene", BOARD),
    ("kari@linja.test", "/staff/week", "Denne siden er for rådgiverne", BOARD),
    ("amina@linja.test", "/staff/admin/", "Denne siden er for administratorene", DAY),
])
def test_the_page_names_the_role_it_is_for_and_leads_to_her_own_start_page(app, staff, email, path, said,
                                                                             home):
    response = signed_in(app, email).get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert heading(html) == said
    assert way_back(html) == [home]


def test_an_address_that_does_not_exist_offers_sign_in_to_a_stranger(client, staff):
    for path in ("/staff/no-such-page", "/wp-login.php", "/staff/admin/services/999999"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        if path.endswith("999999"):  # a real page's address: she signs in first
            assert response.status_code == 302
            continue
        assert response.status_code == 404, path
        assert heading(html) == "Fant ikke siden"
        assert way_back(html) == [("/staff/login", "Logg inn")]
        assert "Not Found" not in html


def test_a_missing_appointment_is_not_found_with_her_way_back(app, staff):
    response = signed_in(app, "ingrid@linja.test").get("/staff/appointments/424242")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert heading(html) == "Fant ikke siden"
    assert way_back(html) == [("/staff/board", "Gå til Tavle")]
    english = signed_in(app, "anna@linja.test").get("/staff/no-such-page").get_data(as_text=True)
    assert heading(english) == "Page not found"


def test_opening_a_form_address_in_the_browser_is_explained(app, staff):
    response = signed_in(app, "amina@linja.test").get("/staff/logout")
    html = response.get_data(as_text=True)
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert heading(html) == "Siden kan ikke åpnes slik"
    assert way_back(html) == [("/staff/day", "Gå til Min dag")]


def test_a_form_sent_to_a_page_that_takes_none_is_not_told_the_page_takes_only_forms(app, staff):
    browser = signed_in(app, "amina@linja.test")
    response = browser.post("/")  # the front door is opened, never posted to
    html = response.get_data(as_text=True)
    assert response.status_code == 405 and "POST" not in response.headers["Allow"]
    assert heading(html) == "Siden kan ikke åpnes slik"
    assert "tar bare imot et skjema" not in html
    assert "Denne siden tar ikke imot skjemaer" in html
    assert way_back(html) == [("/staff/day", "Gå til Min dag")]
    english = signed_in(app, "anna@linja.test").post("/staff/day").get_data(as_text=True)
    assert "This page does not take forms" in english


def test_a_form_sent_without_its_token_says_nothing_was_changed(app, staff):
    response = signed_in(app, "amina@linja.test").post("/staff/settings", data={"ui_locale": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert heading(html) == "Skjemaet kunne ikke sendes" and "Ingenting ble endret" in html
    assert "CSRF" not in html


def test_a_failure_shows_linjas_page_in_her_language_and_no_internals(app, staff):
    def breaks():
        raise RuntimeError("secret internals: /srv/linja/app.py line 42")

    app.add_url_rule("/staff/breaks", "breaks", breaks)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    browser = signed_in(app, "anna@linja.test")
    response = browser.get("/staff/breaks?day=2026-11-23")
    html = response.get_data(as_text=True)
    assert response.status_code == 500 and response.headers["Cache-Control"] == "no-store"
    assert heading(html) == "Something went wrong at Linja"
    assert way_back(html) == [("http://localhost/staff/breaks?day=2026-11-23", "Try again"),
                              ("/staff/day", "Go to My day")]
    assert "secret internals" not in html and "RuntimeError" not in html and "Traceback" not in html
    assert signed_in(app, "amina@linja.test").get("/staff/day").status_code == 200  # the next request is fine


def test_a_missing_page_while_the_database_is_away_says_so_instead_of_failing(app, staff, cuts):
    browser = signed_in(app, "amina@linja.test")
    cuts.always("FROM staff")  # her name and language on the page need the database
    response = browser.get("/staff/no-such-page")
    assert response.status_code == 503
    assert "Linja får ikke kontakt med databasen akkurat nå" in response.get_data(as_text=True)
    cuts.stop()
    assert browser.get("/staff/no-such-page").status_code == 404


def test_a_session_idle_past_its_half_hour_is_signed_out_on_an_error_page_too(app, staff, clock):
    """An address no page has never reaches the staff pages' idle check: the error page
    must not show an ended session as signed in (her name, her menu) to whoever sits at
    the computer she left."""
    browser = signed_in(app, "amina@linja.test")
    clock.advance(timedelta(minutes=31))
    response = browser.get("/wp-login.php")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Amina" not in html and "Min uke" not in html
    assert "Du ble logget ut fordi du ikke hadde gjort noe på en stund" in html
    assert way_back(html) == [("/staff/login", "Logg inn")]
    for path in ("/staff/no-such-page", "/staff/logout"):  # a 404 and a 405 under /staff/
        assert "Amina" not in browser.get(path).get_data(as_text=True), path
    assert browser.get("/staff/day").headers["Location"].startswith("/staff/login")


def test_an_error_page_that_names_her_is_never_stored_even_outside_the_staff_pages(app, staff):
    """Every staff page is no-store (a shared computer, Back after signing out); an error
    page at any address carries her name, her menu and a sign-out form's token as well."""
    browser = signed_in(app, "amina@linja.test")
    for path in ("/wp-login.php", "/board", "/staff/no-such-page", "/staff/logout", "/staff/board"):
        response = browser.get(path)
        assert response.status_code in (403, 404, 405), path
        assert "Amina" in response.get_data(as_text=True), path
        assert response.headers.get("Cache-Control") == "no-store", path
    response = browser.post("/favicon.ico")
    assert response.status_code == 405 and response.headers.get("Cache-Control") == "no-store"


def test_the_front_door_leads_to_sign_in_or_her_start_page(app, client, staff):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    browser = signed_in(app, "ingrid@linja.test")
    response = browser.get("/", follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/staff/board"


def test_the_favicon_is_linja_s_and_every_page_links_it(client, staff):
    response = client.get("/favicon.ico", follow_redirects=True)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True).startswith("<svg")
    login = client.get("/staff/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/nowhere").get_data(as_text=True)


def test_webhooks_still_answer_twilio_with_bare_statuses(client, staff):
    for path, status in (("/hotline/sms", 403), ("/hotline/voice", 403), ("/hotline/nowhere", 404)):
        response = client.post(path, data={"From": "+4791234567", "Body": "hei"})
        assert response.status_code == status, path
        assert 'class="bar"' not in response.get_data(as_text=True), path
    assert 'class="bar"' not in client.get("/hotline/sms").get_data(as_text=True)
