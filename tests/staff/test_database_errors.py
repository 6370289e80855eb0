"""A staff page whose database connection is cut shows a page that says so, with a way to
try again, never Werkzeug's bare 500."""
from __future__ import annotations

import pytest

from scheduling.models import StaffRole
from staff.passwords import hash_password
from tests.database_cuts import cuts, terminate_app_connections  # noqa: F401  (a fixture)
from tests.staff.support import PASSWORD, sign_in, tokens

UNAVAILABLE = "Linja får ikke kontakt med databasen akkurat nå"


@pytest.fixture
def browser(app, make, db_session):
    make.counselor(role=StaffRole.receptionist, email="ingrid@linja.test", password_hash=hash_password(PASSWORD))
    db_session.commit()
    browser = app.test_client()
    assert sign_in(browser, "ingrid@linja.test").status_code == 302
    return browser


@pytest.mark.parametrize("statement", ["FROM staff", "FROM callback_requests"],
                         ids=["signing her in", "the page's own query"])
def test_a_cut_connection_shows_a_page_that_says_the_database_is_away(browser, cuts, statement):
    cuts.always(statement)
    response = browser.get("/staff/callbacks")
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and UNAVAILABLE in page
    assert response.headers["Retry-After"] and response.headers["Cache-Control"] == "no-store"
    assert 'href="http://localhost/staff/callbacks"' in page  # "Prøv igjen" reloads the page
    cuts.stop()
    assert browser.get("/staff/callbacks").status_code == 200


def test_a_form_sent_while_the_database_is_away_says_it_may_not_be_saved(browser, cuts):
    sent_with = tokens(browser.get("/staff/settings").get_data(as_text=True))
    cuts.always("FROM staff")
    response = browser.post("/staff/settings", data={"ui_locale": "en", "phone": "", **sent_with})
    assert response.status_code == 503 and "ble kanskje ikke lagret" in response.get_data(as_text=True)


def test_after_the_database_restarts_between_requests_the_pages_work(browser, engine, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("terminating backends is PostgreSQL's")
    terminate_app_connections(engine)
    assert browser.get("/staff/callbacks").status_code == 200
