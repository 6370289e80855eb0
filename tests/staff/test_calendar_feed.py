"""A counselor's personal calendar feed: a secret address her calendar app reads without
signing in, shown once, replaceable and revocable, and discreet about the callers."""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from scheduling.models import AppointmentStatus, AuditEntry, Staff, StaffRole
from tests.conftest import fresh, oslo
from tests.staff.support import PASSWORD_HASH, sign_in, tokens

PHONE = "+4791234567"
FEED = re.compile(r'value="https://linja\.test(/staff/calendar/([A-Za-z0-9_-]+)\.ics)"')


@pytest.fixture
def team(make, db_session):
    talk = make.service(names={"nb": "Samtale om vold i nære relasjoner", "en": "Talk"})
    amina = make.counselor(name="Amina Farah", email="amina@linja.test", languages=["nb", "so"],
                           services=[talk], password_hash=PASSWORD_HASH)
    leila = make.counselor(name="Leila", email="leila@linja.test", services=[talk], password_hash=PASSWORD_HASH)
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    caller = make.client(phone_e164=PHONE, language_code="so")
    appointments = {
        "somali": make.appointment(amina, talk, oslo(2026, 11, 24, 10, 0), client_id=caller.id, language_code="so",
                                   is_interpreter_needed=True),
        "cancelled": make.appointment(amina, talk, oslo(2026, 11, 25, 10, 0)),
        "last_month": make.appointment(amina, talk, oslo(2026, 11, 2, 10, 0), status=AppointmentStatus.attended),
        "long_ago": make.appointment(amina, talk, oslo(2026, 9, 1, 10, 0), status=AppointmentStatus.attended),
        "leila": make.appointment(leila, talk, oslo(2026, 11, 24, 12, 0)),
    }
    db_session.flush()
    appointments["cancelled"].status = AppointmentStatus.cancelled  # its second version
    db_session.commit()
    return {"amina": amina, "leila": leila, **appointments}


def create_feed(client) -> tuple[str, str]:
    """Create (or replace) her feed on the calendar page: (path, token)."""
    page = client.get("/staff/calendar").get_data(as_text=True)
    response = client.post("/staff/calendar/new", data={**tokens(page)})
    assert response.status_code == 200
    match = FEED.search(response.get_data(as_text=True))
    assert match, "the new link is shown"
    return match.group(1), match.group(2)


def events(body: bytes) -> dict[str, object]:
    calendar = Calendar.from_ical(body)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_she_creates_a_link_sees_it_once_and_linja_keeps_only_its_hash(client, team, db_session):
    sign_in(client, "amina@linja.test")
    assert "Du har ingen kalenderlenke." in client.get("/staff/calendar").get_data(as_text=True)
    page = client.get("/staff/calendar").get_data(as_text=True)
    response = client.post("/staff/calendar/new", data={**tokens(page)})
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    path, token = FEED.search(html).groups()
    assert len(token) >= 43
    assert f'href="webcal://linja.test{path}"' in html

    stored = fresh(db_session).get(Staff, team["amina"].id).calendar_token_hash
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    again = client.get("/staff/calendar").get_data(as_text=True)
    assert token not in again and "Du har en kalenderlenke som virker." in again
    audit = db_session.scalars(select(AuditEntry.action).where(AuditEntry.actor_staff_id == team["amina"].id)).all()
    assert audit == ["calendar_feed_created"]


def test_the_feed_names_her_callers_language_in_her_own_page_language(app, client, team, db_session):
    fresh(db_session).get(Staff, team["amina"].id).ui_locale = "en"
    db_session.commit()
    sign_in(client, "amina@linja.test")
    path, _token = create_feed(client)
    found = events(app.test_client().get(path).get_data())
    assert str(found[f"appointment-{team['somali'].id}@linja"]["SUMMARY"]) == "Linja: appointment (Somali, interpreter)"


def test_the_feed_needs_no_sign_in_and_shows_her_appointments_discreetly(app, client, team):
    sign_in(client, "amina@linja.test")
    path, _token = create_feed(client)

    calendar_app = app.test_client()  # no cookies: a phone's calendar app
    response = calendar_app.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Set-Cookie" not in response.headers
    body = response.get_data()
    text = body.decode()
    assert PHONE not in text and PHONE[3:] not in text
    assert "Amina" not in text and "vold" not in text and "Samtale" not in text

    found = events(body)
    somali = found[f"appointment-{team['somali'].id}@linja"]
    assert str(somali["SUMMARY"]) == "Linja: avtale (somali, tolk)"  # her language by name, not its code
    assert somali.decoded("DTSTART") == oslo(2026, 11, 24, 10, 0)
    assert "DTSTART:20261124T090000Z" in text and "DTEND:20261124T100000Z" in text
    assert "DTSTAMP:" in text and int(somali["SEQUENCE"]) == 1
    assert str(somali["STATUS"]) == "CONFIRMED" and str(somali["CLASS"]) == "PRIVATE"
    assert str(somali["URL"]) == f"https://linja.test/staff/day?day=2026-11-24#appointment-{team['somali'].id}"

    cancelled = found[f"appointment-{team['cancelled'].id}@linja"]
    assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) == 2
    assert str(cancelled["SUMMARY"]).startswith("Avlyst:")

    assert f"appointment-{team['last_month'].id}@linja" in found  # 21 days ago
    assert f"appointment-{team['long_ago'].id}@linja" not in found  # older than 30 days
    assert f"appointment-{team['leila'].id}@linja" not in found


def test_an_unchanged_feed_is_not_sent_again(app, client, team):
    sign_in(client, "amina@linja.test")
    path, _token = create_feed(client)
    first = app.test_client().get(path)
    assert first.headers.get("ETag")
    again = app.test_client().get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_replaced_or_revoked_link_stops_working(app, client, team, db_session):
    sign_in(client, "amina@linja.test")
    old_path, _ = create_feed(client)
    new_path, _ = create_feed(client)
    assert new_path != old_path
    calendar_app = app.test_client()
    assert calendar_app.get(old_path).status_code == 404
    assert calendar_app.get(new_path).status_code == 200

    page = client.get("/staff/calendar").get_data(as_text=True)
    response = client.post("/staff/calendar/revoke", data={**tokens(page)})
    assert response.headers["Location"] == "/staff/calendar"
    assert "Kalenderlenken er slått av." in client.get("/staff/calendar").get_data(as_text=True)
    assert calendar_app.get(new_path).status_code == 404
    assert fresh(db_session).get(Staff, team["amina"].id).calendar_token_hash is None
    audit = db_session.scalars(select(AuditEntry.action).where(AuditEntry.actor_staff_id == team["amina"].id)
                               .order_by(AuditEntry.id)).all()
    assert audit == ["calendar_feed_created", "calendar_feed_replaced", "calendar_feed_revoked"]


def test_unknown_tokens_and_inactive_staff_get_404(app, client, team, db_session):
    calendar_app = app.test_client()
    assert calendar_app.get("/staff/calendar/not-a-real-token.ics").status_code == 404
    assert calendar_app.get("/staff/calendar/.ics").status_code == 404
    sign_in(client, "amina@linja.test")
    path, _ = create_feed(client)
    amina = db_session.get(Staff, team["amina"].id)
    amina.is_active = False
    db_session.commit()
    assert calendar_app.get(path).status_code == 404


def test_the_feed_works_in_an_idle_browser_and_does_not_count_as_her_activity(app, client, team, clock):
    sign_in(client, "amina@linja.test")
    path, _ = create_feed(client)
    clock.advance(timedelta(hours=2))  # idle far longer than STAFF_IDLE_MINUTES
    response = client.get(path)  # she opens the link in the same browser
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/calendar")
    # Reading the feed neither signed her out nor kept her signed in.
    assert client.get("/staff/day").headers["Location"].startswith("/staff/login")


def test_the_feed_link_page_is_for_counselors_and_its_forms_need_csrf(client, team):
    assert client.get("/staff/calendar").status_code == 302
    sign_in(client, "ingrid@linja.test")
    assert client.get("/staff/calendar").status_code == 403
    client.post("/staff/logout", data={**tokens(client.get("/staff/settings").get_data(as_text=True))})
    sign_in(client, "amina@linja.test")
    assert client.post("/staff/calendar/new").status_code == 400
    assert client.post("/staff/calendar/revoke").status_code == 400


def test_the_request_log_never_holds_the_secret(app, client, team, caplog):
    sign_in(client, "amina@linja.test")
    path, token = create_feed(client)
    caplog.clear()  # only the feed's own requests, whatever another test left the log level at
    with caplog.at_level(logging.INFO, logger="linja.request"):
        assert app.test_client().get(path).status_code == 200
        assert app.test_client().get("/staff/calendar/guessed-token.ics").status_code == 404
    logged = [record.msg for record in caplog.records if record.name == "linja.request"]
    assert [entry["path"] for entry in logged] == ["/staff/calendar/(secret).ics"] * 2
    assert token not in caplog.text and "guessed-token" not in caplog.text

