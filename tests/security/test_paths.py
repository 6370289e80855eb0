"""A control character in a URL path (NUL above all) is "not found", never a server error,
whoever asks and wherever it points."""
from __future__ import annotations

import pytest

from scheduling.models import StaffRole
from staff.passwords import hash_password
from tests.staff.support import PASSWORD, sign_in

PATHS = [
    "/hotline/recordings/abc%00def", "/hotline/recordings/%00", "/hotline/recordings/x%1b", "/hotline/recordings/%7f",
    "/staff/admin/recordings/%00", "/staff/admin/recordings/nb%00/upload", "/staff/admin/recordings/so%0a",
    "/staff/search%00", "/staff/%00", "/static/staff%00.css", "/healthz%00", "/simulator/%00", "/%00", "/%c2%85",
]


@pytest.fixture
def admin(make, db_session):
    make.counselor(role=StaffRole.admin, email="kari@linja.test", password_hash=hash_password(PASSWORD))
    db_session.commit()


@pytest.mark.parametrize("signed_in", [False, True], ids=["anyone", "admin"])
def test_a_control_character_in_a_path_is_not_found(app, admin, signed_in):
    browser = app.test_client()
    if signed_in:
        assert sign_in(browser, "kari@linja.test").status_code == 302
    for path in PATHS:
        for method in ("GET", "POST"):
            response = browser.open(path, method=method)
            assert response.status_code == 404, (method, path, response.status_code)


def test_an_ordinary_path_is_still_found(app, admin):
    browser = app.test_client()
    sign_in(browser, "kari@linja.test")
    assert browser.get("/staff/admin/recordings").status_code == 200
