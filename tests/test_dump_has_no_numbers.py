"""The issue's acceptance check: a copy of the database taken after a day of demo traffic
holds no caller's or staff member's phone number in clear text, in any common form."""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from datetime import timedelta

import phonenumbers
from sqlalchemy import MetaData, make_url, select

from hotline.phone import SimulatedPhone, WsgiTransport, call
from scheduling import demo
from scheduling.clients import find_client
from scheduling.db import make_engine
from scheduling.models import Appointment, AuditEntry, CallbackRequest, Voicemail
from tests.conftest import fresh, oslo
from tests.hotline.test_sms_flows import book
from tests.hotline.twilio_client import Phone
from tests.staff.support import post_form, sign_in
from web.worker import make_worker

BOOKER, ASKS_FOR_CALL, CALLS, RECEPTIONIST_PHONE = "+4791234567", "+4792345678", "+4793456789", "+4798765432"
DEMO_NUMBERS = [number for number, *_ in demo.CALLERS] + [demo.CALLBACK_CALLER[0], demo.DESK_PHONE]


def forms(e164: str) -> set[str]:
    """The ways a number is commonly written: +4791234567, 4791234567, 004791234567,
    91234567, +47 912 34 567, 912 34 567."""
    parsed = phonenumbers.parse(e164)
    national = str(parsed.national_number)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return {e164, e164[1:], "00" + e164[1:], national, international,
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)}


def leaks(text: str, numbers: list[str]) -> dict[str, str]:
    """Each form of these numbers found in ``text``, with what surrounds it. A form counts
    only standing apart from other digits: SQLite's dump writes a REAL such as 19.0 as
    1.9000000000000000000e+01, which holds 90000000 without holding anyone's number."""
    found = {}
    for number in numbers:
        for form in forms(number):
            match = re.search(rf"(?<!\d){re.escape(form)}(?!\d)", text)
            if match:
                found[form] = text[max(match.start() - 80, 0):match.end() + 80]
    return found


def dump(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database)
        try:
            return "\n".join(connection.iterdump())
        finally:
            connection.close()
    if shutil.which("pg_dump"):
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        done = subprocess.run(["pg_dump", "--no-owner", plain], capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            return done.stdout
    # No usable pg_dump: every row of every table, as the database returns it (reflected
    # tables, so nothing is decrypted on the way).
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            metadata = MetaData()
            metadata.reflect(connection)
            return "\n".join(repr(tuple(row)) for table in metadata.sorted_tables
                             for row in connection.execute(select(table)))
    finally:
        engine.dispose()


def a_day_of_traffic(app, clock, db_session) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    web = app.test_client()
    clock.set(oslo(2026, 11, 23, 10, 0))  # Monday, the centre is open

    # She books by text, in Somali.
    assert book(Phone(web, app, BOOKER), "so")
    # Another asks to be called back, in English.
    asks = Phone(web, app, ASKS_FOR_CALL)
    asks.text("hei")
    asks.text("2")
    asks.text("3")
    # A third calls, asks for someone, nobody answers: she leaves a message.
    line = call(SimulatedPhone(WsgiTransport(app), CALLS, app.config["PUBLIC_BASE_URL"],
                               app.config["TWILIO_AUTH_TOKEN"]))
    line.press("2")
    line.press("3")  # someone to talk to: no one is on duty
    line.press("2")  # a message
    line.leave_message(seconds=20)
    # A demo caller checks her appointment.
    Phone(web, app, demo.CALLERS[0][0]).text("hei")

    # The receptionist adds her phone, finds a caller by number and looks at her appointment.
    desk = app.test_client()
    sign_in(desk, "ingrid@linja.example", demo.DEMO_PASSWORD)
    post_form(desk, "/staff/settings", {"ui_locale": "nb", "phone": "98 76 54 32"})
    found = post_form(desk, "/staff/search", {"phone": BOOKER})
    assert found.status_code == 303 and desk.get(found.headers["Location"]).status_code == 200
    booked = find_client(fresh(db_session), BOOKER)
    [appointment] = db_session.scalars(select(Appointment).where(Appointment.client_id == booked.id)).all()
    assert desk.get(f"/staff/appointments/{appointment.id}").status_code == 200

    # The worker sends the confirmations and, through the day and the next, the reminders.
    worker = make_worker(app)
    for hour in range(0, 48, 2):
        clock.set(oslo(2026, 11, 23, 10, 0) + timedelta(hours=hour))
        worker.tick()

    fresh(db_session)
    assert db_session.scalars(select(CallbackRequest)).all() and db_session.scalars(select(Voicemail)).all()


def test_a_dump_after_a_day_of_demo_traffic_holds_no_phone_number(twilio_app, fake_twilio, clock, db_session,
                                                                    database_url):
    a_day_of_traffic(twilio_app, clock, db_session)
    # The numbers were there to be leaked: reminders went to them, the desk saw them.
    texted = {message.to for message in fake_twilio.messages}
    assert len(texted & set(DEMO_NUMBERS)) >= 3
    from scheduling.models import Staff

    [ingrid] = db_session.scalars(select(Staff).where(Staff.email == "ingrid@linja.example")).all()
    assert ingrid.phone_e164 == RECEPTIONIST_PHONE

    text = dump(database_url)
    assert "ingrid@linja.example" in text  # the dump holds the day's data, numbers aside
    assert not leaks(text, [BOOKER, ASKS_FOR_CALL, CALLS, RECEPTIONIST_PHONE, *DEMO_NUMBERS])


def test_no_audit_entry_of_a_day_of_traffic_holds_a_phone_number(twilio_app, fake_twilio, clock, db_session):
    a_day_of_traffic(twilio_app, clock, db_session)
    entries = fresh(db_session).scalars(select(AuditEntry)).all()
    assert len(entries) > 1
    details = "\n".join(json.dumps(entry.details, ensure_ascii=False) for entry in entries)
    assert not leaks(details, [BOOKER, ASKS_FOR_CALL, CALLS, RECEPTIONIST_PHONE, *DEMO_NUMBERS])
