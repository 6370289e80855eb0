"""Signing in and staying signed in: guessing is slowed, idle sessions end, each staff
member chooses the language of her pages and changes her own password."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduling.models import AuditEntry, LoginAttempt, Staff, StaffRole
from scheduling.brake import FAILURES_PER_EMAIL, FIRST_WAIT
from staff.passwords import check_password
from tests.conftest import fresh
from tests.staff.support import PASSWORD, PASSWORD_HASH, post_form, sign_in, tokens


@pytest.fixture
def amina(make, db_session):
    amina = make.counselor(name="Amina", email="amina@linja.test", password_hash=PASSWORD_HASH)
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist,
                   password_hash=PASSWORD_HASH)
    db_session.commit()
    return amina


def test_after_five_wrong_passwords_even_the_right_one_waits_a_quarter_of_an_hour(client, amina, clock):
    for _ in range(FAILURES_PER_EMAIL):
        assert "Feil e-post eller passord." in sign_in(client, "amina@linja.test", "guess").get_data(as_text=True)
    refused = sign_in(client, "AMINA@linja.test", PASSWORD)
    assert refused.status_code == 429
    assert "For mange forsøk. Du kan prøve igjen kl. 08:15, om 15 minutter." in refused.get_data(as_text=True)
    assert client.get("/staff/settings").status_code == 302

    # Another member is not held up by someone guessing Amina's password.
    assert sign_in(client, "ingrid@linja.test").status_code == 302
    client.post("/staff/logout", data={**tokens(client.get("/staff/settings").get_data(as_text=True))})

    clock.advance(FIRST_WAIT + timedelta(seconds=1))
    assert sign_in(client, "amina@linja.test").status_code == 302
    assert client.get("/staff/settings").status_code == 200


def test_a_successful_sign_in_forgets_earlier_failures_and_no_password_is_kept(client, amina, db_session):
    sign_in(client, "amina@linja.test", "guess-one")
    attempts = fresh(db_session).scalars(select(LoginAttempt)).all()
    assert [a.email for a in attempts] == ["amina@linja.test"]
    assert "guess-one" not in repr([(a.email, a.remote_addr) for a in attempts])
    assert sign_in(client, "amina@linja.test").status_code == 302
    assert fresh(db_session).scalars(select(LoginAttempt)).all() == []


def test_half_an_hour_without_activity_signs_her_out_and_brings_her_back_after(client, amina, clock):
    sign_in(client, "amina@linja.test")
    clock.advance(timedelta(minutes=29))
    assert client.get("/staff/settings").status_code == 200  # activity restarts the half hour
    clock.advance(timedelta(minutes=29))
    assert client.get("/staff/settings").status_code == 200

    clock.advance(timedelta(minutes=31))
    response = client.get("/staff/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=/staff/settings")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Du ble logget ut fordi du ikke hadde gjort noe på en stund" in page

    back = client.post(response.headers["Location"], data={
        "email": "amina@linja.test", "password": PASSWORD, **tokens(page)})
    assert back.headers["Location"] == "/staff/settings"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/staff/", "/hotline/sms", "/staff/\\evil"])
def test_after_sign_in_she_is_never_sent_off_the_staff_pages(client, amina, target):
    page = client.get("/staff/login").get_data(as_text=True)
    response = client.post("/staff/login", query_string={"next": target}, data={
        "email": "amina@linja.test", "password": PASSWORD, **tokens(page)})
    assert response.headers["Location"] == "/staff/"


def test_the_session_cookie_is_http_only_and_same_site(client, amina):
    response = sign_in(client, "amina@linja.test")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_she_switches_her_pages_to_english_and_sets_her_phone(client, amina, db_session):
    sign_in(client, "amina@linja.test")
    assert "Innstillinger" in client.get("/staff/settings").get_data(as_text=True)

    response = post_form(client, "/staff/settings", {"ui_locale": "en", "phone": "900 00 001"})
    assert response.status_code == 302
    page = client.get("/staff/settings").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Settings" in page and "Sign out" in page and "Innstillinger" not in page
    assert "Saved." in page
    me = fresh(db_session).get(Staff, amina.id)
    assert (me.ui_locale, me.phone_e164) == ("en", "+4790000001")


def test_a_bad_phone_number_is_explained_and_nothing_is_lost(client, amina, db_session):
    sign_in(client, "amina@linja.test")
    response = post_form(client, "/staff/settings", {"ui_locale": "en", "phone": "12"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Det nummeret finnes ikke. Sjekk sifrene og landskoden." in page
    assert 'value="12"' in page
    assert fresh(db_session).get(Staff, amina.id).ui_locale == "nb"


def test_she_changes_her_password_knowing_the_current_one(client, amina, db_session):
    sign_in(client, "amina@linja.test")
    wrong = post_form(client, "/staff/settings/password",
                      {"current": "not it", "new": "a much longer one", "repeat": "a much longer one"},
                      page="/staff/settings")
    assert wrong.status_code == 400 and "Det er ikke ditt nåværende passord." in wrong.get_data(as_text=True)
    short = post_form(client, "/staff/settings/password",
                      {"current": PASSWORD, "new": "short", "repeat": "short"}, page="/staff/settings")
    assert "Minst 10 tegn." in short.get_data(as_text=True)

    done = post_form(client, "/staff/settings/password",
                     {"current": PASSWORD, "new": "a much longer one", "repeat": "a much longer one"},
                     page="/staff/settings")
    assert done.status_code == 302
    me = fresh(db_session).get(Staff, amina.id)
    assert check_password(me.password_hash, "a much longer one")
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "password_changed")).one()
    assert entry.actor_staff_id == amina.id and "longer" not in str(entry.details)


def test_guessing_her_password_on_the_settings_page_is_braked_as_at_sign_in(client, amina, db_session):
    sign_in(client, "amina@linja.test")  # a session left open on the reception computer
    guess = {"current": "not it", "new": "a much longer one", "repeat": "a much longer one"}
    for _ in range(FAILURES_PER_EMAIL):
        assert post_form(client, "/staff/settings/password", guess, page="/staff/settings").status_code == 400
    braked = post_form(client, "/staff/settings/password", {**guess, "current": PASSWORD}, page="/staff/settings")
    assert braked.status_code == 429 and int(braked.headers["Retry-After"]) == FIRST_WAIT.total_seconds()
    assert "For mange forsøk." in braked.get_data(as_text=True)
    assert check_password(fresh(db_session).get(Staff, amina.id).password_hash, PASSWORD)  # unchanged
