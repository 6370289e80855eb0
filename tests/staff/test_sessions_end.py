"""Sessions that end: signing out, a new password, deactivation and "Logg ut overalt" end
every session the staff member has, however the cookie was copied; a query string never
travels in the sign-in page's ``next``."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduling.models import AuditEntry, StaffRole
from tests.conftest import fresh
from tests.staff.support import PASSWORD, PASSWORD_HASH, post_form, sign_in, tokens


@pytest.fixture
def team(make, db_session):
    amina = make.counselor(name="Amina", email="amina@linja.test", password_hash=PASSWORD_HASH)
    make.counselor(name="Ada", email="ada@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    db_session.commit()
    return amina


def signed_in(app, email="amina@linja.test"):
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    assert client.get("/staff/settings").status_code == 200
    return client


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_a_cookie_copied_before_sign_out_opens_nothing_after(app, team):
    client = signed_in(app)
    copy = copy_of(app, client)
    assert copy.get("/staff/day").status_code == 200

    post_form(client, "/staff/logout", {}, page="/staff/settings")

    assert client.get("/staff/day").status_code == 302
    response = copy.get("/staff/day")
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def test_signing_out_on_one_computer_signs_her_out_on_the_others(app, team):
    desk, home = signed_in(app), signed_in(app)
    post_form(desk, "/staff/logout", {}, page="/staff/settings")
    assert home.get("/staff/day").status_code == 302
    assert signed_in(app).get("/staff/day").status_code == 200  # and she can sign in again


def test_a_new_password_keeps_this_session_and_ends_the_others(app, team):
    here, elsewhere = signed_in(app), signed_in(app)
    done = post_form(here, "/staff/settings/password",
                     {"current": PASSWORD, "new": "a much longer one", "repeat": "a much longer one"},
                     page="/staff/settings")
    assert done.status_code == 302
    assert "Passordet er endret." in here.get("/staff/settings").get_data(as_text=True)
    assert here.get("/staff/day").status_code == 200
    assert elsewhere.get("/staff/day").status_code == 302


def test_an_admin_setting_her_password_ends_her_sessions(app, team):
    amina, admin = signed_in(app), signed_in(app, "ada@linja.test")
    page = f"/staff/admin/staff/{team.id}"
    assert post_form(admin, f"{page}/password", {"new": "another long one", "repeat": "another long one"},
                     page=page).status_code == 302
    assert amina.get("/staff/day").status_code == 302


def staff_form(team, **changes):
    return {"name": "Amina", "email": "amina@linja.test", "role": "counselor", "phone": "",
            "is_active": "y", "languages": ["nb"], **changes}


def test_deactivation_ends_her_sessions_for_good(app, team):
    amina, admin = signed_in(app), signed_in(app, "ada@linja.test")
    page = f"/staff/admin/staff/{team.id}"
    form = staff_form(team)
    del form["is_active"]
    assert post_form(admin, page, form).status_code == 302
    assert amina.get("/staff/day").status_code == 302

    # Taken back on: her old session stays ended; she signs in again.
    assert post_form(admin, page, staff_form(team)).status_code == 302
    assert amina.get("/staff/day").status_code == 302
    assert signed_in(app).get("/staff/day").status_code == 200


def test_an_admin_signs_her_out_everywhere_and_it_is_in_the_audit_trail(app, team, db_session):
    desk, phone = signed_in(app), signed_in(app)
    admin = signed_in(app, "ada@linja.test")
    page = f"/staff/admin/staff/{team.id}"
    html = admin.get(page).get_data(as_text=True)
    assert "Logg ut overalt" in html and f'action="{page}/sign-out"' in html

    assert admin.post(f"{page}/sign-out").status_code == 400  # no CSRF token, nothing happens
    assert desk.get("/staff/day").status_code == 200

    done = post_form(admin, f"{page}/sign-out", {}, page=page)
    assert done.status_code == 302 and done.headers["Location"] == page
    assert "Amina er logget ut på alle enheter." in admin.get(page).get_data(as_text=True)
    assert desk.get("/staff/day").status_code == 302
    assert phone.get("/staff/day").status_code == 302
    assert admin.get(page).status_code == 200  # the admin's own session goes on

    entry = fresh(db_session).scalars(
        select(AuditEntry).where(AuditEntry.action == "staff_signed_out_everywhere")).one()
    assert entry.details == {"staff": team.id}


def test_only_an_admin_signs_someone_out_everywhere(app, team):
    amina = signed_in(app)
    html = amina.get("/staff/settings").get_data(as_text=True)
    response = amina.post(f"/staff/admin/staff/{team.id}/sign-out", data={**tokens(html)})
    assert response.status_code == 403
    assert amina.get("/staff/day").status_code == 200


def test_the_sign_in_page_never_carries_a_query_string_in_next(app, team, clock):
    stranger = app.test_client()
    response = stranger.get("/staff/search?q=%2B4790000000")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login?next=/staff/search"

    client = signed_in(app, "ada@linja.test")
    clock.advance(timedelta(minutes=31))
    response = client.get("/staff/search?q=90000000")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login?next=/staff/search"

    # A next that arrives with one anyway loses it.
    page = client.get("/staff/login").get_data(as_text=True)
    back = client.post("/staff/login", query_string={"next": "/staff/search?q=90000000"}, data={
        "email": "ada@linja.test", "password": PASSWORD, **tokens(page)})
    assert back.headers["Location"] == "/staff/search"
