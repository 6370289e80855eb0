"""Staff sign-in: every staff page needs a signed-in member; forms carry CSRF tokens."""
from __future__ import annotations

import pytest

from scheduling.models import AppointmentStatus, StaffRole
from tests.conftest import oslo
from tests.staff.support import PASSWORD, PASSWORD_HASH, csrf_token, sign_in

@pytest.fixture
def team(make, db_session):
    make.opening_hours()
    service = make.service(names={"nb": "Familiespørsmål", "en": "Family questions"})
    amina = make.counselor(name="Amina", email="amina@linja.test", services=[service],
                           password_hash=PASSWORD_HASH)
    leila = make.counselor(name="Leila", email="leila@linja.test", services=[service],
                           password_hash=PASSWORD_HASH)
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist,
                   password_hash=PASSWORD_HASH)
    make.counselor(name="Gone", email="gone@linja.test", is_active=False, password_hash=PASSWORD_HASH)
    make.appointment(amina, service, oslo(2026, 11, 23, 10, 0), language_code="so", is_interpreter_needed=False)
    make.appointment(leila, service, oslo(2026, 11, 23, 13, 0), language_code="ti", is_interpreter_needed=True)
    make.appointment(leila, service, oslo(2026, 11, 23, 15, 0), status=AppointmentStatus.cancelled)
    make.appointment(amina, service, oslo(2026, 11, 24, 9, 0))
    db_session.commit()


@pytest.mark.parametrize("path", ["/staff/", "/staff/?day=2026-11-24"])
def test_staff_pages_send_strangers_to_the_sign_in_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")


def test_sign_in_page_has_a_csrf_token_and_labelled_fields(client):
    html = client.get("/staff/login").get_data(as_text=True)
    assert csrf_token(html)
    assert '<label for="email">' in html and '<label for="password">' in html


def test_a_post_without_csrf_token_is_refused(client, team):
    response = client.post("/staff/login", data={"email": "amina@linja.test", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302


def test_wrong_password_or_inactive_member_gets_a_kind_message(client, team):
    for email, password in [("amina@linja.test", "wrong"), ("gone@linja.test", PASSWORD), ("nobody@x.no", PASSWORD)]:
        response = sign_in(client, email, password)
        assert response.status_code == 200
        assert "Feil e-post eller passord." in response.get_data(as_text=True)
        assert client.get("/staff/").status_code == 302


def test_a_counselor_sees_her_own_day_only(client, team):
    assert sign_in(client, "Amina@linja.test").headers["Location"] == "/staff/"
    assert client.get("/staff/").headers["Location"] == "/staff/day"
    html = client.get("/staff/day").get_data(as_text=True)
    assert "mandag 23. november 2026" in html
    assert "10:00–11:00" in html and "so" in html
    assert "13:00" not in html  # Leila's appointment


def test_a_receptionist_sees_every_counselor_and_no_cancelled_ones(client, team):
    sign_in(client, "ingrid@linja.test")
    html = client.get("/staff/day").get_data(as_text=True)
    assert "Amina" in html and "Leila" in html
    assert "13:00–14:00" in html and "15:00" not in html
    next_day = client.get("/staff/day?day=2026-11-24").get_data(as_text=True)
    assert "tirsdag 24. november 2026" in next_day and "09:00–10:00" in next_day


def test_a_nonsense_day_shows_today_with_a_message(client, team):
    sign_in(client, "ingrid@linja.test")
    html = client.get("/staff/day?day=tomorrow'--").get_data(as_text=True)
    assert "Den datoen forsto vi ikke" in html and "mandag 23. november 2026" in html


def test_sign_out(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/settings").get_data(as_text=True)
    response = client.post("/staff/logout", data={"csrf_token": csrf_token(html)})
    assert response.headers["Location"] == "/staff/login"
    assert client.get("/staff/").status_code == 302
