"""Recordings of an older wording: when a prompt's words change (the voice menu was
renumbered), a recording of the old words says the wrong digits. It is never played, the
admin sees it as missing and marked out of date, and a new upload makes it current."""
from __future__ import annotations

import html as html_escaping
import io
import re
import xml.etree.ElementTree as ET

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select

from hotline import prompts, voices
from hotline.phone import SimulatedPhone, call
from scheduling.models import BookedVia, CallbackRequest, PromptRecording, Service, StaffRole
from tests.conftest import NOW, fresh
from tests.hotline.test_voice import CheckedTransport, spoken
from tests.staff.support import PASSWORD_HASH, sign_in, tokens
from web.cli import alembic_config

ADMIN = "hanne@linja.test"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64
STALE = "Mangler: utdatert – spilt inn for en eldre tekst"
# The prompts the renumbering changed; every other prompt kept its words.
RENUMBERED = {"v_main_menu", "v_no_slots", "v_your_time", "v_closed", "v_reminder_call", "v_not_available"}


def versions_before() -> dict[str, str]:
    """What migration 0014 gives the recordings made before the renumbering."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_revision("0014").module.VERSIONS_BEFORE


@pytest.fixture
def signed_in(client, make, db_session):
    make.counselor(name="Hanne", email=ADMIN, role=StaffRole.admin, password_hash=PASSWORD_HASH)
    db_session.commit()
    assert sign_in(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def transport(app):
    return CheckedTransport(app)


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def upload(client, language, key, content=MP3):
    path = f"/staff/admin/recordings/{language}/upload"
    form = page(client, f"{path}?key={key}")
    return client.post(path, data={**tokens(form), "prompt_key": key,
                                   "audio": (io.BytesIO(content), "opptak.mp3", "audio/mpeg")},
                       content_type="multipart/form-data")


def recording(db_session, key, language, token, version):
    db_session.add(PromptRecording(prompt_key=key, language_code=language, token=token,
                                   content_type="audio/mpeg", audio=MP3, uploaded_at=NOW, text_version=version))


def somali_pieces(db_session) -> list[str]:
    slugs = fresh(db_session).scalars(select(Service.slug).where(Service.is_active.is_(True))
                                      .order_by(Service.menu_order, Service.id)).all()
    return voices.pieces_to_record("so", slugs)


def somali_recorded_before_the_renumbering(db_session) -> list[str]:
    """Every Somali piece recorded, as migrated: the main menu for its old words, the rest current."""
    keys = somali_pieces(db_session)
    for index, key in enumerate(keys):
        version = versions_before()["v_main_menu"] if key == "v_main_menu" else voices.text_version(key)
        recording(db_session, key, "so", f"so-{index:04d}", version)
    db_session.commit()
    return keys


def phone(app, transport, number="+4791234567"):
    return SimulatedPhone(transport, number, app.config["PUBLIC_BASE_URL"], app.config["TWILIO_AUTH_TOKEN"])


def played(twiml: str) -> list[str]:
    """The URLs of every <Play> in the TwiML the voice webhook answered."""
    return [element.text for element in ET.fromstring(twiml).iter("Play")]


def said(twiml: str) -> list[str]:
    return [element.text for element in ET.fromstring(twiml).iter("Say")]


# --- which wording a recording is of ------------------------------------------------------------


def test_a_recording_is_tied_to_its_prompts_english_wording():
    assert voices.text_version("v_main_menu") == prompts.text_version("v_main_menu")
    assert re.fullmatch(r"[0-9a-f]{12}", prompts.text_version("v_main_menu"))
    # A piece is cut from the whole translated sentence: the whole prompt is its source.
    assert voices.text_version("v_closed#1") == prompts.text_version("v_closed")
    assert voices.text_version("v_slot_option#0") == prompts.text_version("v_slot_option")
    # Dates, digits and names are no prompt's words: nothing to go out of date.
    assert voices.text_version("weekday:0") is None and voices.text_version("digit:4") is None
    assert voices.is_current("service:samtale", None)
    before = versions_before()
    assert not voices.is_current("v_closed#1", before["v_closed"])
    assert voices.is_current("v_slot_option#0", before["v_slot_option"])
    assert not voices.is_current("v_main_menu", None)  # recorded for words no one knows


# --- the voice line -----------------------------------------------------------------------------


def test_a_caller_in_a_language_with_a_voice_hears_the_voice_not_the_old_recording_until_a_new_upload(
        app, transport, signed_in, db_session):
    old_version = versions_before()["v_main_menu"]
    recording(db_session, "v_main_menu", "en", "old-main-menu-en-" + "x" * 30, old_version)
    db_session.commit()

    line = call(phone(app, transport))
    line.press("2")  # English
    menu = transport.answers[-1]
    assert not any("old-main-menu-en" in url for url in played(menu))
    assert said(menu)[0] == spoken("v_main_menu", "en")  # the new numbering, in the voice
    line.hang_up()

    assert upload(signed_in, "en", "v_main_menu").status_code == 302
    row = fresh(db_session).scalars(select(PromptRecording)).one()
    assert row.text_version == prompts.text_version("v_main_menu") and not row.token.startswith("old-")

    line = call(phone(app, transport, "+4791234568"))
    line.press("2")
    assert played(transport.answers[-1]) == [f"/hotline/recordings/{row.token}"]


def test_a_somali_caller_is_not_played_the_old_main_menu_and_hears_it_once_recorded_again(
        app, transport, signed_in, db_session, centre):
    somali_recorded_before_the_renumbering(db_session)
    old = "/hotline/recordings/so-" + f"{somali_pieces(db_session).index('v_main_menu'):04d}"

    line = call(phone(app, transport))
    # "Soomaali" in the language menu: its pieces are of today's wording.
    assert any(url.startswith("/hotline/recordings/so-") for url in played(transport.answers[-1]))
    line.press("4")  # Somali: without its main menu, not offered yet; she hears its recorded notice
    answer = transport.answers[-1]
    notice = "/hotline/recordings/so-" + f"{somali_pieces(db_session).index('v_not_available'):04d}"
    assert played(answer) == [notice] and said(answer) == [] and old not in played(answer)
    assert line.ended
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    assert (request.language_code, request.requested_via) == ("so", BookedVia.voice)

    assert upload(signed_in, "so", "v_main_menu").status_code == 302
    new = fresh(db_session).scalars(select(PromptRecording).where(
        PromptRecording.prompt_key == "v_main_menu", PromptRecording.language_code == "so")).one()
    line = call(phone(app, transport, "+4791234568"))
    line.press("4")
    assert played(transport.answers[-1]) == [f"/hotline/recordings/{new.token}"]
    assert not line.ended


# --- the admin's recordings pages ------------------------------------------------------------


def test_an_old_recording_is_listed_as_missing_and_out_of_date_with_the_text_to_record_now(
        signed_in, db_session, centre):
    keys = somali_recorded_before_the_renumbering(db_session)
    old = "so-" + f"{keys.index('v_main_menu'):04d}"

    overview = page(signed_in, "/staff/admin/recordings")
    assert f"1 av {len(keys)}" in overview  # counted as missing, not "ingenting"
    assert "herav 1 utdatert, spilt inn for en eldre tekst" in overview

    listing = page(signed_in, "/staff/admin/recordings/so?missing=1")
    assert f"1 av {len(keys)} opptak mangler." in listing
    assert "1 opptak er utdatert – spilt inn for en eldre tekst." in listing
    [item] = re.findall(r'<li class="missing stale">.*?</li>', listing, re.S)
    assert STALE in item and "Last opp nytt" in item
    assert html_escaping.escape(voices.script("v_main_menu", "so"), quote=False) in item  # the words of now
    assert "For å høre, avbestille eller" in item  # the staff's Norwegian of the new wording, not the old
    assert f"/hotline/recordings/{old}" not in listing  # not offered as the recording it is

    form = page(signed_in, "/staff/admin/recordings/so/upload?key=v_main_menu")
    assert "Utdatert – spilt inn for en eldre tekst." in form and "Bytt ut opptaket" in form
    assert "Ikke spilt inn ennå." not in form and "Nåværende opptak" not in form


def test_a_new_upload_replaces_the_old_recording_and_is_current(signed_in, db_session, centre):
    keys = somali_recorded_before_the_renumbering(db_session)
    assert upload(signed_in, "so", "v_main_menu").status_code == 302
    rows = fresh(db_session).scalars(
        select(PromptRecording).where(PromptRecording.prompt_key == "v_main_menu")).all()
    assert [(r.language_code, r.text_version) for r in rows] == [("so", prompts.text_version("v_main_menu"))]

    assert "utdatert" not in page(signed_in, "/staff/admin/recordings/so")
    assert "Ingen opptak mangler." in page(signed_in, "/staff/admin/recordings/so?missing=1")
    overview = page(signed_in, "/staff/admin/recordings")
    assert f"1 av {len(keys)}" not in overview and "utdatert" not in overview
    form = page(signed_in, "/staff/admin/recordings/so/upload?key=v_main_menu")
    assert "Nåværende opptak" in form and "Utdatert" not in form


def test_an_english_speaking_admin_reads_that_it_is_out_of_date(signed_in, db_session, centre):
    from scheduling.models import Staff

    somali_recorded_before_the_renumbering(db_session)
    fresh(db_session).scalars(select(Staff).where(Staff.email == ADMIN)).one().ui_locale = "en"
    db_session.commit()
    listing = page(signed_in, "/staff/admin/recordings/so?missing=1")
    assert "Missing: out of date – recorded for an earlier text" in listing
    assert "1 recording is out of date – recorded for an earlier text." in listing


def test_prompts_missing_counts_an_old_recording_as_missing(runner, db_session, centre):
    somali_recorded_before_the_renumbering(db_session)
    lines = runner.invoke(args=["prompts", "missing"]).output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("so: "))
    assert lines[start].startswith("so: 1 recordings missing")
    missing = lines[start + 1]
    # Marked as needed before a call can go on in Somali.
    assert missing.startswith(" *v_main_menu ") and missing.endswith("(recorded for an older wording)")
    assert not lines[start + 2].startswith(" ")  # and nothing else in Somali
