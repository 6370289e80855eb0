"""Staff sign-in: every staff page needs a signed-in member; forms carry CSRF tokens."""
from __future__ import annotations

import pytest

from scheduling.models import AppointmentStatus, StaffRole
from tests.conftest import oslo
from tests.staff.support import PASSWORD, PASSWORD_HASH, csrf_token, sign_in, tokens

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


def test_sign_out(client, team):
    sign_in(client, "amina@linja.test")
    html = client.get("/staff/settings").get_data(as_text=True)
    response = client.post("/staff/logout", data={**tokens(html)})
    assert response.headers["Location"] == "/staff/login"
    assert client.get("/staff/").status_code == 302
