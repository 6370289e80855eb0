"""What `make run` loads the first time: staff who can sign in, and bookable calendars."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from hotline import studio
from scheduling import demo
from scheduling.availability import find_free_slots
from scheduling.models import Language, Service, Staff, StaffRole


def test_demo_data_loads_once_and_prints_the_passwords(runner, db_session):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    assert "kari@linja.example" in result.output and demo.DEMO_PASSWORD in result.output
    # The demo admin's studio PIN, printed once, opens the studio (in the phone simulator).
    [pin] = re.findall(r"studio PIN of Kari Nilsen: (\d{8})", result.output)
    admin = db_session.scalars(select(Staff).where(Staff.role == StaffRole.admin)).one()
    assert admin.studio_pin_hash == studio.pin_hash(runner.app.config["SECRET_KEY"], pin)
    again = runner.invoke(args=["demo-data"])
    assert "already loaded" in again.output
    roles = db_session.scalars(select(Staff.role)).all()
    assert roles.count(StaffRole.counselor) == 5
    assert StaffRole.receptionist in roles and StaffRole.admin in roles
    assert db_session.scalar(select(func.count()).select_from(Staff)) == len(demo.STAFF)


def test_every_language_can_book_every_service_in_the_demo(runner, db_session, now, rules):
    runner.invoke(args=["demo-data"])
    languages = db_session.scalars(select(Language.code)).all()
    assert sorted(languages) == sorted(["nb", "en", "ar", "so", "ur", "ti", "fa", "pl"])
    for service in db_session.scalars(select(Service)):
        assert {n.language_code for n in service.names} == set(languages)
        for code in languages:
            assert len(find_free_slots(db_session, service_id=service.id, language_code=code, now=now, rules=rules)) == 5


def test_demo_staff_can_sign_in(runner, client):
    from tests.staff.support import csrf_token, tokens

    runner.invoke(args=["demo-data"])
    page = client.get("/staff/login").get_data(as_text=True)
    response = client.post("/staff/login", data={
        "email": "ingrid@linja.example", "password": demo.DEMO_PASSWORD, **tokens(page)})
    assert response.headers["Location"] == "/staff/"


def test_demo_callers_have_appointments_for_the_staff_pages_to_show(runner, db_session, now):
    from hotline.simulator import DEMO_NUMBERS
    from scheduling.models import Appointment, CallbackRequest, Client

    runner.invoke(args=["demo-data"])
    booked = db_session.execute(
        select(Client.phone_e164, Appointment.language_code, Appointment.booked_via, Appointment.start_at)
        .join(Appointment, Appointment.client_id == Client.id)
    ).all()
    assert sorted((phone, lang, via) for phone, lang, via, _ in booked) == sorted(
        (phone, lang, via) for phone, lang, _, via in demo.CALLERS)
    assert all(start > now for *_, start in booked)
    assert not {phone for phone, *_ in booked} & set(DEMO_NUMBERS)
    assert db_session.scalar(select(func.count()).select_from(CallbackRequest)) == 1
