"""Only Twilio may talk to /hotline: unsigned or wrongly signed requests change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scheduling.models import Client, InboundMessage
from tests.conftest import fresh
from tests.hotline.twilio_client import Phone, sign


@pytest.fixture
def phone(app, client):
    return Phone(client, app, "+4791234567")


def count(db_session, model) -> int:
    fresh(db_session)
    return db_session.scalar(select(func.count()).select_from(model))


def test_a_request_without_signature_is_refused_and_changes_nothing(phone, db_session):
    response = phone.post("/hotline/sms", phone.sms_params("hei"), signed=False)
    assert response.status_code == 403
    assert count(db_session, Client) == 0 and count(db_session, InboundMessage) == 0


def test_a_wrong_signature_is_refused(phone, client, app, db_session):
    params = phone.sms_params("hei")
    for signature in ["", "bm90IGEgc2lnbmF0dXJl", sign("another-token", "https://linja.test/hotline/sms", params),
                      sign(app.config["TWILIO_AUTH_TOKEN"], "http://linja.test/hotline/sms", params)]:
        response = client.post("/hotline/sms", data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 403
    assert count(db_session, Client) == 0


def test_a_signature_over_other_parameters_is_refused(phone, client, app, db_session):
    params = phone.sms_params("hei")
    signature = sign(app.config["TWILIO_AUTH_TOKEN"], "https://linja.test/hotline/sms", params)
    response = client.post("/hotline/sms", data={**params, "Body": "SLETT"}, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_a_signed_url_with_an_escaped_quote_in_its_query_is_accepted(phone):
    # Flask's request.url would turn %27 into ' and the signature would not match.
    response = phone.post("/hotline/sms", phone.sms_params("hei"), query="note=it%27s%20here&x=%C3%A6")
    assert response.status_code == 200


def test_a_get_is_not_allowed(client):
    assert client.get("/hotline/sms").status_code == 405


def test_a_request_signed_for_the_host_it_was_sent_to_is_accepted(client, app):
    phone = Phone(client, app, "+4791234567")
    params = phone.sms_params("hei")
    signature = sign(app.config["TWILIO_AUTH_TOKEN"], "http://localhost/hotline/sms", params)
    response = client.post("/hotline/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


def test_in_production_only_the_public_url_counts(database_url, clock, sessions):
    from app import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": clock, "IS_PRODUCTION": True,
                      "PUBLIC_BASE_URL": "https://linja.test", "TWILIO_AUTH_TOKEN": "prod-token"})
    client = app.test_client()
    phone = Phone(client, app, "+4791234567")
    params = phone.sms_params("hei")
    for_this_host = sign("prod-token", "http://localhost/hotline/sms", params)
    assert client.post("/hotline/sms", data=params, headers={"X-Twilio-Signature": for_this_host}).status_code == 403
    assert phone.post("/hotline/sms", params).status_code == 200
    app.extensions["linja.engine"].dispose()
