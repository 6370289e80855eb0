"""Ids in query strings that are digits to Python but no row's id (a superscript digit, a
number past PostgreSQL's integer) are not found, never a 500."""
from __future__ import annotations

import pytest

from scheduling.models import StaffRole
from tests.staff.support import PASSWORD_HASH, sign_in


@pytest.fixture
def desk(app, make, db_session):
    make.counselor(name="Rita", email="rita@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    db_session.commit()
    client = app.test_client()
    assert sign_in(client, "rita@linja.test").status_code == 302
    return client


@pytest.mark.parametrize("path", ["/staff/search", "/staff/book"])
@pytest.mark.parametrize("value", ["\u00b2", "99999999999999999999"])
def test_an_odd_client_id_names_no_one_and_is_no_error(desk, path, value):
    # Not a caller: the page without her (the empty form), or not found; never a 500.
    response = desk.get(path, query_string={"client": value})
    assert response.status_code in (200, 404)
    assert "Noe gikk galt" not in response.get_data(as_text=True)


def test_an_odd_appointment_number_on_the_audit_page_is_not_a_500(app, make, db_session):
    make.counselor(name="Ada", email="ada@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    db_session.commit()
    client = app.test_client()
    sign_in(client, "ada@linja.test")
    assert client.get("/staff/admin/audit?appointment=99999999999999999999").status_code in (200, 400)
