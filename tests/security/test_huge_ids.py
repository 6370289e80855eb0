"""An id larger than any row can have in a page's address is simply not found
(PostgreSQL would refuse it as out of range: a 500). Query strings: tests/staff/test_odd_ids.py."""
from __future__ import annotations

import pytest

from scheduling.models import StaffRole
from tests.staff.support import PASSWORD_HASH, sign_in, tokens

HUGE = "99999999999999999999"


@pytest.fixture
def receptionist(app, make, db_session):
    make.counselor(role=StaffRole.receptionist, email="ingrid@linja.test", password_hash=PASSWORD_HASH)
    db_session.commit()
    browser = app.test_client()
    sign_in(browser, "ingrid@linja.test")
    return browser


@pytest.mark.parametrize("path", [f"/staff/appointments/{HUGE}", f"/staff/voicemails/{HUGE}/audio"])
def test_a_huge_id_in_a_page_address_is_not_found(receptionist, path):
    assert receptionist.get(path).status_code == 404


@pytest.mark.parametrize("path", [f"/staff/callbacks/{HUGE}/done", f"/staff/voicemails/{HUGE}/done"])
def test_a_huge_id_in_a_form_address_is_not_found(receptionist, path):
    # The tokens a browser sends with a form (any page's will do: the id is what is unknown).
    assert receptionist.post(path, data=tokens(receptionist.get("/staff/settings").get_data(as_text=True))
                             ).status_code == 404
