"""The recorder: an interpreter who records the phone line's prompts in her languages. An
admin makes her one and gives her a studio PIN, shown once; signed in to the staff web she
lands on the recordings and sees nothing of callers, appointments or the desk."""
from __future__ import annotations

import logging
import re
from html import unescape

import pytest
from flask import url_for
from sqlalchemy import select

from hotline.studio import pin_hash
from scheduling import audit
from scheduling.models import Actor, AuditEntry, Staff, StaffRole, WorkingHours
from tests.conftest import NOW, fresh
from tests.staff.support import PASSWORD, PASSWORD_HASH, csrf_token, post_form, sign_in, tokens

ADMIN = "kari@linja.test"
RECORDER = "tigist@linja.test"


@pytest.fixture
def people(make, db_session):
    service = make.service(names={"nb": "Samtale", "en": "Talk"})
    kari = make.counselor(name="Kari", email=ADMIN, role=StaffRole.admin, password_hash=PASSWORD_HASH)
    tigist = make.counselor(name="Tigist", email=RECORDER, role=StaffRole.recorder, languages=["ti"],
                            password_hash=PASSWORD_HASH)
    amina = make.counselor(name="Amina", email="amina@linja.test", services=[service], password_hash=PASSWORD_HASH)
    db_session.commit()
    return {"kari": kari, "tigist": tigist, "amina": amina, "service": service}


def signed_in(app, email):
    browser = app.test_client()
    assert sign_in(browser, email).status_code == 302
    return browser


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def shown_pin(html: str) -> str | None:
    match = re.search(r'<p class="pin"><strong>(\d+)</strong></p>', html)
    return match.group(1) if match else None


def entries(db_session, action):
    return fresh(db_session).scalars(select(AuditEntry).where(AuditEntry.action == action)
                                     .order_by(AuditEntry.id)).all()


def staff_form(staff: Staff, **changes) -> dict:
    data = {"name": staff.name, "email": staff.email, "role": staff.role.value, "phone": "",
            "is_active": "y", "languages": [lang.code for lang in staff.languages],
            "services": [str(s.id) for s in staff.services]}
    return {**data, **changes}


# --- the role ------------------------------------------------------------------------------


def test_an_admin_adds_a_recorder_with_her_languages_and_no_services(app, people, db_session):
    kari = signed_in(app, ADMIN)
    form = kari.get("/staff/admin/staff/new").get_data(as_text=True)
    assert 'value="recorder"' in form and "Opptaker (tolk)" in form

    # A recorder without a language could record nothing; one with a service would never be booked.
    data = {"name": "Selam", "email": "selam@linja.test", "role": "recorder", "password": PASSWORD,
            "is_active": "y"}
    refused = post_form(kari, "/staff/admin/staff/new", {**data, "services": [str(people["service"].id)]})
    assert refused.status_code == 400
    said = text_of(refused.get_data(as_text=True))
    assert "Velg språkene hun spiller inn på telefonlinja." in said
    assert "En opptaker tilbyr ingen tjenester." in said
    assert fresh(db_session).scalars(select(Staff).where(Staff.email == "selam@linja.test")).first() is None

    added = post_form(kari, "/staff/admin/staff/new", {**data, "languages": ["ti", "nb"]})
    assert added.status_code == 302
    selam = fresh(db_session).scalars(select(Staff).where(Staff.email == "selam@linja.test")).one()
    assert selam.role == StaffRole.recorder and sorted(lang.code for lang in selam.languages) == ["nb", "ti"]
    assert selam.services == [] and selam.studio_pin_hash is None
    # Her page next, where her PIN is given; not working hours she does not have.
    assert added.headers["Location"].endswith(f"/staff/admin/staff/{selam.id}")
    page = kari.get(added.headers["Location"]).get_data(as_text=True)
    assert "Gi henne en studio-PIN" in page and "Ny studio-PIN" in page
    assert f"/staff/admin/staff/{selam.id}/calendar" not in page
    assert fresh(db_session).scalars(select(WorkingHours).where(WorkingHours.staff_id == selam.id)).all() == []
    [entry] = entries(db_session, "staff_added")
    assert entry.details["role"] == "recorder"

    listing = text_of(kari.get("/staff/admin/staff").get_data(as_text=True))
    assert "Selam" in listing and "Opptaker (tolk)" in listing


def test_a_counselor_becomes_a_recorder_once_her_services_are_gone(app, people, db_session):
    kari, amina = signed_in(app, ADMIN), people["amina"]
    path = f"/staff/admin/staff/{amina.id}"
    assert post_form(kari, path, staff_form(amina, role="recorder")).status_code == 400
    assert fresh(db_session).get(Staff, amina.id).role == StaffRole.counselor
    assert post_form(kari, path, staff_form(amina, role="recorder", services=[])).status_code == 302
    assert fresh(db_session).get(Staff, amina.id).role == StaffRole.recorder
    # No longer offered to callers or the desk: only counselors are booked.
    assert "Ny studio-PIN" in kari.get(path).get_data(as_text=True)


def test_the_english_page_names_the_role(app, people, db_session):
    kari = signed_in(app, ADMIN)
    assert post_form(kari, "/staff/settings", {"ui_locale": "en", "phone": ""}).status_code == 302
    page = kari.get(f"/staff/admin/staff/{people['tigist'].id}").get_data(as_text=True)
    assert "Recorder (interpreter)" in page and "New studio PIN" in page


# --- the studio PIN ------------------------------------------------------------------------


def test_the_pin_is_shown_once_works_and_a_second_replaces_the_first(app, people, db_session, caplog):
    kari, tigist = signed_in(app, ADMIN), people["tigist"]
    path = f"/staff/admin/staff/{tigist.id}"
    page = kari.get(path).get_data(as_text=True)
    assert "Hun har ingen PIN-kode ennå." in page and shown_pin(page) is None
    sent = tokens(page)

    caplog.set_level(logging.DEBUG)
    first = kari.post(f"{path}/studio-pin", data=sent)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    html = first.get_data(as_text=True)
    pin = shown_pin(html)
    assert pin and len(pin) == 8
    assert "ring studionummeret, tast PIN-koden og avslutt med firkant (#)" in text_of(html)
    secret = app.config["SECRET_KEY"]
    assert fresh(db_session).get(Staff, tigist.id).studio_pin_hash == pin_hash(secret, pin)

    # Shown once: sent again, the form does nothing; the page shows no PIN again.
    again = kari.post(f"{path}/studio-pin", data=sent)
    assert again.status_code == 409 and pin not in again.get_data(as_text=True)
    later = kari.get(path).get_data(as_text=True)
    assert pin not in later and "Hun har en PIN-kode" in later
    with kari.session_transaction() as cookie:
        assert pin not in repr(dict(cookie))

    second = post_form(kari, f"{path}/studio-pin", {}, page=path)
    other = shown_pin(second.get_data(as_text=True))
    assert other and other != pin
    kept = fresh(db_session).get(Staff, tigist.id).studio_pin_hash
    assert kept == pin_hash(secret, other) != pin_hash(secret, pin)

    # Only her id is in the trail, and neither PIN is in a log line.
    set_entries = entries(db_session, "studio_pin_set")
    assert [(e.actor_staff_id, e.details) for e in set_entries] == [(people["kari"].id, {"staff": tigist.id})] * 2
    assert not any(p in record.getMessage() for record in caplog.records for p in (pin, other))


def test_only_an_admin_or_recorder_gets_a_pin(app, people, db_session):
    kari, amina = signed_in(app, ADMIN), people["amina"]
    path = f"/staff/admin/staff/{amina.id}"
    assert "Ny studio-PIN" not in kari.get(path).get_data(as_text=True)
    refused = post_form(kari, f"{path}/studio-pin", {}, page=path)
    assert refused.status_code == 302
    assert fresh(db_session).get(Staff, amina.id).studio_pin_hash is None
    assert entries(db_session, "studio_pin_set") == []

    # An admin records every language: she may have one for herself.
    own = f"/staff/admin/staff/{people['kari'].id}"
    assert shown_pin(post_form(kari, f"{own}/studio-pin", {}, page=own).get_data(as_text=True))


def test_a_recorder_who_becomes_a_counselor_loses_her_pin(app, people, db_session):
    kari, tigist = signed_in(app, ADMIN), people["tigist"]
    path = f"/staff/admin/staff/{tigist.id}"
    assert shown_pin(post_form(kari, f"{path}/studio-pin", {}, page=path).get_data(as_text=True))
    assert post_form(kari, path, staff_form(tigist, role="counselor")).status_code == 302
    changed = fresh(db_session).get(Staff, tigist.id)
    assert changed.role == StaffRole.counselor and changed.studio_pin_hash is None


def test_a_recorder_made_inactive_loses_her_pin_and_gets_a_new_one_if_she_comes_back(app, people, db_session):
    kari, tigist = signed_in(app, ADMIN), people["tigist"]
    path = f"/staff/admin/staff/{tigist.id}"
    assert shown_pin(post_form(kari, f"{path}/studio-pin", {}, page=path).get_data(as_text=True))
    inactive = {key: value for key, value in staff_form(tigist).items() if key != "is_active"}
    assert post_form(kari, path, inactive).status_code == 302
    assert fresh(db_session).get(Staff, tigist.id).studio_pin_hash is None
    assert post_form(kari, path, staff_form(tigist)).status_code == 302  # back again: still no PIN
    assert fresh(db_session).get(Staff, tigist.id).studio_pin_hash is None


def test_a_recorder_cannot_give_herself_a_pin(app, people, db_session):
    tigist = signed_in(app, RECORDER)
    token = csrf_token(tigist.get("/staff/settings").get_data(as_text=True))
    response = tigist.post(f"/staff/admin/staff/{people['tigist'].id}/studio-pin", data={"csrf_token": token})
    assert response.status_code == 403
    assert fresh(db_session).get(Staff, people["tigist"].id).studio_pin_hash is None


# --- what a recorder sees --------------------------------------------------------------------


def test_a_recorder_lands_on_the_recordings_and_nothing_of_the_desk(app, people):
    browser = app.test_client()
    signed = sign_in(browser, RECORDER)
    assert signed.status_code == 302
    home = browser.get(signed.headers["Location"])
    assert home.status_code == 302
    with app.test_request_context():
        assert home.headers["Location"] == url_for("staff.admin_recordings")

    for path in ("/staff/board", "/staff/search", "/staff/callbacks", "/staff/messages", "/staff/book",
                 "/staff/day", "/staff/week", "/staff/calendar", "/staff/admin/", "/staff/admin/staff",
                 "/staff/admin/audit", "/staff/admin/duty"):
        response = browser.get(path)
        assert response.status_code == 403, path
        assert "Du er logget inn som opptaker" in text_of(response.get_data(as_text=True)), path

    # Her menu holds nothing she may not open.
    settings = browser.get("/staff/settings").get_data(as_text=True)
    for path in ("/staff/board", "/staff/day", "/staff/admin/\"", "/staff/callbacks", "/staff/messages"):
        assert f'href="{path}' not in settings, path


# --- the audit page -------------------------------------------------------------------------


def test_the_audit_page_tells_the_studio_in_words(app, people, db_session):
    kari, tigist = people["kari"], people["tigist"]
    session = fresh(db_session)
    for action, actor, details in [
        ("studio_pin_set", kari.id, {"staff": tigist.id}),
        ("studio_opened", tigist.id, {"call": "CA" + "1" * 32}),
        ("studio_session", tigist.id, {"call": "CA" + "1" * 32, "language": "ti"}),
        ("recording_approved", kari.id, {"recording": 1, "prompt_key": "v_main_menu", "language": "ti",
                                         "recorded_by": tigist.id}),
        ("recording_rejected", kari.id, {"prompt_key": "v_main_menu", "language": "ti",
                                         "recorded_by": tigist.id}),
    ]:
        audit.record(session, at=NOW, actor=Actor.staff, actor_staff_id=actor, action=action, details=details)
    session.commit()

    browser = signed_in(app, ADMIN)
    said = text_of(browser.get("/staff/admin/audit").get_data(as_text=True))
    for words in ("Ga en ansatt ny studio-PIN", "Ringte inn til studiolinja", "Spilte inn på studiolinja",
                  "Godkjente et lydopptak fra studiolinja", "Forkastet et lydopptak fra studiolinja",
                  "spilt inn av Tigist", "tigrinja"):
        assert words in said, words
    assert "Annen hendelse" not in said and "CA111" not in said

    assert post_form(browser, "/staff/settings", {"ui_locale": "en", "phone": ""}).status_code == 302
    said = text_of(browser.get("/staff/admin/audit").get_data(as_text=True))
    for words in ("Gave a staff member a new studio PIN", "Called the studio line", "Recorded on the studio line",
                  "Approved a recording from the studio line", "Rejected a recording from the studio line",
                  "recorded by Tigist", "Tigrinya"):
        assert words in said, words
